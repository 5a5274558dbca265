import { describe, expect, it } from 'vitest';
import { createBackoff } from '../../../core/backoff.js';
import { createTokenBucket } from '../../../runtime/edgehub/ratelimit.js';
import type { Clock } from '../../../core/clock.js';

function fakeClock(): Clock & { advance(ms: number): void } {
  let t = 0;
  return { now: () => t, setTimeout: () => 0 as never, setInterval: () => 0 as never, clear: () => undefined, advance: (ms) => (t += ms) };
}

describe('backoff and rate limit', () => {
  it('backs off exponentially with jitter up to a ceiling, and resets', () => {
    const lo = createBackoff(500, 8000, () => 0);
    expect([1, 2, 3, 4, 5, 6].map(() => lo.next())).toEqual([250, 500, 1000, 2000, 4000, 4000]);
    const hi = createBackoff(500, 8000, () => 1);
    expect([1, 2, 3, 4, 5, 6].map(() => hi.next())).toEqual([500, 1000, 2000, 4000, 8000, 8000]);
    hi.reset();
    expect(hi.next()).toBe(500);
  });

  it('allows a burst, then qps tokens a second', () => {
    const clock = fakeClock();
    const b = createTokenBucket(10, 3, clock);
    expect([b.take(), b.take(), b.take(), b.take()]).toEqual([true, true, true, false]);
    expect(b.waitMs()).toBe(100);
    clock.advance(100);
    expect(b.take()).toBe(true);
    expect(b.take()).toBe(false);
  });
});
