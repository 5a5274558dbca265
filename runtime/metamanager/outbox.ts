/**
 * The outbox: what the edge sends up that must arrive (uploads now, twin reports later) waits here,
 * on disk, until the cloud acknowledges it. It is bounded: when full, a message replaces the queued
 * one with the same key (the newest report of a property wins), and only when there is none is the
 * oldest message dropped. Both are counted and logged, never silent.
 *
 * Every message carries `<storeId>/<seq>` as its resourceversion: the cloud applies each sequence
 * number once, so a resend after a crash is acknowledged without being applied again.
 */
import type { Db } from '../core/db.js';
import type { Logger } from '../core/log.js';
import type { Message } from '../core/message.js';

export const OUTBOX_SCHEMA = `
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, msg TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS outbox_key ON outbox (key);
`;

export interface OutboxStats {
  queued: number;
  collapsed: number;
  dropped: number;
}

export interface OutboxEntry {
  seq: number;
  msg: Message;
}

export class Outbox {
  private collapsed = 0;
  private dropped = 0;
  private count: number;

  constructor(
    private readonly db: Db,
    private readonly storeId: string,
    private readonly limit: number,
    private readonly log: Logger,
  ) {
    this.count = Number(db.get('SELECT COUNT(*) AS n FROM outbox')?.n ?? 0);
  }

  stats(): OutboxStats {
    return { queued: this.count, collapsed: this.collapsed, dropped: this.dropped };
  }

  /** the newest sequence number queued */
  lastSeq(): number {
    return Number(this.db.get('SELECT MAX(seq) AS s FROM outbox')?.s ?? 0);
  }

  /** Queues a message and returns its sequence number (the caller commits before acknowledging its producer). */
  add(key: string, msg: Message): number {
    return this.db.tx(() => {
      if (this.count >= this.limit) {
        const removed = this.db.run('DELETE FROM outbox WHERE key = ?', [key]);
        if (removed > 0) {
          this.collapsed += removed;
          this.count -= removed;
          if (this.collapsed === removed || this.collapsed % 1000 === 0) this.log.warn(`outbox full (${this.limit}): kept only the newest message for ${key} (${this.collapsed} collapsed so far)`);
        } else {
          const oldest = this.db.get('SELECT seq, key FROM outbox ORDER BY seq LIMIT 1');
          this.db.run('DELETE FROM outbox WHERE seq = ?', [Number(oldest?.seq)]);
          this.count--;
          this.dropped++;
          this.log.warn(`outbox full (${this.limit}): dropped the oldest message (${String(oldest?.key)}); ${this.dropped} dropped so far`);
        }
      }
      this.db.run('INSERT INTO outbox (key, msg) VALUES (?, ?)', [key, JSON.stringify(msg)]);
      this.count++;
      return Number(this.db.get('SELECT last_insert_rowid() AS s')?.s);
    });
  }

  /** The oldest messages after `afterSeq`, stamped with their sequence number. */
  next(afterSeq: number, max: number): OutboxEntry[] {
    return this.db.all('SELECT seq, msg FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?', [afterSeq, max]).map((r) => {
      const seq = Number(r.seq);
      const msg = JSON.parse(String(r.msg)) as Message;
      msg.header.resourceversion = `${this.storeId}/${seq}`;
      return { seq, msg };
    });
  }

  /** Forgets an acknowledged message; persisted lazily (a resend is recognised by the cloud). */
  remove(seq: number): void {
    this.count -= this.db.run('DELETE FROM outbox WHERE seq = ?', [seq]);
    this.db.persistLater(500);
  }
}
