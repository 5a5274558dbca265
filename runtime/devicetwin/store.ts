/**
 * Twins on disk: one row per device in the edge's database (beside MetaManager's tables, so a
 * device object and the twin it produced are committed in the same write).
 */
import type { Db } from '../core/db.js';
import type { DeviceRecord } from './twin.js';

export const TWIN_SCHEMA = `CREATE TABLE IF NOT EXISTS twin_device (id TEXT PRIMARY KEY, value TEXT NOT NULL)`;

export class TwinStore {
  constructor(private readonly db: Db) {
    db.run(TWIN_SCHEMA);
  }

  all(): DeviceRecord[] {
    return this.db.all(`SELECT value FROM twin_device ORDER BY id`).map((r) => JSON.parse(String(r.value)) as DeviceRecord);
  }

  put(dev: DeviceRecord): void {
    this.db.run(`INSERT OR REPLACE INTO twin_device (id, value) VALUES (?, ?)`, [dev.id, JSON.stringify(dev)]);
  }

  remove(id: string): void {
    this.db.run(`DELETE FROM twin_device WHERE id = ?`, [id]);
  }

  /** resolves when every write so far is on disk */
  commit(): Promise<void> {
    return this.db.commit();
  }
}
