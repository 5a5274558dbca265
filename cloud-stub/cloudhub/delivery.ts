/**
 * Per-node delivery of cloud→edge messages that need an acknowledgement.
 *
 * Keyed by object (route.resource): a newer resourceversion of the same object replaces the queued
 * one, so the queue is bounded by the node's object count (and by `limit`). At most `window`
 * messages are in flight; an unacknowledged one is resent with a doubling delay. An ack for a
 * message that has since been replaced is ignored. Sending is O(1) a message: new messages wait in
 * a FIFO, and only the (window-bounded) in-flight set is scanned for resends.
 */
import type { Clock } from '../../core/clock.js';
import type { Message } from '../../core/message.js';
import { approxBytes, BATCH_BUDGET_BYTES } from '../../core/codec.js';

/** how a node's queue behaves: one object shared by every session */
export interface DeliveryPolicy {
  window: number;
  limit: number;
  firstResendMs: number;
  maxResendMs: number;
  clock: Clock;
  /** shared by every session: counts resends */
  traffic?: { resends: number };
}

/** where a node's queue sends to: its session (so no closures are made per session) */
export interface DeliverySink {
  /** hands a batch to the socket; returns false when the socket cannot take more now */
  sendBatch(batch: Message[]): boolean;
  acked(msg: Message): void;
  /** called when a message had to be refused because the queue is full */
  overflow(msg: Message): void;
}

interface Entry {
  key: string;
  msg: Message;
  rv: number | undefined;
  sentAt: number | undefined;
  resendMs: number;
}

/** a node's queue while it holds messages */
interface Queue {
  pending: Map<string, Entry>;
  byId: Map<string, string>;
  inFlight: Set<Entry>;
  unsent: Entry[];
  unsentHead: number;
}

export class Delivery {
  /**
   * Made at the first message and let go once everything is acknowledged, which is how most nodes
   * are most of the time: three empty tables cost ~0.5 KiB a connected edge.
   */
  private q: Queue | undefined;
  constructor(
    private readonly policy: DeliveryPolicy,
    private readonly sink: DeliverySink,
  ) {}

  get size(): number {
    return this.q?.pending.size ?? 0;
  }

  enqueue(msg: Message): void {
    const key = msg.route.resource || msg.header.msg_id;
    const rv = msg.header.resourceversion === undefined ? undefined : Number(msg.header.resourceversion);
    const prev = this.q?.pending.get(key);
    if (prev) {
      if (prev.rv !== undefined && rv !== undefined && prev.rv >= rv) return; // already queued a newer one
      this.drop(prev);
    } else if (this.size >= this.policy.limit) {
      this.sink.overflow(msg);
      return;
    }
    const q = (this.q ??= { pending: new Map(), byId: new Map(), inFlight: new Set(), unsent: [] as Entry[], unsentHead: 0 });
    const entry: Entry = { key, msg, rv, sentAt: undefined, resendMs: this.policy.firstResendMs };
    q.pending.set(key, entry);
    q.byId.set(msg.header.msg_id, key);
    q.unsent.push(entry);
  }

  ack(parentId: string): boolean {
    const q = this.q;
    const key = q?.byId.get(parentId);
    if (!q || key === undefined) return false;
    const entry = q.pending.get(key);
    q.byId.delete(parentId);
    if (!entry || entry.msg.header.msg_id !== parentId) return false;
    this.drop(entry);
    this.sink.acked(entry.msg);
    return true;
  }

  private drop(entry: Entry): void {
    const q = this.q;
    if (!q) return;
    q.inFlight.delete(entry);
    q.pending.delete(entry.key);
    q.byId.delete(entry.msg.header.msg_id);
    // nothing pending: what is left in `unsent` was replaced or acknowledged, and goes with the rest
    if (q.pending.size === 0) this.q = undefined;
  }

  /** Sends new messages while the window allows; with `resend`, also what waited too long for its ack. */
  pump(opts: { resend?: boolean; maxBatch?: number } = {}): void {
    const q = this.q;
    if (!q) return;
    const now = this.policy.clock.now();
    const maxBatch = opts.maxBatch ?? 64;
    let batch: Message[] = [];
    let bytes = 0;
    let open = true;
    const add = (e: Entry): void => {
      e.sentAt = now;
      const size = approxBytes(e.msg);
      // a frame stays under the edge's limit: a big object (a ConfigMap) goes in a frame of its own
      if (batch.length > 0 && bytes + size > BATCH_BUDGET_BYTES) {
        open = this.sink.sendBatch(batch);
        batch = [];
        bytes = 0;
      }
      batch.push(e.msg);
      bytes += size;
      if (batch.length >= maxBatch) {
        open = this.sink.sendBatch(batch);
        batch = [];
        bytes = 0;
      }
    };
    if (opts.resend) {
      for (const e of q.inFlight) {
        if (!open) break;
        if (e.sentAt !== undefined && now - e.sentAt >= e.resendMs) {
          e.resendMs = Math.min(e.resendMs * 2, this.policy.maxResendMs);
          if (this.policy.traffic) this.policy.traffic.resends++;
          add(e);
        }
      }
    }
    while (open && q.inFlight.size < this.policy.window && q.unsentHead < q.unsent.length) {
      const e = q.unsent[q.unsentHead++] as Entry;
      if (q.pending.get(e.key) !== e) continue; // replaced or acknowledged meanwhile
      q.inFlight.add(e);
      add(e);
    }
    if (q.unsentHead > 1024 && q.unsentHead * 2 > q.unsent.length) {
      q.unsent = q.unsent.slice(q.unsentHead);
      q.unsentHead = 0;
    }
    if (batch.length > 0) this.sink.sendBatch(batch);
  }
}
