/**
 * The cloud's object store: Kubernetes-style objects with a uid and a resourceVersion from one
 * global counter, and, per node, the resourceVersion of each object that node has acknowledged
 * (KubeEdge's ObjectSync), so a reconnecting edge is sent exactly what changed. Held in memory,
 * made durable by the journal. Returned objects are shared: callers must not change them.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Journal } from '../../core/journal.js';

import type { KubeObject, ObjectMeta } from '../../api/object.js';
export type { KubeObject, ObjectMeta };

import { RESOURCES, type ResourceKind } from '../../api/resources.js';

/** kinds as they appear in route.resource (`default/device/thermo-1`) */
export type Kind = ResourceKind;
const KINDS: readonly Kind[] = RESOURCES.map((r) => r.kind);
/** kinds whose status an edge reports, kept apart from the object (see StatusRecord) */
export type StatusKind = 'device' | 'pod' | 'node' | 'rule';

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

/** a status written: the object itself is unchanged, but what the API shows of it has a new resourceVersion */
export interface StatusEvent {
  kind: StatusKind;
  namespace: string;
  name: string;
  rv?: number;
}

/** An edge outbox's message number, `<storeId>/<seq>` in its resourceversion; undefined for anything else. */
export function outboxSequence(version: string | undefined): { storeId: string; seq: number } | undefined {
  const m = /^(.+)\/(\d+)$/.exec(version ?? '');
  return m ? { storeId: m[1] as string, seq: Number(m[2]) } : undefined;
}

export function resourceOf(kind: Kind, namespace: string, name: string): string {
  return `${namespace}/${kind}/${name}`;
}

const OBJECTS = 'objects';
const SYNC = 'objectsync';
const COUNTERS = 'counters';
const NODE_KEYS = 'nodekeys';
const NODE_STORES = 'nodestores';
const UPLOADS = 'uploads';
/** uploads that failed below the mark, kept for their resend: more than an edge has in flight */
const UPLOAD_HOLES = 1024;

interface UploadMark {
  storeId: string;
  seq: number;
  holes?: number[];
}
const STATUS_TABLE: Record<StatusKind, string> = { device: 'devicestatus', pod: 'podstatus', node: 'nodestatus', rule: 'rulestatus' };

/**
 * An object's status as its edge last reported it, and which report that was (`<storeId>/<seq>` of
 * the edge's outbox; `cloud`/0 for what the cloud itself wrote, such as an unschedulable pod).
 */
export interface StatusRecord {
  status: Record<string, unknown>;
  node: string;
  storeId: string;
  seq: number;
  /** the resourceVersion it was written at: a status write moves the object's, as in Kubernetes */
  rv?: number;
}

/** a node acknowledged a version of an object (or its deletion) */
export interface AckEvent {
  node: string;
  resource: string;
  rv: number;
  deleted: boolean;
}

export class ObjectStore {
  readonly events = new EventEmitter<{ change: [ChangeEvent]; status: [StatusEvent]; acked: [AckEvent] }>();
  private readonly byKind = new Map<Kind, Map<string, StoredObject>>(KINDS.map((k) => [k, new Map()]));
  private readonly acked = new Map<string, Map<string, number>>();
  /** the same, by resource: which nodes hold it (a change is sent to them without a look at every node) */
  private readonly holders = new Map<string, Set<string>>();
  /** `<kind>\n<node>` → `<namespace>/<name>` of the objects whose spec.nodeName names that node */
  private readonly byNode = new Map<string, Set<string>>();
  private rv: number;

  constructor(private readonly journal: Journal) {
    this.events.setMaxListeners(50);
    this.rv = journal.get<number>(COUNTERS, 'rv') ?? 0;
    for (const [, o] of journal.entries<StoredObject>(OBJECTS)) {
      this.byKind.get(o.kind)?.set(`${o.namespace}/${o.name}`, o);
      this.index(o, true);
    }
    for (const [key, rv] of journal.entries<number>(SYNC)) {
      const [node, resource] = key.split('\n') as [string, string];
      this.ackedMap(node).set(resource, rv);
      this.hold(node, resource, true);
    }
  }

