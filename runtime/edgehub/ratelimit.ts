/** A token bucket: `qps` tokens a second, at most `burst` saved up. */
import type { Clock } from '../../core/clock.js';

export interface TokenBucket {
  take(): boolean;
  /** ms until a token is there */
  waitMs(): number;
}

export function createTokenBucket(qps: number, burst: number, clock: Clock): TokenBucket {
  let tokens = burst;
  let at = clock.now();
  const refill = (): void => {
    const now = clock.now();
    tokens = Math.min(burst, tokens + ((now - at) / 1000) * qps);
    at = now;
  };
  return {
    take() {
      refill();
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
    waitMs() {
      refill();
      return tokens >= 1 ? 0 : Math.ceil(((1 - tokens) / qps) * 1000);
    },
  };
}
