/**
 * The cloud's object store: Kubernetes-style objects with a uid and a resourceVersion from one
 * global counter, and, per node, the resourceVersion of each object that node has acknowledged
 * (KubeEdge's ObjectSync), so a reconnecting edge is sent exactly what changed.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Db } from '../../runtime/core/db.js';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

/** kinds as they appear in route.resource (`default/device/thermo-1`) */
export type Kind = 'node' | 'device' | 'devicemodel';

export const CLUSTER_NAMESPACE = 'null';

export interface StoredObject {
  kind: Kind;
  namespace: string;
  name: string;
  rv: number;
  object: KubeObject;
}

export interface ChangeEvent {
  type: 'added' | 'modified' | 'deleted';
  kind: Kind;
  rv: number;
  object: KubeObject;
}

export const OBJECT_SCHEMA = `
CREATE TABLE IF NOT EXISTS objects (kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, rv INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (kind, namespace, name));
CREATE TABLE IF NOT EXISTS objectsync (node TEXT NOT NULL, resource TEXT NOT NULL, rv INTEGER NOT NULL, PRIMARY KEY (node, resource));
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO counters VALUES ('rv', 0);
`;

export function resourceOf(kind: Kind, namespace: string, name: string): string {
  return `${namespace}/${kind}/${name}`;
}

export class ObjectStore {
  readonly events = new EventEmitter<{ change: [ChangeEvent] }>();
  constructor(private readonly db: Db) {
    this.events.setMaxListeners(50);
  }

  private nextRv(): number {
    this.db.run(`UPDATE counters SET value = value + 1 WHERE name = 'rv'`);
    return Number(this.db.get(`SELECT value FROM counters WHERE name = 'rv'`)?.value ?? 0);
  }

  currentRv(): number {
    return Number(this.db.get(`SELECT value FROM counters WHERE name = 'rv'`)?.value ?? 0);
  }

  get(kind: Kind, namespace: string, name: string): StoredObject | undefined {
    const row = this.db.get(`SELECT rv, body FROM objects WHERE kind = ? AND namespace = ? AND name = ?`, [kind, namespace, name]);
    if (!row) return undefined;
    return { kind, namespace, name, rv: Number(row.rv), object: JSON.parse(String(row.body)) as KubeObject };
  }

  list(kind: Kind, namespace?: string): StoredObject[] {
    const rows =
      namespace === undefined
        ? this.db.all(`SELECT namespace, name, rv, body FROM objects WHERE kind = ? ORDER BY namespace, name`, [kind])
        : this.db.all(`SELECT namespace, name, rv, body FROM objects WHERE kind = ? AND namespace = ? ORDER BY name`, [kind, namespace]);
    return rows.map((r) => ({ kind, namespace: String(r.namespace), name: String(r.name), rv: Number(r.rv), object: JSON.parse(String(r.body)) as KubeObject }));
  }

  /** Creates or replaces an object, stamping uid, resourceVersion and creationTimestamp; resolves once durable. */
  async put(kind: Kind, namespace: string, obj: KubeObject): Promise<StoredObject> {
    const name = obj.metadata.name;
    const stored = this.db.tx(() => {
      const prev = this.get(kind, namespace, name);
      const rv = this.nextRv();
      const metadata: ObjectMeta = {
        ...obj.metadata,
        uid: prev?.object.metadata.uid ?? obj.metadata.uid ?? randomUUID(),
        creationTimestamp: prev?.object.metadata.creationTimestamp ?? new Date().toISOString(),
        resourceVersion: String(rv),
      };
      if (namespace !== CLUSTER_NAMESPACE) metadata.namespace = namespace;
      const object: KubeObject = { ...obj, metadata };
      this.db.run(`INSERT OR REPLACE INTO objects (kind, namespace, name, rv, body) VALUES (?, ?, ?, ?, ?)`, [kind, namespace, name, rv, JSON.stringify(object)]);
      return { kind, namespace, name, rv, object, existed: prev !== undefined };
    });
    await this.db.commit();
    this.events.emit('change', { type: stored.existed ? 'modified' : 'added', kind, rv: stored.rv, object: stored.object });
    return stored;
  }

  async delete(kind: Kind, namespace: string, name: string): Promise<StoredObject | undefined> {
    const removed = this.db.tx(() => {
      const prev = this.get(kind, namespace, name);
      if (!prev) return undefined;
      this.db.run(`DELETE FROM objects WHERE kind = ? AND namespace = ? AND name = ?`, [kind, namespace, name]);
      return { ...prev, rv: this.nextRv() };
    });
    if (!removed) return undefined;
    await this.db.commit();
    this.events.emit('change', { type: 'deleted', kind, rv: removed.rv, object: removed.object });
    return removed;
  }

  // --- ObjectSync: what each node has acknowledged ---

  ackedFor(node: string): Map<string, number> {
    const out = new Map<string, number>();
    for (const r of this.db.all(`SELECT resource, rv FROM objectsync WHERE node = ?`, [node])) out.set(String(r.resource), Number(r.rv));
    return out;
  }

  /** Records an acknowledgement; a deletion's ack removes the record. Persisted with the next batch. */
  recordAck(node: string, resource: string, rv: number, deleted: boolean): void {
    if (deleted) this.db.run(`DELETE FROM objectsync WHERE node = ? AND resource = ? AND rv <= ?`, [node, resource, rv]);
    else this.db.run(`INSERT INTO objectsync (node, resource, rv) VALUES (?, ?, ?) ON CONFLICT (node, resource) DO UPDATE SET rv = excluded.rv WHERE excluded.rv > objectsync.rv`, [node, resource, rv]);
    void this.db.commit().catch(() => undefined);
  }

  forgetNode(node: string): void {
    this.db.run(`DELETE FROM objectsync WHERE node = ?`, [node]);
    void this.db.commit().catch(() => undefined);
  }
}