  private hold(node: string, resource: string, holds: boolean): void {
    let s = this.holders.get(resource);
    if (holds) {
      if (!s) this.holders.set(resource, (s = new Set()));
      s.add(node);
    } else if (s?.delete(node) && s.size === 0) {
      this.holders.delete(resource);
    }
  }

  /** the nodes that acknowledged holding `resource` */
  holdersOf(resource: string): ReadonlySet<string> {
    return this.holders.get(resource) ?? new Set();
  }

  private ackedMap(node: string): Map<string, number> {
    let m = this.acked.get(node);
    if (!m) this.acked.set(node, (m = new Map()));
    return m;
  }

  private index(o: StoredObject, add: boolean): void {
    const node = o.object.spec?.nodeName;
    if (typeof node !== 'string' || node === '') return;
    const key = `${o.kind}\n${node}`;
    let set = this.byNode.get(key);
    if (add) {
      if (!set) this.byNode.set(key, (set = new Set()));
      set.add(`${o.namespace}/${o.name}`);
    } else if (set?.delete(`${o.namespace}/${o.name}`) && set.size === 0) {
      this.byNode.delete(key);
    }
  }

  /** objects of a kind whose spec.nodeName is `node` */
  onNode(kind: Kind, node: string): StoredObject[] {
    const out: StoredObject[] = [];
    for (const k of this.byNode.get(`${kind}\n${node}`) ?? []) {
      const o = this.byKind.get(kind)?.get(k);
      if (o) out.push(o);
    }
    return out;
  }

  private nextRv(): number {
    this.rv++;
    this.journal.set(COUNTERS, 'rv', this.rv);
    return this.rv;
  }

  currentRv(): number {
    return this.rv;
  }

  get(kind: Kind, namespace: string, name: string): StoredObject | undefined {
    return this.byKind.get(kind)?.get(`${namespace}/${name}`);
  }

  list(kind: Kind, namespace?: string): StoredObject[] {
    const all = [...(this.byKind.get(kind)?.values() ?? [])];
    const out = namespace === undefined ? all : all.filter((o) => o.namespace === namespace);
    return out.sort((a, b) => (a.namespace === b.namespace ? a.name.localeCompare(b.name) : a.namespace.localeCompare(b.namespace)));
  }

  /** `obj` as put() stores it at version `rv` (uid, creationTimestamp and resourceVersion stamped), not stored: a dry run shows it */
  stamped(kind: Kind, namespace: string, obj: KubeObject, rv: number): StoredObject {
    const prev = this.get(kind, namespace, obj.metadata.name);
    // Object.assign, not `{ ...meta, uid }`: V8 (11.3, Node 20) gives each object spread and then
    // given a property of its own a hidden class of its own, ~300 bytes kept with every stored object
    const metadata: ObjectMeta = Object.assign({}, obj.metadata, {
      uid: prev?.object.metadata.uid ?? obj.metadata.uid ?? randomUUID(),
      // seconds, as Kubernetes writes times
      creationTimestamp: prev?.object.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      resourceVersion: String(rv),
    });
    if (namespace !== CLUSTER_NAMESPACE) metadata.namespace = namespace;
    return { kind, namespace, name: obj.metadata.name, rv, object: { ...obj, metadata } };
  }

  /**
   * Creates or replaces an object, stamping uid, resourceVersion and creationTimestamp. Resolves once
   * on disk; with `lazy`, at once, persisting within a second (for what the system can write again).
   */
  async put(kind: Kind, namespace: string, obj: KubeObject, opts: { lazy?: boolean } = {}): Promise<StoredObject> {
    const name = obj.metadata.name;
    const prev = this.get(kind, namespace, name);
    const stored = this.stamped(kind, namespace, obj, this.nextRv());
    const rv = stored.rv;
    if (prev) this.index(prev, false);
    this.index(stored, true);
    this.byKind.get(kind)?.set(`${namespace}/${name}`, stored);
    this.journal.set(OBJECTS, resourceOf(kind, namespace, name), stored);
    if (opts.lazy) this.journal.persistLater();
    else await this.journal.commit();
    this.events.emit('change', { type: prev ? 'modified' : 'added', kind, rv, object: stored.object });
    return stored;
  }

