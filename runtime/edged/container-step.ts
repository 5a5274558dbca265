/**
 * What a pod's sync does next with one of its containers, and when an ended container starts again,
 * as kubelet decides it: a container whose spec changed is replaced (its back-off forgotten); a
 * running one is kept (and probed); an ended one comes back when restartPolicy says so (a container
 * that was only created always does), the first time at once, then after a back-off of `initialMs`
 * doubling to `maxMs` (CrashLoopBackOff), forgotten once a run lasted `resetMs`. The worker
 * (worker.ts) carries the step out.
 */
import type { RuntimeContainer } from '../../containers/runtime.js';

export interface BackoffConfig {
  initialMs: number;
  maxMs: number;
  resetMs: number;
}

/** What the worker remembers of a container between syncs, for restarts. */
export interface RestartState {
  backoffMs: number;
  /** not started again before this time (crash-loop or image pull back-off) */
  nextStartAt: number;
  /** the exited container whose exit was counted */
  handledExit?: string;
  /** the highest attempt started: a restart is never numbered lower (a runtime may briefly not list a container) */
  lastAttempt: number;
}

export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';

export type ContainerStep =
  /** the spec changed: stop the running one (if it runs) and start this attempt */
  | { step: 'replace'; attempt: number }
  | { step: 'keep-running' }
  /** ended, and restartPolicy leaves it so */
  | { step: 'leave-ended' }
  /** ended, and waits out its back-off: CrashLoopBackOff */
  | { step: 'back-off'; backoffMs: number }
  | { step: 'start'; attempt: number }
  /** not started yet, and waits out an image pull or start back-off */
  | { step: 'hold' };

export interface ContainerFacts {
  /** the hash of the container's spec now */
  specHash: string;
  /** its newest attempt, as the last relist saw it */
  current?: Pick<RuntimeContainer, 'id' | 'hash' | 'state' | 'exitCode' | 'attempt' | 'startedAt' | 'finishedAt'>;
  policy: RestartPolicy;
  now: number;
  backoff: BackoffConfig;
}

/** Does restartPolicy bring this ended container back? */
export function restarts(policy: RestartPolicy, c: Pick<RuntimeContainer, 'state' | 'exitCode'>): boolean {
  return c.state === 'created' || policy === 'Always' || (policy === 'OnFailure' && c.exitCode !== 0);
}

export function nextBackoff(ms: number, cfg: BackoffConfig): number {
  return ms === 0 ? cfg.initialMs : Math.min(ms * 2, cfg.maxMs);
}

/** The step, and the restart state to keep after it. */
export function containerStep(facts: ContainerFacts, state: RestartState): { step: ContainerStep; state: RestartState } {
  const { current: cur, now } = facts;
  if (!cur) return now < state.nextStartAt ? { step: { step: 'hold' }, state } : { step: { step: 'start', attempt: state.lastAttempt + 1 }, state };
  if (cur.hash !== facts.specHash) return { step: { step: 'replace', attempt: Math.max(cur.attempt, state.lastAttempt) + 1 }, state: { ...state, backoffMs: 0, nextStartAt: 0 } };
  if (cur.state === 'running') return { step: { step: 'keep-running' }, state };
  if (!restarts(facts.policy, cur)) return { step: { step: 'leave-ended' }, state };
  let next = state;
  if (state.handledExit !== cur.id) {
    // a new exit: a long run forgets the back-off, and the restart waits what is left of it
    const ran = Date.parse(cur.finishedAt ?? '') - Date.parse(cur.startedAt ?? '');
    const backoffMs = ran >= facts.backoff.resetMs ? 0 : state.backoffMs;
    next = { ...state, handledExit: cur.id, backoffMs, nextStartAt: now + backoffMs };
  }
  if (now < next.nextStartAt) return { step: { step: 'back-off', backoffMs: next.backoffMs }, state: next };
  return { step: { step: 'start', attempt: Math.max(cur.attempt, next.lastAttempt) + 1 }, state: { ...next, backoffMs: nextBackoff(next.backoffMs, facts.backoff) } };
}
