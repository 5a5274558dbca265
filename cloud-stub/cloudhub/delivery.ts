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

export interface DeliveryOptions {
  window: number;
  limit: number;
  firstResendMs: number;
  maxResendMs: number;
  clock: Clock;
  /** hands a batch to the socket; returns false when the socket cannot take more now */
  send(batch: Message[]): boolean;
  acked(msg: Message): void;
  /** shared by every session: counts resends */
  traffic?: { resends: number };
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

export class Delivery {
  private readonly pending = new Map<string, Entry>();
  private readonly byId = new Map<string, string>();
  private readonly inFlight = new Set<Entry>();
  private unsent: Entry[] = [];
  private unsentHead = 0;
  constructor(private readonly opts: DeliveryOptions) {}

  get size(): number {
    return this.pending.size;
  }

  enqueue(msg: Message): void {
    const key = msg.route.resource || msg.header.msg_id;
    const rv = msg.header.resourceversion === undefined ? undefined : Number(msg.header.resourceversion);
    const prev = this.pending.get(key);
    if (prev) {
      if (prev.rv !== undefined && rv !== undefined && prev.rv >= rv) return; // already queued a newer one
      this.drop(prev);
    } else if (this.pending.size >= this.opts.limit) {
      this.opts.overflow(msg);
      return;
    }
    const entry: Entry = { key, msg, rv, sentAt: undefined, resendMs: this.opts.firstResendMs };
    this.pending.set(key, entry);
    this.byId.set(msg.header.msg_id, key);
    this.unsent.push(entry);
  }

  ack(parentId: string): boolean {
    const key = this.byId.get(parentId);
    if (key === undefined) return false;
    const entry = this.pending.get(key);
    this.byId.delete(parentId);
    if (!entry || entry.msg.header.msg_id !== parentId) return false;
    this.drop(entry);
    this.opts.acked(entry.msg);
    return true;
  }

  private drop(entry: Entry): void {
    this.inFlight.delete(entry);
    this.pending.delete(entry.key);
    this.byId.delete(entry.msg.header.msg_id);
  }

  /** Sends new messages while the window allows; with `resend`, also what waited too long for its ack. */
  pump(opts: { resend?: boolean; maxBatch?: number } = {}): void {
    const now = this.opts.clock.now();
    const maxBatch = opts.maxBatch ?? 64;
    let batch: Message[] = [];
    let bytes = 0;
    let open = true;
    const add = (e: Entry): void => {
      e.sentAt = now;
      const size = approxBytes(e.msg);
      // a frame stays under the edge's limit: a big object (a ConfigMap) goes in a frame of its own
      if (batch.length > 0 && bytes + size > BATCH_BUDGET_BYTES) {
        open = this.opts.send(batch);
        batch = [];
        bytes = 0;
      }
      batch.push(e.msg);
      bytes += size;
      if (batch.length >= maxBatch) {
        open = this.opts.send(batch);
        batch = [];
        bytes = 0;
      }
    };
    if (opts.resend) {
      for (const e of this.inFlight) {
        if (!open) break;
        if (e.sentAt !== undefined && now - e.sentAt >= e.resendMs) {
          e.resendMs = Math.min(e.resendMs * 2, this.opts.maxResendMs);
          if (this.opts.traffic) this.opts.traffic.resends++;
          add(e);
        }
      }
    }
    while (open && this.inFlight.size < this.opts.window && this.unsentHead < this.unsent.length) {
      const e = this.unsent[this.unsentHead++] as Entry;
      if (this.pending.get(e.key) !== e) continue; // replaced or acknowledged meanwhile
      this.inFlight.add(e);
      add(e);
    }
    if (this.unsentHead > 1024 && this.unsentHead * 2 > this.unsent.length) {
      this.unsent = this.unsent.slice(this.unsentHead);
      this.unsentHead = 0;
    }
    if (batch.length > 0) this.opts.send(batch);
  }
}
