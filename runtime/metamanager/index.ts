/**
 * MetaManager: keeps the cloud's objects in the edge's database, so the edge works on when the
 * cloud is away. A cloud resource message is acknowledged only once it is on disk; a resent or
 * older version is acknowledged without being applied again.
 */
import { throttled } from '../../core/log.js';
import type { Module, ModuleContext } from '../../core/module.js';
import { openDb, type Db } from '../../core/db.js';
import { errorText } from '../../core/errors.js';
import { Group, Operation, ackOf, idSequence, newMessage, parseResource, responseTo, type Message, type MessageRoute } from '../../core/message.js';
import type { MetaManagerConfig } from '../../api/config/edgecore.js';
import type { KubeObject } from '../../api/object.js';
import { EDGEHUB, HubEvent } from '../edgehub/index.js';
import { META_SCHEMA, MetaStore, type ApplyResult } from './store.js';
import { createMetaServer, type MetaServer } from './metaserver.js';
import type { ReadinessCheck } from '../../core/health.js';
import { counter, type Family } from '../../core/metrics.js';
import { Outbox } from './outbox.js';
import { OutboxSender } from './outbox-sender.js';
import { openJournal, type Journal } from '../../core/journal.js';
import type { ObjectChange, ObjectSource } from './source.js';

export const METAMANAGER = 'metamanager';

export interface MetaManager extends Module {
  store(): MetaStore | undefined;
  outbox(): Outbox | undefined;
  /** the objects of these kinds as the cloud sent them (devices and models for DeviceTwin; pods, configmaps, secrets for Edged) */
  source(kinds: readonly string[]): ObjectSource;
  /** a message for the cloud, into the outbox; resolves once it is on disk */
  enqueue(route: OutboxRoute, content: unknown): Promise<void>;
  /** each part of the edge, ok or why not: the store (this module's) and the others' (deps.readiness) */
  readiness(): ReadinessCheck[];
  /** ms the outbox has waited with the link up and nothing acknowledged (0: empty, draining, or no link) */
  outboxStalledMs(): number;
  metrics(): Family[];
}

export type OutboxRoute = Pick<MessageRoute, 'group' | 'operation' | 'resource'>;

export interface MetaManagerDeps {
  config: MetaManagerConfig;
  dataSource: string;
  /** an object as MetaServer shows it to apps (a pod with its live status from Edged) */
  present?: (kind: string, obj: KubeObject) => KubeObject;
  /** the other modules' parts of MetaServer's /readyz (the store is this module's own) */
  readiness?: () => ReadinessCheck[];
  /** MetaServer's /metrics */
  metrics?: () => string;
}

/** beyond this many objects the edge does not list them on connect (the frame would grow past the cloud's limit) */
const MAX_HOLDINGS_TOLD = 10_000;

export function createMetaManager(deps: MetaManagerDeps): MetaManager {
  return new MetaManagerModule(deps);
}

/** a cloud resource message applied to the store: insert, update or delete at its resourceversion */
function applyMessage(store: MetaStore, msg: Message): ApplyResult {
  const key = parseResource(msg.route.resource);
  if (!key) throw new Error(`resource ${JSON.stringify(msg.route.resource)} is not <namespace>/<kind>/<name>`);
  const rv = Number(msg.header.resourceversion ?? NaN);
  if (!Number.isSafeInteger(rv) || rv < 0) throw new Error(`message for ${msg.route.resource} has no valid resourceversion`);
  switch (msg.route.operation) {
    case Operation.insert:
    case Operation.update:
      return store.put(msg.route.resource, key.kind, rv, msg.content);
    case Operation.delete:
      return store.remove(msg.route.resource, rv);
    default:
      throw new Error(`operation ${JSON.stringify(msg.route.operation)} is not insert, update or delete`);
  }
}

/** what listeners are told of an applied message */
function changeOf(msg: Message): ObjectChange | undefined {
  const key = parseResource(msg.route.resource);
  if (!key) return undefined;
  const object = msg.route.operation === Operation.delete ? {} : { object: msg.content as KubeObject };
  return { operation: msg.route.operation as ObjectChange['operation'], kind: key.kind, namespace: key.namespace, name: key.name, rv: Number(msg.header.resourceversion), ...object };
}

