/**
 * The outbox: what the edge sends up that must arrive (uploads now, twin reports later) waits here,
 * on disk, until the cloud acknowledges it. It is bounded: when full, a message replaces the queued
 * one with the same key (the newest report of a property wins), and only when there is none is the
 * oldest message dropped. Both are counted and logged, never silent.
 *
 * It lives in an append-only journal beside the database (`<dataSource>.outbox`): a message costs
 * its own bytes on disk, where SQLite through sql.js would rewrite the whole file for each batch.
 * Every message carries `<storeId>/<seq>` as its resourceversion: the cloud applies each sequence
 * number once, so a resend after a crash is acknowledged without being applied again.
 */
import type { Journal } from '../../core/journal.js';
import type { Logger } from '../../core/log.js';
import { Group, type Message } from '../../core/message.js';

export interface OutboxStats {
  queued: number;
  collapsed: number;
  dropped: number;
}

export interface OutboxEntry {
  seq: number;
  msg: Message;
}

interface Stored {
  key: string;
  msg: Message;
}

/**
 * The outbox sends in two lanes, each in order: `urgent` first (twin reports, the node's and pods'
 * status: few, small, and what a user waits to see), then `bulk` (apps' uploads). The cloud takes
 * uploads in order per node and reports in order per object, so neither order is broken.
 */
export type Lane = 'urgent' | 'bulk';

export function laneOf(msg: Message): Lane {
  return msg.route.group === Group.user ? 'bulk' : 'urgent';
}

const MESSAGES = 'outbox';
const META = 'outbox-meta';

export class Outbox {
  private collapsed = 0;
  private dropped = 0;
  /** seq → message, in insertion (= seq) order */
  private readonly bySeq = new Map<number, Stored>();
  private readonly lanes: Record<Lane, Map<number, Stored>> = { urgent: new Map(), bulk: new Map() };
  private readonly byKey = new Map<string, Set<number>>();
  private seq: number;

  constructor(
    private readonly journal: Journal,
    private readonly storeId: string,
    private readonly limit: number,
    private readonly log: Logger,
  ) {
    const entries = [...journal.entries<Stored>(MESSAGES)].map(([k, v]) => [Number(k), v] as const).sort((a, b) => a[0] - b[0]);
    for (const [seq, v] of entries) this.index(seq, v);
    this.seq = Math.max(journal.get<number>(META, 'seq') ?? 0, entries.at(-1)?.[0] ?? 0);
  }

  private index(seq: number, v: Stored): void {
    this.bySeq.set(seq, v);
    this.lanes[laneOf(v.msg)].set(seq, v);
    let s = this.byKey.get(v.key);
    if (!s) this.byKey.set(v.key, (s = new Set()));
    s.add(seq);
  }

  private forget(seq: number): boolean {
    const v = this.bySeq.get(seq);
    if (!v) return false;
    this.bySeq.delete(seq);
    this.lanes[laneOf(v.msg)].delete(seq);
    const s = this.byKey.get(v.key);
    s?.delete(seq);
    if (s?.size === 0) this.byKey.delete(v.key);
    // the sequence is kept apart only when the newest message goes (else that message holds it);
    // written in the same commit as its deletion, it is never behind what a reopened outbox sees.
    // Acknowledgements come out of order (the urgent lane's ahead of older uploads): a number
    // given again would be taken by the cloud as a resend and dropped.
    if (seq === this.seq) this.journal.set(META, 'seq', this.seq);
    this.journal.delete(MESSAGES, String(seq));
    return true;
  }

  stats(): OutboxStats {
    return { queued: this.bySeq.size, collapsed: this.collapsed, dropped: this.dropped };
  }

  /** the newest sequence number queued */
  lastSeq(): number {
    return this.seq;
  }

  /** Queues a message and returns its sequence number; `commit()` before acknowledging its producer. */
  add(key: string, msg: Message): number {
    if (this.bySeq.size >= this.limit) {
      const same = [...(this.byKey.get(key) ?? [])];
      if (same.length > 0) {
        for (const s of same) this.forget(s);
        this.collapsed += same.length;
        if (this.collapsed === same.length || this.collapsed % 1000 === 0) this.log.warn(`outbox full (${this.limit}): kept only the newest message for ${key} (${this.collapsed} collapsed so far)`);
      } else {
        const oldest = this.bySeq.keys().next().value as number;
        const what = this.bySeq.get(oldest)?.key;
        this.forget(oldest);
        this.dropped++;
        this.log.warn(`outbox full (${this.limit}): dropped the oldest message (${what ?? '?'}); ${this.dropped} dropped so far`);
      }
    }
    const seq = ++this.seq;
    const v: Stored = { key, msg };
    this.index(seq, v);
    this.journal.set(MESSAGES, String(seq), v);
    return seq;
  }

  commit(): Promise<void> {
    return this.journal.commit();
  }

  /**
   * The oldest messages after `afterSeq` and up to `upTo`, of one lane or of both, stamped with their
   * sequence number. The walk starts at the oldest queued: an acknowledged message has left, so
   * what it passes over is at most what is in flight.
   */
  next(afterSeq: number, max: number, lane?: Lane, upTo = Infinity): OutboxEntry[] {
    const out: OutboxEntry[] = [];
    if (max <= 0) return out;
    const queued = lane ? this.lanes[lane] : this.bySeq;
    for (const seq of this.seqsAfter(queued, afterSeq, Math.min(upTo, this.seq))) {
      const v = queued.get(seq) as Stored;
      // Object.assign, not a spread and a new key: that makes V8 (11.3) build a hidden class per message
      const header = Object.assign({}, v.msg.header, { resourceversion: `${this.storeId}/${seq}` });
      out.push({ seq, msg: { ...v.msg, header } });
      if (out.length >= max) break;
    }
    return out;
  }

  /**
   * The sequence numbers of `queued` after `afterSeq` and up to `upTo`, in order. Counted up from
   * `afterSeq`, so the messages in flight (up to a window of them, at the front) are not walked over
   * again for every one acknowledged; walked through the map when the numbers are sparse there
   * (the other lane's between them, or collapses).
   */
  private *seqsAfter(queued: Map<number, Stored>, afterSeq: number, upTo: number): Generator<number> {
    const from = Math.max(afterSeq + 1, (queued.keys().next().value as number | undefined) ?? Infinity);
    if (upTo - from > 4 * queued.size) {
      for (const seq of queued.keys()) {
        if (seq > upTo) return;
        if (seq > afterSeq) yield seq;
      }
      return;
    }
    for (let seq = from; seq <= upTo; seq++) if (queued.has(seq)) yield seq;
  }

  /** Forgets an acknowledged message; persisted lazily (a resend is recognised by the cloud). */
  remove(seq: number): void {
    if (this.forget(seq)) this.journal.persistLater(500);
  }
}
