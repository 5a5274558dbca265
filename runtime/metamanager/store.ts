/**
 * The edge's local store of cloud objects: KubeEdge's `meta` table (key, type, value), plus the
 * resourceVersion of every key (kept after a delete, as a tombstone) so a resent or stale message
 * is recognised and not applied twice.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../core/db.js';

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

  version(key: string): number | undefined {
    const row = this.db.get(`SELECT rv FROM meta_version WHERE key = ?`, [key]);
    return row ? Number(row.rv) : undefined;
  }

  /** Inserts or updates unless the store already holds this version or a newer one. */
  put(key: string, type: string, rv: number, value: unknown): ApplyResult {
    const have = this.version(key);
    if (have !== undefined && have >= rv) return 'stale';
    this.db.tx(() => {
      this.db.run(`INSERT OR REPLACE INTO meta (key, type, value) VALUES (?, ?, ?)`, [key, type, JSON.stringify(value)]);
      this.db.run(`INSERT OR REPLACE INTO meta_version (key, rv, deleted) VALUES (?, ?, 0)`, [key, rv]);
    });
    return 'applied';
  }

  remove(key: string, rv: number): ApplyResult {
    const have = this.version(key);
    if (have !== undefined && have >= rv) return 'stale';
    this.db.tx(() => {
      this.db.run(`DELETE FROM meta WHERE key = ?`, [key]);
      this.db.run(`INSERT OR REPLACE INTO meta_version (key, rv, deleted) VALUES (?, ?, 1)`, [key, rv]);
    });
    return 'applied';
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
