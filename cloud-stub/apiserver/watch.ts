/**
 * `?watch=true`: a stream of `{type, object}` JSON lines (ADDED, MODIFIED, DELETED), from the store's
 * changes and status writes, filtered by type, namespace and selectors. With `resourceVersion=N` it
 * starts after N: the last events are kept in a ring, so a watch that follows a list misses nothing;
 * one older than the ring (or than this cloudcore's start) is 410 Expired, and kubectl lists again.
 * Without a resourceVersion (or with 0) it starts with every matching object as ADDED.
 */
import type { ServerResponse } from 'node:http';
import type { ApiPath, ResourceKind } from '../../api/resources.js';
import type { KubeObject, ObjectStore, StoredObject } from '../store/objects.js';
import { ApiError } from './status.js';
import type { Selector } from './selectors.js';

interface WatchEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  kind: ResourceKind;
  namespace: string;
  name: string;
  /** what a DELETED event shows: the object as it was */
  gone?: KubeObject;
}

interface Watcher {
  t: ApiPath;
  matches: Selector;
  res: ServerResponse;
  encode: (type: string, o: KubeObject) => unknown;
}

const RING = 10_000;
/** a watcher that cannot keep up is dropped, not buffered without bound */
const MAX_BUFFERED = 4 * 1024 * 1024;
const MAX_WATCHERS = 256;

export class WatchHub {
  private readonly ring: WatchEvent[] = [];
  private floor: number;
  private readonly watchers = new Set<Watcher>();

  constructor(
    private readonly store: ObjectStore,
    private readonly present: (o: StoredObject) => KubeObject,
  ) {
    this.floor = store.currentRv();
    store.events.on('change', (ev) => {
      const ns = ev.object.metadata.namespace ?? 'null';
      this.push({ rv: ev.rv, type: ev.type === 'added' ? 'ADDED' : ev.type === 'deleted' ? 'DELETED' : 'MODIFIED', kind: ev.kind, namespace: ns, name: ev.object.metadata.name, ...(ev.type === 'deleted' ? { gone: { ...ev.object, metadata: { ...ev.object.metadata, resourceVersion: String(ev.rv) } } } : {}) });
    });
    store.events.on('status', (ev) => {
      if (ev.rv === undefined) return;
      this.push({ rv: ev.rv, type: 'MODIFIED', kind: ev.kind, namespace: ev.namespace, name: ev.name });
      // a Device's status is its DeviceStatus too
      if (ev.kind === 'device') this.push({ rv: ev.rv, type: 'MODIFIED', kind: 'devicestatus', namespace: ev.namespace, name: ev.name });
    });
  }

  get size(): number {
    return this.watchers.size;
  }

  private objectOf(e: WatchEvent): KubeObject | undefined {
    if (e.gone) return e.gone;
    const kind = e.kind === 'devicestatus' ? 'device' : e.kind;
    const o = this.store.get(kind, e.namespace, e.name);
    if (!o) return undefined;
    return this.present(e.kind === 'devicestatus' ? { ...o, kind: 'devicestatus' } : o);
  }

  private send(w: Watcher, e: WatchEvent): void {
    if (e.kind !== w.t.type.kind) return;
    if (w.t.type.namespaced && w.t.namespace !== undefined && e.namespace !== w.t.namespace) return;
    const o = this.objectOf(e);
    if (!o || !w.matches(o)) return;
    if (w.res.writableLength > MAX_BUFFERED) return void w.res.destroy();
    w.res.write(JSON.stringify(w.encode(e.type, o)) + '\n');
  }

  private push(e: WatchEvent): void {
    this.ring.push(e);
    if (this.ring.length > RING) this.floor = (this.ring.shift() as WatchEvent).rv;
    for (const w of this.watchers) this.send(w, e);
  }

  /** Starts a watch on `res`; `encode` shapes each event (an object, or a Table of one row). */
  watch(t: ApiPath, matches: Selector, resourceVersion: string | null, timeoutSeconds: string | null, res: ServerResponse, encode: (type: string, o: KubeObject) => unknown): void {
    const from = resourceVersion === null || resourceVersion === '' || resourceVersion === '0' ? undefined : Number(resourceVersion);
    if (from !== undefined && (!Number.isSafeInteger(from) || from < this.floor)) {
      throw new ApiError('Expired', `too old resource version: ${resourceVersion} (${this.floor})`);
    }
    if (this.watchers.size >= MAX_WATCHERS) throw new ApiError('TooManyRequests', `${MAX_WATCHERS} watches are open; close one`);
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const w: Watcher = { t, matches, res, encode };
    if (from === undefined) {
      const kind = t.type.kind === 'devicestatus' ? 'device' : t.type.kind;
      for (const o of this.store.list(kind, t.type.namespaced ? t.namespace : undefined)) {
        this.send(w, { rv: o.rv, type: 'ADDED', kind: t.type.kind, namespace: o.namespace, name: o.name });
      }
    } else {
      for (const e of this.ring) if (e.rv > from) this.send(w, e);
    }
    this.watchers.add(w);
    const timeout = Number(timeoutSeconds ?? 0);
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    res.on('close', () => {
      clearTimeout(timer);
      this.watchers.delete(w);
    });
  }

  close(): void {
    for (const w of this.watchers) w.res.destroy();
    this.watchers.clear();
  }
}