  async delete(kind: Kind, namespace: string, name: string): Promise<StoredObject | undefined> {
    const prev = this.get(kind, namespace, name);
    if (!prev) return undefined;
    this.index(prev, false);
    this.byKind.get(kind)?.delete(`${namespace}/${name}`);
    this.journal.delete(OBJECTS, resourceOf(kind, namespace, name));
    if (kind in STATUS_TABLE) this.journal.delete(STATUS_TABLE[kind as StatusKind], `${namespace}/${name}`);
    const removed = { ...prev, rv: this.nextRv() };
    await this.journal.commit();
    this.events.emit('change', { type: 'deleted', kind, rv: removed.rv, object: removed.object });
    return removed;
  }

  // --- status: kept apart from the object, so a report does not send the object back to its edge ---

  status(kind: StatusKind, namespace: string, name: string): StatusRecord | undefined {
    return this.journal.get<StatusRecord>(STATUS_TABLE[kind], `${namespace}/${name}`);
  }

  /**
   * Writes a status reported by `node`, unless a newer report of that edge's store is already
   * written (a resend, or a late one): 'stale' then. Resolves once on disk.
   */
  async reportStatus(kind: StatusKind, namespace: string, name: string, record: StatusRecord): Promise<'applied' | 'stale'> {
    const last = this.status(kind, namespace, name);
    if (last && last.node === record.node && last.storeId === record.storeId && record.seq !== 0 && record.seq <= last.seq) return 'stale';
    const rv = this.nextRv();
    this.journal.set(STATUS_TABLE[kind], `${namespace}/${name}`, Object.assign({}, record, { rv })); // kept: see stamped()
    await this.journal.commit();
    this.events.emit('status', { kind, namespace, name, rv });
    return 'applied';
  }

  /** Writes a status the system keeps itself (a rule's counters), persisted within a second. */
  setStatusLazily(kind: StatusKind, namespace: string, name: string, status: Record<string, unknown>): void {
    const rv = this.nextRv();
    this.journal.set(STATUS_TABLE[kind], `${namespace}/${name}`, { status, node: '', storeId: 'cloud', seq: 0, rv } satisfies StatusRecord);
    this.journal.persistLater(1000);
    this.events.emit('status', { kind, namespace, name, rv });
  }

  // --- ObjectSync: what each node has acknowledged ---

  ackedFor(node: string): ReadonlyMap<string, number> {
    return this.acked.get(node) ?? new Map();
  }

  /**
   * Records an acknowledgement; a deletion's ack removes the record. Persisted lazily: a record
   * lost in a crash only makes the cloud send that object again, and the edge skips a version it has.
   */
  recordAck(node: string, resource: string, rv: number, deleted: boolean): void {
    const m = this.ackedMap(node);
    const have = m.get(resource);
    const key = `${node}\n${resource}`;
    if (deleted) {
      if (have !== undefined && have <= rv) {
        m.delete(resource);
        this.hold(node, resource, false);
        this.journal.delete(SYNC, key);
      }
    } else if (have === undefined || rv > have) {
      m.set(resource, rv);
      this.hold(node, resource, true);
      this.journal.set(SYNC, key, rv);
    }
    this.journal.persistLater();
    this.events.emit('acked', { node, resource, rv, deleted });
  }

