/**
 * MetaManager: keeps the cloud's objects in the edge's database, so the edge works on when the
 * cloud is away. A cloud resource message is acknowledged only once it is on disk; a resent or
 * older version is acknowledged without being applied again.
 */
import type { Module, ModuleContext } from '../core/module.js';
import { openDb, type Db } from '../core/db.js';
import { errorText } from '../core/errors.js';
import { Group, Operation, ackOf, newMessage, parseResource, responseTo, type Message } from '../core/message.js';
import type { MetaManagerConfig } from '../config.js';
import { EDGEHUB, HubEvent } from '../edgehub/index.js';
import { META_SCHEMA, MetaStore, type ApplyResult } from './store.js';
import { createMetaServer, type MetaServer } from './metaserver.js';

export const METAMANAGER = 'metamanager';

export interface MetaManager extends Module {
  store(): MetaStore | undefined;
  metaServerPort(): number;
}

export function createMetaManager(deps: { config: MetaManagerConfig; dataSource: string }): MetaManager {
  let ctx: ModuleContext | undefined;
  let db: Db | undefined;
  let store: MetaStore | undefined;
  let metaServer: MetaServer | undefined;

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

  /** Tells the cloud which store this edge holds, so a fresh one is sent everything. */
  const announce = (): void => {
    if (!store) return;
    const id = store.storeId();
    db?.commit()
      .then(() => ctx?.bus.send(EDGEHUB, newMessage({ source: METAMANAGER, group: Group.resource, operation: Operation.sync, resource: 'node' }, { storeId: id })))
      .catch((err: unknown) => ctx?.log.warn(`cannot announce the store to the cloud: ${errorText(err)}`));
  };

  const handle = (msg: Message): void => {
    if (msg.route.source === EDGEHUB && msg.route.operation === HubEvent.connected) return announce();
    if (msg.route.source === EDGEHUB && msg.route.operation === HubEvent.disconnected) return;
    let result: ApplyResult;
    try {
      result = apply(msg);
    } catch (err) {
      ctx?.log.warn(`refused ${msg.route.operation} ${msg.route.resource}: ${errorText(err)}`);
      try {
        ctx?.bus.send(EDGEHUB, responseTo(msg, METAMANAGER, { error: errorText(err) }));
      } catch {
        /* the link is gone; the cloud resends */
      }
      return;
    }
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
    store: () => store,
    metaServerPort: () => metaServer?.port() ?? 0,
    async start(c) {
      ctx = c;
      db = await openDb({ path: deps.dataSource, schema: META_SCHEMA, log: c.log, batchMs: 20 });
      store = new MetaStore(db);
      c.bus.register(METAMANAGER, Group.meta, handle, { queueLimit: 10_000 });
      if (deps.config.metaServer.enable) {
        metaServer = createMetaServer({ address: deps.config.metaServer.server, store, log: c.log });
        await metaServer.start();
      }
    },
    async stop() {
      ctx?.bus.unregister(METAMANAGER);
      await metaServer?.stop();
      await db?.close();
      db = undefined;
    },
  } satisfies MetaManager;
}
