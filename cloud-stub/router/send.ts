/**
 * What a rule's eventbus → rest queue does next, and when (queue.ts holds the messages, index.ts
 * runs the POSTs). One POST at a time per rule, in order; a failed one is retried after a back-off
 * of 1 s doubling to 60 s, and a success sends the next at once. A rule that is gone takes its queue
 * with it; one that cannot run now (a problem, a target that is not rest) is looked at again in 5 s.
 */
export const PROBLEM_RETRY_MS = 5000;
export const MAX_BACKOFF_MS = 60_000;

export interface QueueWorker {
  /** a POST is on its way */
  busy: boolean;
  /** a back-off or a problem retry is pending */
  waiting: boolean;
}

export interface RuleNow {
  /** the Rule or its endpoints are missing or wrong: why (it stays in the rule's status) */
  problem?: string;
  targetIsRest: boolean;
}

export type SendStep = { step: 'idle' } | { step: 'drop' } | { step: 'retry'; inMs: number } | { step: 'post' };

/** The next step of one rule's queue; `rule` is looked up only when there is something to send (undefined: deleted). */
export function nextSend(worker: QueueWorker, hasMessage: boolean, rule: () => RuleNow | undefined): SendStep {
  if (worker.busy || worker.waiting || !hasMessage) return { step: 'idle' };
  const now = rule();
  if (now === undefined) return { step: 'drop' };
  if (now.problem !== undefined || !now.targetIsRest) return { step: 'retry', inMs: PROBLEM_RETRY_MS };
  return { step: 'post' };
}

/** After a POST: the back-off to keep, when to send again, and whether this failure starts a run (said once in the log). */
export function afterPost(backoffMs: number, delivered: boolean): { backoffMs: number; nextInMs: number; firstFailure: boolean } {
  if (delivered) return { backoffMs: 0, nextInMs: 0, firstFailure: false };
  const next = Math.min(MAX_BACKOFF_MS, backoffMs ? backoffMs * 2 : 1000);
  return { backoffMs: next, nextInMs: next, firstFailure: backoffMs === 0 };
}

/** The POST's content type: JSON when the payload parses as JSON, else bytes. */
export function contentTypeOf(payload: Buffer): string {
  try {
    JSON.parse(payload.toString('utf8'));
    return 'application/json';
  } catch {
    return 'application/octet-stream';
  }
}
