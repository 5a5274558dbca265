/**
 * Per-node delivery of cloud→edge messages that need an acknowledgement.
 *
 * Keyed by object (route.resource): a newer resourceversion of the same object replaces the queued
 * one, so the queue is bounded by the node's object count (and by `limit`). At most `window`
 * messages are in flight; an unacknowledged one is resent with a doubling delay. An ack for a
 * message that has since been replaced is ignored.
 */
import type { Clock } from '../../runtime/core/clock.js';
import type { Message } from '../../runtime/core/message.js';

export interface DeliveryOptions {
  window: number;
  limit: number;
  firstResendMs: number;
  maxResendMs: number;
  clock: Clock;
  /** hands a batch to the socket; returns false when the socket cannot take more now */
  send(batch: Message[]): boolean;
  acked(msg: Message): void;
  /** called when a message had to be refused because the queue is full */
  overflow(msg: Message): void;
}

interface Entry {
  msg: Message;
  rv: number | undefined;
  sentAt: number | undefined;
  resendMs: number;
}

export class Delivery {
  private readonly pending = new Map<string, Entry>();
  private readonly byId = new Map<string, string>();
  private inFlight = 0;
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
      this.drop(key, prev);
    } else if (this.pending.size >= this.opts.limit) {
      this.opts.overflow(msg);
      return;
    }
    this.pending.set(key, { msg, rv, sentAt: undefined, resendMs: this.opts.firstResendMs });
    this.byId.set(msg.header.msg_id, key);
  }

  ack(parentId: string): boolean {
    const key = this.byId.get(parentId);
    if (key === undefined) return false;
    const entry = this.pending.get(key);
    this.byId.delete(parentId);
    if (!entry || entry.msg.header.msg_id !== parentId) return false;
    this.drop(key, entry);
    this.opts.acked(entry.msg);
    return true;
  }

  private drop(key: string, entry: Entry): void {
    if (entry.sentAt !== undefined) this.inFlight--;
    this.pending.delete(key);
    this.byId.delete(entry.msg.header.msg_id);
  }

  /** Sends what is due: new messages within the window, and resends whose delay has passed. */
  pump(maxBatch = 64): void {
    const now = this.opts.clock.now();
    let batch: Message[] = [];
    const flush = (): boolean => {
      if (batch.length === 0) return true;
      const ok = this.opts.send(batch);
      batch = [];
      return ok;
    };
    for (const entry of this.pending.values()) {
      if (entry.sentAt === undefined) {
        if (this.inFlight >= this.opts.window) continue;
        this.inFlight++;
      } else if (now - entry.sentAt < entry.resendMs) {
        continue;
      } else {
        entry.resendMs = Math.min(entry.resendMs * 2, this.opts.maxResendMs);
      }
      entry.sentAt = now;
      batch.push(entry.msg);
      if (batch.length >= maxBatch && !flush()) return;
    }
    flush();
  }
}
