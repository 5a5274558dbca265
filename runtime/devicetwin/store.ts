/**
 * Twins on disk: one entry per device in an append-only journal beside the database
 * (`<dataSource>.twins`), as the outbox is. A twin update costs its own bytes, where sql.js would
 * rewrite the whole database file for every batch. The device objects stay in MetaManager's
 * database; on start DeviceTwin reconciles the two, so a crash between their writes heals.
 */
import type { Journal } from '../../core/journal.js';
import type { DeviceRecord } from './twin.js';

const DEVICES = 'devices';

export class TwinStore {
  constructor(private readonly journal: Journal) {}

  all(): DeviceRecord[] {
    return [...this.journal.entries<DeviceRecord>(DEVICES)].map(([, v]) => v);
  }

  /** the record is kept as given: callers replace records, never change one in place */
  put(dev: DeviceRecord): void {
    this.journal.set(DEVICES, dev.id, dev);
  }

  remove(id: string): void {
    this.journal.delete(DEVICES, id);
  }

  /** resolves when every write so far is on disk */
  commit(): Promise<void> {
    return this.journal.commit();
  }

  close(): Promise<void> {
    return this.journal.close();
  }
}