class MetaManagerModule implements MetaManager {
  readonly name = METAMANAGER;
  readonly group = Group.meta;
  private ctx: ModuleContext | undefined;
  private db: Db | undefined;
  private metaStore: MetaStore | undefined;
  private metaServer: MetaServer | undefined;
  private box: Outbox | undefined;
  private sender: OutboxSender | undefined;
  private journal: Journal | undefined;
  private refused = 0;
  private warnRefused = (m: string): void => this.ctx?.log.warn(m);
  private readonly listeners: { kinds: readonly string[]; listener: (c: ObjectChange) => void }[] = [];
  private readonly nextId = idSequence();
  /** the outbox's commit in the making, and the newest message it holds: the sender is told once per write, not once per message */
  private commitGroup: { promise: Promise<void>; upTo: number } | undefined;

  constructor(private readonly deps: MetaManagerDeps) {}

  metrics(): Family[] {
    return [counter('edgecore_cloud_messages_refused_total', 'Messages from the cloud refused by the store (a malformed or unknown object), answered with an error.', this.refused)];
  }

  store(): MetaStore | undefined {
    return this.metaStore;
  }

  outbox(): Outbox | undefined {
    return this.box;
  }

  outboxStalledMs(): number {
    return this.sender?.stalledMs() ?? 0;
  }

  readiness(): ReadinessCheck[] {
    const broken = this.db?.failing() ?? this.journal?.failing();
    const store = { name: 'store', ok: this.metaStore !== undefined && broken === undefined, detail: broken ?? (this.metaStore ? this.deps.dataSource : 'not open') };
    return [store, ...(this.deps.readiness?.() ?? [])];
  }

