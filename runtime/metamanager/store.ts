/**
 * The edge's local store of cloud objects: KubeEdge's `meta` table (key, type, value), plus the
 * resourceVersion of every key, so a resent or stale message is recognised and not applied twice.
 * A deleted key keeps the version it last held, marked deleted (a tombstone): the object may come
 * back at that version or a newer one (a model whose last device went, and then came back), never
 * an older one.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../../core/db.js';

export const META_SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, type TEXT NOT NULL, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta_version (key TEXT PRIMARY KEY, rv INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS meta_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

export type ApplyResult = 'applied' | 'stale';

export interface MetaObject {
  key: string;
  type: string;
  rv: number;
  value: unknown;
}

export class MetaStore {
  constructor(readonly db: Db) {}

  /**
   * A random id made with the database. The edge tells it to the cloud on every connect: a new id
   * (a lost or corrupted file started afresh) makes the cloud send everything again.
   */
  storeId(): string {
    const row = this.db.get(`SELECT value FROM meta_info WHERE key = 'store_id'`);
    if (row) return String(row.value);
    const id = randomUUID();
    this.db.run(`INSERT INTO meta_info (key, value) VALUES ('store_id', ?)`, [id]);
    return id;
  }

  /**
   * Tombstones written before they kept the version last held kept the deletion's, which is newer
   * than the object when it comes back: such an object was refused for ever. Done once per store.
   */
  migrate(): void {
    if (this.db.get(`SELECT value FROM meta_info WHERE key = 'tombstones'`)) return;
    this.db.tx(() => {
      this.db.run(`UPDATE meta_version SET rv = 0 WHERE deleted = 1`);
      this.db.run(`INSERT INTO meta_info (key, value) VALUES ('tombstones', 'last-held')`);
    });
  }

  version(key: string): { rv: number; deleted: boolean } | undefined {
    const row = this.db.get(`SELECT rv, deleted FROM meta_version WHERE key = ?`, [key]);
    return row ? { rv: Number(row.rv), deleted: Number(row.deleted) === 1 } : undefined;
  }

  /** Inserts or updates unless the store holds this version or a newer one (after a delete: a newer one than it last held). */
  put(key: string, type: string, rv: number, value: unknown): ApplyResult {
    const have = this.version(key);
    if (have !== undefined && (have.deleted ? have.rv > rv : have.rv >= rv)) return 'stale';
    this.db.tx(() => {
      this.db.run(`INSERT OR REPLACE INTO meta (key, type, value) VALUES (?, ?, ?)`, [key, type, JSON.stringify(value)]);
      this.db.run(`INSERT OR REPLACE INTO meta_version (key, rv, deleted) VALUES (?, ?, 0)`, [key, rv]);
    });
    return 'applied';
  }

  /** Deletes what is held at an older version than the delete's; the key keeps that version as its tombstone. */
  remove(key: string, rv: number): ApplyResult {
    const have = this.version(key);
    if (have === undefined || have.deleted || have.rv >= rv) return 'stale';
    this.db.tx(() => {
      this.db.run(`DELETE FROM meta WHERE key = ?`, [key]);
      this.db.run(`UPDATE meta_version SET deleted = 1 WHERE key = ?`, [key]);
    });
    return 'applied';
  }

  /** what the store holds, resource → version: told to the cloud on connect, so it need not guess (at most `max`) */
  holdings(max: number): Record<string, number> | undefined {
    const n = Number(this.db.get(`SELECT COUNT(*) AS n FROM meta_version WHERE deleted = 0`)?.n ?? 0);
    if (n > max) return undefined;
    const out: Record<string, number> = {};
    for (const r of this.db.all(`SELECT key, rv FROM meta_version WHERE deleted = 0`)) out[String(r.key)] = Number(r.rv);
    return out;
  }

  get(key: string): MetaObject | undefined {
    const row = this.db.get(`SELECT m.key, m.type, m.value, v.rv FROM meta m JOIN meta_version v ON v.key = m.key WHERE m.key = ?`, [key]);
    return row ? { key: String(row.key), type: String(row.type), rv: Number(row.rv), value: JSON.parse(String(row.value)) as unknown } : undefined;
  }

  count(type: string): number {
    return Number(this.db.get(`SELECT COUNT(*) AS n FROM meta WHERE type = ?`, [type])?.n ?? 0);
  }

  /** objects of one type, optionally of one namespace */
  list(type: string, namespace?: string): MetaObject[] {
    const rows =
      namespace === undefined
        ? this.db.all(`SELECT m.key, m.type, m.value, v.rv FROM meta m JOIN meta_version v ON v.key = m.key WHERE m.type = ? ORDER BY m.key`, [type])
        : this.db.all(`SELECT m.key, m.type, m.value, v.rv FROM meta m JOIN meta_version v ON v.key = m.key WHERE m.type = ? AND m.key LIKE ? ORDER BY m.key`, [type, `${namespace}/%`]);
    return rows.map((r) => ({ key: String(r.key), type: String(r.type), rv: Number(r.rv), value: JSON.parse(String(r.value)) as unknown }));
  }
}