  /**
   * Takes what a node says it holds (resource → version) as the truth: records it lacks are added,
   * ones it does not hold are dropped. Returns how many records changed.
   */
  recordHoldings(node: string, holds: Readonly<Record<string, number>>): number {
    const m = this.ackedMap(node);
    let changed = 0;
    for (const resource of [...m.keys()]) {
      if (Object.hasOwn(holds, resource)) continue;
      m.delete(resource);
      this.hold(node, resource, false);
      this.journal.delete(SYNC, `${node}\n${resource}`);
      changed++;
    }
    for (const [resource, rv] of Object.entries(holds)) {
      if (m.get(resource) === rv) continue;
      m.set(resource, rv);
      this.hold(node, resource, true);
      this.journal.set(SYNC, `${node}\n${resource}`, rv);
      changed++;
    }
    if (changed > 0) this.journal.persistLater();
    return changed;
  }

  /** Forgets what a node acknowledged, so it is sent everything again. */
  resetSync(node: string): void {
    for (const resource of this.acked.get(node)?.keys() ?? []) {
      this.journal.delete(SYNC, `${node}\n${resource}`);
      this.hold(node, resource, false);
    }
    this.acked.delete(node);
    this.journal.persistLater();
  }

  /** Forgets what a deleted node held, its store and which key owned its name. */
  forgetNode(node: string): void {
    this.resetSync(node);
    this.journal.delete(NODE_KEYS, node);
    this.journal.delete(NODE_STORES, node);
    this.journal.persistLater();
  }

  /**
   * Takes the outbox sequence `<storeId>/<seq>` of an upload: true (and recorded, durably) when it is
   * new, false when this node's store already delivered it (a resend after a crash or a lost ack).
   * `first`, when given, runs for a new upload before it is recorded.
   */
  async takeUpload(node: string, version: string, first?: () => Promise<void>): Promise<boolean> {
    const n = outboxSequence(version);
    if (!n) {
      await first?.();
      return true; // not from an outbox: nothing to deduplicate by
    }
    const { storeId, seq } = n;
    const last = this.uploadsOf(node, storeId);
    if (seq <= last.seq && !last.holes?.includes(seq)) return false;
    // what takes the upload elsewhere (the router's queue, its own journal) is on disk before the
    // upload counts as taken here: a crash between the two then means a resend, never a loss
    try {
      await first?.();
    } catch (err) {
      // uploads are taken at once, so a later one may still pass the mark: this one stays open for its resend
      const now = this.uploadsOf(node, storeId);
      if (!now.holes?.includes(seq)) this.journal.set(UPLOADS, node, Object.assign({}, now, { holes: [...(now.holes ?? []), seq].slice(-UPLOAD_HOLES) }));
      throw err;
    }
    // uploads taken at once may finish out of order: the mark only moves forward
    const now = this.uploadsOf(node, storeId);
    const holes = now.holes?.filter((h) => h !== seq);
    this.journal.set(UPLOADS, node, { storeId, seq: Math.max(seq, now.seq), ...(holes?.length ? { holes } : {}) });
    await this.journal.commit();
    return true;
  }

  /** the newest upload taken from a node's store, and those below it not taken yet */
  private uploadsOf(node: string, storeId: string): UploadMark {
    const m = this.journal.get<UploadMark>(UPLOADS, node);
    return m && m.storeId === storeId ? m : { storeId, seq: 0 };
  }

  /**
   * Records the id of the store a node announces; true when it differs from the last one (the edge
   * started afresh, and what it acknowledged before is gone).
   */
  nodeStoreChanged(node: string, storeId: string): boolean {
    const before = this.journal.get<string>(NODE_STORES, node);
    if (before === storeId) return false;
    this.journal.set(NODE_STORES, node, storeId);
    this.journal.persistLater();
    return before !== undefined;
  }

  // --- which key a node name belongs to (sha256 of its public key) ---

  nodeKey(node: string): string | undefined {
    return this.journal.get<string>(NODE_KEYS, node);
  }

  async bindNodeKey(node: string, fingerprint: string): Promise<void> {
    if (this.journal.get<string>(NODE_KEYS, node) === fingerprint) return;
    this.journal.set(NODE_KEYS, node, fingerprint);
    await this.journal.commit();
  }
}