  /**
   * Puts a message for the cloud into the outbox; resolves once it is on disk. EventBus (uploads)
   * and DeviceTwin (reports) call it directly: it is their hot path, and a bus round trip would add
   * an envelope and a timer to every message.
   */
  // a property, not a method: the modules are handed it as a function
  readonly enqueue = (route: OutboxRoute, content: unknown): Promise<void> => {
    const { box, sender } = this;
    if (!box || !sender) return Promise.reject(new Error('the outbox is not open'));
    sender.adding();
    let seq: number;
    try {
      seq = box.add(route.resource, newMessage({ ...route, source: METAMANAGER }, content, { id: this.nextId() }));
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const promise = box.commit();
    if (this.commitGroup?.promise === promise) {
      this.commitGroup.upTo = seq;
      return promise;
    }
    const group = (this.commitGroup = { promise, upTo: seq });
    promise.then(
      () => sender.durable(group.upTo),
      () => undefined, // each caller is told; the messages stay queued for the next commit
    );
    return promise;
  };

  source(kinds: readonly string[]): ObjectSource {
    return {
      replay: () =>
        kinds.flatMap((kind) =>
          (this.metaStore?.list(kind) ?? []).map((o): ObjectChange => {
            const key = parseResource(o.key) as { namespace: string; name: string };
            return { operation: 'insert', kind, namespace: key.namespace, name: key.name, rv: o.rv, object: o.value as KubeObject };
          }),
        ),
      subscribe: (listener) => void this.listeners.push({ kinds, listener }),
    };
  }

  /** In the same write as the object: what a listener writes is committed (and acknowledged) with it. */
  private tell(msg: Message): void {
    const change = changeOf(msg);
    if (!change) return;
    for (const { kinds, listener } of this.listeners) {
      if (!kinds.includes(change.kind)) continue;
      try {
        listener(change);
      } catch (err) {
        this.ctx?.log.error(`a listener failed on ${msg.route.resource}: ${errorText(err)}`);
      }
    }
  }

  /**
   * Tells the cloud which store this edge holds (a fresh one is sent everything) and what it holds in
   * it: the cloud's own record can be behind the truth (a deletion applied here whose acknowledgement
   * a killed cloudcore never wrote), and it then sends what is missing.
   */
  private announce(): void {
    const store = this.metaStore;
    if (!store) return;
    const holds = store.holdings(MAX_HOLDINGS_TOLD);
    const content = { storeId: store.storeId(), ...(holds ? { holds } : {}) };
    this.db
      ?.commit()
      .then(() => this.ctx?.bus.send(EDGEHUB, newMessage({ source: METAMANAGER, group: Group.resource, operation: Operation.sync, resource: 'node' }, content)))
      .catch((err: unknown) => this.ctx?.log.warn(`cannot announce the store to the cloud: ${errorText(err)}`));
  }

  private handle(msg: Message): void {
    if (msg.route.source === EDGEHUB && msg.route.operation === HubEvent.connected) {
      this.announce();
      return this.sender?.linkUp((msg.content as { link?: number } | undefined)?.link);
    }
    if (msg.route.source === EDGEHUB && msg.route.operation === HubEvent.disconnected) return this.sender?.linkDown();
    this.fromCloud(msg);
  }

  private fromCloud(msg: Message): void {
    let result: ApplyResult;
    try {
      if (!this.metaStore) throw new Error('store is not open');
      result = applyMessage(this.metaStore, msg);
    } catch (err) {
      this.refused++;
      this.warnRefused(`refused ${msg.route.operation} ${msg.route.resource}: ${errorText(err)}`);
      try {
        this.ctx?.bus.send(EDGEHUB, responseTo(msg, METAMANAGER, { error: errorText(err) }));
      } catch {
        /* the link is gone; the cloud resends */
      }
      return;
    }
    if (result === 'applied') this.tell(msg);
    // acknowledge only what is on disk; not awaited, so a burst shares one write (commits resolve in order)
    this.db
      ?.commit()
      .then(() => {
        if (result === 'applied') {
          this.ctx?.log.info(`applied ${msg.route.operation} ${msg.route.resource} rv=${msg.header.resourceversion ?? ''}`);
          this.metaServer?.changed(msg.route.resource, msg.route.operation);
        } else {
          this.ctx?.log.debug(`already have ${msg.route.resource} rv>=${msg.header.resourceversion ?? ''}, acknowledging again`);
        }
        this.ctx?.bus.send(EDGEHUB, ackOf(msg, METAMANAGER));
      })
      // not acknowledged means the cloud sends it again: nothing is lost
      .catch((err: unknown) => this.ctx?.log.warn(`not acknowledging ${msg.route.resource}: ${errorText(err)}`));
  }

  async start(c: ModuleContext): Promise<void> {
    this.warnRefused = throttled((m) => c.log.warn(m));
    this.ctx = c;
    const db = (this.db = await openDb({ path: this.deps.dataSource, schema: META_SCHEMA, log: c.log, batchMs: 20 }));
    const store = (this.metaStore = new MetaStore(db));
    store.migrate();
    await db.commit();
    // a journal of its own: a fresh database (a new store id) starts a fresh outbox sequence
    this.journal = await openJournal(this.deps.dataSource === ':memory:' ? ':memory:' : `${this.deps.dataSource}.outbox`, c.log.child('outbox'), { batchMs: 2 });
    const box = (this.box = new Outbox(this.journal, store.storeId(), this.deps.config.outboxLimit, c.log.child('outbox')));
    this.sender = new OutboxSender(box, c);
    if (box.stats().queued > 0) c.log.info(`${box.stats().queued} message(s) wait in the outbox for the cloud`);
    c.bus.register(METAMANAGER, Group.meta, (msg) => this.handle(msg), { queueLimit: 10_000 });
    if (!this.deps.config.metaServer.enable) return;
    const { metrics, present } = this.deps;
    this.metaServer = createMetaServer({ address: this.deps.config.metaServer.server, store, log: c.log, outbox: () => this.box?.stats(), readiness: () => this.readiness(), ...(metrics ? { metrics } : {}), ...(present ? { present } : {}) });
    await this.metaServer.start();
  }

  async stop(): Promise<void> {
    this.ctx?.bus.unregister(METAMANAGER);
    await this.metaServer?.stop();
    await this.journal?.close();
    await this.db?.close();
    this.db = undefined;
  }
}
