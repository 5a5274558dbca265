/**
 * eventbus → rest: what edge apps publish on a rule's topic, on its way to the rule's REST target.
 * Taken from the edge (whose outbox kept it across a lost link) into a queue of the rule's on disk
 * (a journal beside the cloud's store), acknowledged to the edge once there, then POSTed in order,
 * one at a time, retried with a back-off (1 s doubling to 60 s) while the target fails. A queue is
 * bounded: when full, its oldest message gives way (counted as a failure, said in the rule's
 * status). A message is deleted once POSTed, lazily: a cloudcore killed in that second may POST it
 * again (at least once, never lost); it then carries the same X-KubeEdge-Message-Id (the queue's
 * sequence number for the rule), so a backend can take each message once. The queue remembers, in the same write as the message, the
 * last outbox sequence it took from each node's store, so a resent upload is queued once.
 */
import type { Journal } from '../../core/journal.js';
import { outboxSequence } from '../store/objects.js';

export interface QueuedMessage {
  seq: number;
  node: string;
  topic: string;
  /** base64 */
  payload: string;
  at: number;
}

const TABLE = 'q';
const SEQ = 'seq';
const SEEN = 'seen';

export class RuleQueues {
  private readonly queues = new Map<string, QueuedMessage[]>();

  constructor(
    private readonly journal: Journal,
    private readonly limit: number,
  ) {
    for (const [key, m] of journal.entries<QueuedMessage>(TABLE)) {
      const rule = key.slice(0, key.lastIndexOf('\n'));
      let q = this.queues.get(rule);
      if (!q) this.queues.set(rule, (q = []));
      q.push(m);
    }
    for (const q of this.queues.values()) q.sort((a, b) => a.seq - b.seq);
  }

  rules(): string[] {
    return [...this.queues.keys()];
  }

  head(rule: string): QueuedMessage | undefined {
    return this.queues.get(rule)?.[0];
  }

  size(rule: string): number {
    return this.queues.get(rule)?.length ?? 0;
  }

  /**
   * Queues a message; resolves once it is on disk. Returns the message dropped to make room, if any.
   * A message whose outbox `version` the queue already took from that node's store is not queued again.
   */
  async add(rule: string, m: Omit<QueuedMessage, 'seq'>, version: string): Promise<QueuedMessage | undefined> {
    const n = outboxSequence(version);
    const seenKey = `${rule}\n${m.node}`;
    const seen = this.journal.get<{ storeId: string; seq: number }>(SEEN, seenKey);
    if (n && seen && seen.storeId === n.storeId && n.seq <= seen.seq) return undefined;
    if (n) this.journal.set(SEEN, seenKey, n);
    let q = this.queues.get(rule);
    if (!q) this.queues.set(rule, (q = []));
    let dropped: QueuedMessage | undefined;
    if (q.length >= this.limit) {
      dropped = q.shift() as QueuedMessage;
      this.journal.delete(TABLE, `${rule}\n${dropped.seq}`);
    }
    const seq = (this.journal.get<number>(SEQ, rule) ?? 0) + 1;
    const msg = { ...m, seq };
    q.push(msg);
    this.journal.set(SEQ, rule, seq);
    this.journal.set(TABLE, `${rule}\n${seq}`, msg);
    await this.journal.commit();
    return dropped;
  }

  /** Forgets the head of a rule's queue once delivered. */
  done(rule: string): void {
    const q = this.queues.get(rule);
    const m = q?.shift();
    if (!m) return;
    this.journal.delete(TABLE, `${rule}\n${m.seq}`);
    this.journal.persistLater(1000);
  }

  /** A deleted rule's queue goes with it; returns how many messages were in it. */
  drop(rule: string): number {
    const q = this.queues.get(rule) ?? [];
    for (const m of q) this.journal.delete(TABLE, `${rule}\n${m.seq}`);
    this.journal.delete(SEQ, rule);
    for (const [k] of [...this.journal.entries(SEEN)]) if (k.startsWith(`${rule}\n`)) this.journal.delete(SEEN, k);
    this.queues.delete(rule);
    this.journal.persistLater(1000);
    return q.length;
  }
}
