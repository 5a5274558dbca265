import { describe, expect, it } from 'vitest';
import { containerStep, restarts, type ContainerFacts, type RestartPolicy, type RestartState } from '../../../runtime/edged/container-step.js';

const backoff = { initialMs: 10_000, maxMs: 300_000, resetMs: 600_000 };
const NOW = Date.parse('2026-12-04T12:00:00Z');
const at = (msBefore: number): string => new Date(NOW - msBefore).toISOString();
const fresh: RestartState = { backoffMs: 0, nextStartAt: 0, lastAttempt: -1 };
type Current = NonNullable<ContainerFacts['current']>;
const ended = (over: Partial<Current> = {}): Current => ({ id: 'c1', hash: 'h', state: 'exited', exitCode: 1, attempt: 0, startedAt: at(5000), finishedAt: at(1000), ...over });
const facts = (current: Current | undefined, policy: RestartPolicy = 'Always'): ContainerFacts => ({ specHash: 'h', ...(current && { current }), policy, now: NOW, backoff });

describe("what a pod's sync does next with a container", () => {
  it.each<[string, ContainerFacts, RestartState, ReturnType<typeof containerStep>]>([
    ['never started: start attempt 0', facts(undefined), fresh, { step: { step: 'start', attempt: 0 }, state: fresh }],
    ['never started, in an image pull back-off: hold', facts(undefined), { ...fresh, nextStartAt: NOW + 1 }, { step: { step: 'hold' }, state: { ...fresh, nextStartAt: NOW + 1 } }],
    ['running with the same spec: keep it', facts(ended({ state: 'running', exitCode: undefined })), fresh, { step: { step: 'keep-running' }, state: fresh }],
    ['its spec changed: replace it with the next attempt, the back-off forgotten', { ...facts(ended({ state: 'running', attempt: 3 })), specHash: 'new' }, { ...fresh, backoffMs: 40_000, nextStartAt: NOW + 5, lastAttempt: 3 },
      { step: { step: 'replace', attempt: 4 }, state: { backoffMs: 0, nextStartAt: 0, lastAttempt: 3 } }],
    ['ended, first exit: restarted at once, and the next back-off is 10 s', facts(ended()), fresh,
      { step: { step: 'start', attempt: 1 }, state: { backoffMs: 10_000, nextStartAt: NOW, handledExit: 'c1', lastAttempt: -1 } }],
    ['ended again within the back-off: CrashLoopBackOff', facts(ended({ id: 'c2', attempt: 1 })), { backoffMs: 10_000, nextStartAt: NOW, handledExit: 'c1', lastAttempt: 1 },
      { step: { step: 'back-off', backoffMs: 10_000 }, state: { backoffMs: 10_000, nextStartAt: NOW + 10_000, handledExit: 'c2', lastAttempt: 1 } }],
    ['the back-off waited out: restarted, and the next one doubles', facts(ended({ id: 'c2', attempt: 1 })), { backoffMs: 10_000, nextStartAt: NOW - 1, handledExit: 'c2', lastAttempt: 1 },
      { step: { step: 'start', attempt: 2 }, state: { backoffMs: 20_000, nextStartAt: NOW - 1, handledExit: 'c2', lastAttempt: 1 } }],
    ['the back-off stops doubling at 5 min', facts(ended({ id: 'c9', attempt: 8 })), { backoffMs: 300_000, nextStartAt: NOW - 1, handledExit: 'c9', lastAttempt: 8 },
      { step: { step: 'start', attempt: 9 }, state: { backoffMs: 300_000, nextStartAt: NOW - 1, handledExit: 'c9', lastAttempt: 8 } }],
    ['a run of 10 min forgets the back-off: restarted at once', facts(ended({ id: 'c5', attempt: 4, startedAt: at(700_000) })), { backoffMs: 160_000, nextStartAt: 0, handledExit: 'c4', lastAttempt: 4 },
      { step: { step: 'start', attempt: 5 }, state: { backoffMs: 10_000, nextStartAt: NOW, handledExit: 'c5', lastAttempt: 4 } }],
    ['a restart is never numbered below one already started', facts(ended({ id: 'c3', attempt: 1 })), { ...fresh, lastAttempt: 6 },
      { step: { step: 'start', attempt: 7 }, state: { backoffMs: 10_000, nextStartAt: NOW, handledExit: 'c3', lastAttempt: 6 } }],
    ['OnFailure, exit 0: left ended', facts(ended({ exitCode: 0 }), 'OnFailure'), fresh, { step: { step: 'leave-ended' }, state: fresh }],
    ['Never: left ended, whatever its exit', facts(ended({ exitCode: 137 }), 'Never'), fresh, { step: { step: 'leave-ended' }, state: fresh }],
  ])('%s', (_, f, state, want) => {
    expect(containerStep(f, state)).toEqual(want);
  });

  it.each<[RestartPolicy, 'exited' | 'created', number | undefined, boolean]>([
    ['Always', 'exited', 0, true],
    ['Always', 'exited', 1, true],
    ['OnFailure', 'exited', 1, true],
    ['OnFailure', 'exited', 0, false],
    ['Never', 'exited', 1, false],
    ['Never', 'created', undefined, true], // made but never started: it has not run yet
  ])('restartPolicy %s, a container %s with exit %s, comes back: %s', (policy, state, exitCode, want) => {
    expect(restarts(policy, { state, ...(exitCode !== undefined && { exitCode }) })).toBe(want);
  });
});
