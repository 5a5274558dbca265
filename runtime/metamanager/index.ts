/**
 * MetaManager: keeps the cloud's objects in the edge's database, so the edge works on when the
 * cloud is away. A cloud resource message is acknowledged only once it is on disk; a resent or
 * older version is acknowledged without being applied again.
 */
import { throttled } from '../../core/log.js';
import type { Module, ModuleContext } from '../../core/module.js';
import { openDb, type Db } from '../../core/db.js';
import { errorText } from '../../core/errors.js';
import { ACK_CONTENT, Group, Operation, ackOf, newMessage, parseResource, responseTo, type Message, type MessageRoute } from '../../core/message.js';
import type { MetaManagerConfig } from '../../api/config/edgecore.js';
import type { KubeObject } from '../../api/object.js';
import { EDGEHUB, HubEvent } from '../edgehub/index.js';
import { META_SCHEMA, MetaStore, type ApplyResult } from './store.js';
import { createMetaServer, type MetaServer } from './metaserver.js';
import type { ReadinessCheck } from '../../core/health.js';
import { counter, type Family } from '../../core/metrics.js';
import { Outbox } from './outbox.js';
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


/** messages of the outbox in flight to the cloud at once */
const OUTBOX_WINDOW = 128;

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
  let ctx: ModuleContext | undefined;
  let db: Db | undefined;
  let store: MetaStore | undefined;
  let metaServer: MetaServer | undefined;
  let outbox: Outbox | undefined;
  let journal: Journal | undefined;
  let refused = 0;
  let warnRefused = (m: string): void => ctx?.log.warn(m);
  // the outbox drains while the link is up; a new link starts again from its oldest message
  let connected = false;
  let generation = 0;
  let inFlight = 0;
  let sentUpTo = 0;
  /** the outbox sends only what is on disk: else a crash could deliver an upload its app never saw acknowledged */
  let durableUpTo = 0;
  /** when the outbox last moved: an acknowledgement, a new link, or a message into an empty outbox */
  let progressAt = Date.now();
  const listeners: { kinds: readonly string[]; listener: (c: ObjectChange) => void }[] = [];

  const drain = (): void => {
    if (!connected || !outbox || !ctx) return;
    const c = ctx;
    const gen = generation;
    while (inFlight < OUTBOX_WINDOW) {
      const batch = outbox.next(sentUpTo, Math.min(OUTBOX_WINDOW - inFlight, durableUpTo - sentUpTo));
      if (batch.length === 0) return;
      for (const { seq, msg } of batch) {
        sentUpTo = seq;
        inFlight++;
        c.bus.sendSync(EDGEHUB, msg, 30_000).then(
          (reply) => {
            if (reply.content === ACK_CONTENT) {
              outbox?.remove(seq);
              progressAt = Date.now();
            }
            if (gen !== generation) return;
            inFlight--;
            if (reply.content === ACK_CONTENT) drain();
            else c.log.debug(`${msg.route.resource} #${seq} not taken (${JSON.stringify(reply.content).slice(0, 200)}); it stays in the outbox for the next link`);
          },
          () => {
            if (gen === generation) inFlight--; // timed out: the next link resends it
          },
        );
      }
    }
  };

  /**
   * Puts a message for the cloud into the outbox; resolves once it is on disk. EventBus (uploads)
   * and DeviceTwin (reports) call it directly: it is their hot path, and a bus round trip would add
   * an envelope and a timer to every message.
   */
  const readiness = (): ReadinessCheck[] => {
    const broken = db?.failing() ?? journal?.failing();
    return [{ name: 'store', ok: store !== undefined && broken === undefined, detail: broken ?? (store ? deps.dataSource : 'not open') }, ...(deps.readiness?.() ?? [])];
  };

  const enqueue = (route: OutboxRoute, content: unknown): Promise<void> => {
    if (!outbox) return Promise.reject(new Error('the outbox is not open'));
    if (outbox.stats().queued === 0) progressAt = Date.now();
    let seq: number;
    try {
      seq = outbox.add(route.resource, newMessage({ ...route, source: METAMANAGER }, content));
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return outbox.commit().then(() => {
      durableUpTo = Math.max(durableUpTo, seq);
      drain();
    });
  };

  const apply = (msg: Message): ApplyResult => {
    if (!store) throw new Error('store is not open');
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
  };

  /** In the same write as the object: what a listener writes is committed (and acknowledged) with it. */
  const tell = (msg: Message): void => {
    const key = parseResource(msg.route.resource);
    if (!key) return;
    const change: ObjectChange = {
      operation: msg.route.operation as ObjectChange['operation'],
      kind: key.kind,
      namespace: key.namespace,
      name: key.name,
      rv: Number(msg.header.resourceversion),
      ...(msg.route.operation === Operation.delete ? {} : { object: msg.content as KubeObject }),
    };
    for (const { kinds, listener } of listeners) {
      if (!kinds.includes(key.kind)) continue;
      try {
        listener(change);
      } catch (err) {
        ctx?.log.error(`a listener failed on ${msg.route.resource}: ${errorText(err)}`);
      }
    }
  };

  /**
   * Tells the cloud which store this edge holds (a fresh one is sent everything) and what it holds in
   * it: the cloud's own record can be behind the truth (a deletion applied here whose acknowledgement
   * a killed cloudcore never wrote), and it then sends what is missing.
   */
  const announce = (): void => {
    if (!store) return;
    const id = store.storeId();
    const holds = store.holdings(MAX_HOLDINGS_TOLD);
    db?.commit()
      .then(() => ctx?.bus.send(EDGEHUB, newMessage({ source: METAMANAGER, group: Group.resource, operation: Operation.sync, resource: 'node' }, { storeId: id, ...(holds ? { holds } : {}) })))
      .catch((err: unknown) => ctx?.log.warn(`cannot announce the store to the cloud: ${errorText(err)}`));
  };

  const handle = (msg: Message): void => {
    if (msg.route.source === EDGEHUB && msg.route.operation === HubEvent.connected) {
      connected = true;
      progressAt = Date.now();
      generation++;
      inFlight = 0;
      sentUpTo = 0;
      announce();
      return drain();
    }
    if (msg.route.source === EDGEHUB && msg.route.operation === HubEvent.disconnected) {
      connected = false;
      return;
    }
    let result: ApplyResult;
    try {
      result = apply(msg);
    } catch (err) {
      refused++;
      warnRefused(`refused ${msg.route.operation} ${msg.route.resource}: ${errorText(err)}`);
      try {
        ctx?.bus.send(EDGEHUB, responseTo(msg, METAMANAGER, { error: errorText(err) }));
      } catch {
        /* the link is gone; the cloud resends */
      }
      return;
    }
    if (result === 'applied') tell(msg);
    // acknowledge only what is on disk; not awaited, so a burst shares one write (commits resolve in order)
    db?.commit()
      .then(() => {
        if (result === 'applied') {
          ctx?.log.info(`applied ${msg.route.operation} ${msg.route.resource} rv=${msg.header.resourceversion ?? ''}`);
          metaServer?.changed(msg.route.resource, msg.route.operation);
        } else {
          ctx?.log.debug(`already have ${msg.route.resource} rv>=${msg.header.resourceversion ?? ''}, acknowledging again`);
        }
        ctx?.bus.send(EDGEHUB, ackOf(msg, METAMANAGER));
      })
      // not acknowledged means the cloud sends it again: nothing is lost
      .catch((err: unknown) => ctx?.log.warn(`not acknowledging ${msg.route.resource}: ${errorText(err)}`));
  };

  return {
    name: METAMANAGER,
    group: Group.meta,
    metrics: () => [counter('edgecore_cloud_messages_refused_total', 'Messages from the cloud refused by the store (a malformed or unknown object), answered with an error.', refused)],
    store: () => store,
    outbox: () => outbox,
    enqueue,
    readiness,
    outboxStalledMs: () => (connected && outbox && outbox.stats().queued > 0 ? Date.now() - progressAt : 0),
    source: (kinds) => ({
      replay: () =>
        kinds.flatMap((kind) =>
          (store?.list(kind) ?? []).map((o): ObjectChange => {
            const key = parseResource(o.key) as { namespace: string; name: string };
            return { operation: 'insert', kind, namespace: key.namespace, name: key.name, rv: o.rv, object: o.value as KubeObject };
          }),
        ),
      subscribe: (listener) => void listeners.push({ kinds, listener }),
    }),
    async start(c) {
      warnRefused = throttled((m) => c.log.warn(m));
      ctx = c;
      db = await openDb({ path: deps.dataSource, schema: META_SCHEMA, log: c.log, batchMs: 20 });
      store = new MetaStore(db);
      store.migrate();
      const storeId = store.storeId();
      await db.commit();
      // a journal of its own: a fresh database (a new store id) starts a fresh outbox sequence
      journal = await openJournal(deps.dataSource === ':memory:' ? ':memory:' : `${deps.dataSource}.outbox`, c.log.child('outbox'), { batchMs: 2 });
      outbox = new Outbox(journal, storeId, deps.config.outboxLimit, c.log.child('outbox'));
      durableUpTo = outbox.lastSeq();
      if (outbox.stats().queued > 0) c.log.info(`${outbox.stats().queued} message(s) wait in the outbox for the cloud`);
      c.bus.register(METAMANAGER, Group.meta, handle, { queueLimit: 10_000 });
      if (deps.config.metaServer.enable) {
        metaServer = createMetaServer({ address: deps.config.metaServer.server, store, log: c.log, outbox: () => outbox?.stats(), readiness, ...(deps.metrics ? { metrics: deps.metrics } : {}), ...(deps.present ? { present: deps.present } : {}) });
        await metaServer.start();
      }
    },
    async stop() {
      ctx?.bus.unregister(METAMANAGER);
      await metaServer?.stop();
      await journal?.close();
      await db?.close();
      db = undefined;
    },
  } satisfies MetaManager;
}
