/**
 * eventbus → rest: each rule's queue (queue.ts) POSTed to its REST target, one message at a time and
 * in order, as send.ts decides: at once after a success, after a back-off after a failure.
 */
import type { Logger } from '../../core/log.js';
import { errorText } from '../../core/errors.js';
import type { ObjectStore } from '../store/objects.js';
import { loadRule, type RouteRule } from './rules.js';
import type { QueuedMessage, RuleQueues } from './queue.js';
import type { RuleStatus } from './rule-status.js';
import { afterPost, contentTypeOf, nextSend } from './send.js';
import { restCall } from './http.js';

interface Worker {
  timer?: NodeJS.Timeout;
  backoffMs: number;
  busy: boolean;
}

export interface DeliveryContext {
  store: ObjectStore;
  queues: RuleQueues;
  status: RuleStatus;
  timeoutMs: number;
  log: Logger;
}

export class QueueDelivery {
  private readonly workers = new Map<string, Worker>();
  private stopped = false;

  constructor(private readonly c: DeliveryContext) {}

  /** sends the next message of a rule's queue, if it is its turn */
  kick(ruleKey: string): void {
    if (this.stopped) return;
    const worker = this.workerOf(ruleKey);
    const head = this.c.queues.head(ruleKey);
    const [ns, name] = ruleKey.split('/') as [string, string];
    let rule: RouteRule | undefined;
    const step = nextSend({ busy: worker.busy, waiting: worker.timer !== undefined }, head !== undefined, () => {
      rule = loadRule(this.c.store, ns, name);
      return rule && { problem: rule.problem, targetIsRest: rule.target?.type === 'rest' };
    });
    if (step.step === 'drop') return void this.c.log.info(`rule ${ruleKey} is gone: ${this.c.queues.drop(ruleKey)} message(s) waiting for it dropped`);
    const loaded: RouteRule | undefined = rule;
    if (step.step === 'idle' || !loaded || !head) return;
    if (step.step === 'retry') {
      this.c.status.noteProblem(loaded);
      return this.later(ruleKey, worker, step.inMs);
    }
    void this.post(loaded, head, worker);
  }

  kickAll(): void {
    for (const key of this.c.queues.rules()) this.kick(key);
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.workers.values()) clearTimeout(w.timer);
  }

  private workerOf(ruleKey: string): Worker {
    let w = this.workers.get(ruleKey);
    if (!w) this.workers.set(ruleKey, (w = { backoffMs: 0, busy: false }));
    return w;
  }

  private later(ruleKey: string, worker: Worker, ms: number): void {
    worker.timer = setTimeout(() => {
      worker.timer = undefined;
      this.kick(ruleKey);
    }, ms);
  }

  private async post(rule: RouteRule, head: QueuedMessage, worker: Worker): Promise<void> {
    worker.busy = true;
    const payload = Buffer.from(head.payload, 'base64');
    const url = rule.targetResource.resource as string;
    const headers = { 'content-type': contentTypeOf(payload), 'x-kubeedge-node': head.node, 'x-kubeedge-topic': head.topic, 'x-kubeedge-rule': rule.key, 'x-kubeedge-message-id': String(head.seq) };
    let next: ReturnType<typeof afterPost>;
    try {
      const res = await restCall(url, 'POST', headers, payload, this.c.timeoutMs);
      if (res.status < 200 || res.status >= 300) throw new Error(`HTTP ${res.status}`);
      this.c.queues.done(rule.key);
      this.c.status.record(rule, true);
      next = afterPost(worker.backoffMs, true);
    } catch (err) {
      this.c.status.record(rule, false, `POST ${url}: ${errorText(err)}`);
      next = afterPost(worker.backoffMs, false);
      if (next.firstFailure) this.c.log.warn(`rule ${rule.key}: POST ${url} failed (${errorText(err)}); ${this.c.queues.size(rule.key)} message(s) wait, retrying with back-off`);
    }
    worker.busy = false;
    worker.backoffMs = next.backoffMs;
    if (next.nextInMs === 0) this.kick(rule.key);
    else this.later(rule.key, worker, next.nextInMs);
  }
}
