/**
 * SyncController: keeps every connected edge's objects equal to what the cloud says it should
 * hold (selection.ts: its devices and their models, its pods and the ConfigMaps and Secrets they read). On connect, and whenever an object changes, it compares the node's desired set with
 * what the node has acknowledged (ObjectSync) and sends exactly the difference: inserts and
 * updates with their resourceversion, and deletes for what the node should no longer have.
 */
import type { Module, ModuleContext } from '../../core/module.js';
import { Group, Operation, newMessage, type Message } from '../../core/message.js';
import { errorText } from '../../core/errors.js';
import { isObj } from '../../core/guards.js';
import { resourceOf, type AckEvent, type ChangeEvent, type ObjectStore } from '../store/objects.js';
import { ControllerGroup, HubEvent, nodeResource, splitNodeResource } from '../routes.js';
import { nodesUsing, objectsForNode, wantedVersion } from './selection.js';

/** `{resource: version}` as an edge tells it, or undefined when it is not that */
function holdingsOf(v: unknown): Record<string, number> | undefined {
  if (!isObj(v)) return undefined;
  return Object.values(v).every((rv) => typeof rv === 'number' && Number.isSafeInteger(rv)) ? (v as Record<string, number>) : undefined;
}

export interface SyncController extends Module {
  /** sends a node what it lacks; returns how many messages were queued */
  syncNode(node: string): number;
}

export function createSyncController(deps: { store: ObjectStore; online: () => Iterable<string> }): SyncController {
  let ctx: ModuleContext | undefined;
  const online = new Set<string>();

  const send = (node: string, operation: string, resource: string, rv: number, content: unknown): void => {
    const msg = newMessage({ source: 'synccontroller', group: Group.resource, operation, resource: nodeResource(node, resource) }, content, { resourceVersion: String(rv) });
    ctx?.bus.send('cloudhub', msg);
  };

  const syncNode = (node: string): number => {
    const want = objectsForNode(deps.store, node);
    const acked = deps.store.ackedFor(node);
    let queued = 0;
    for (const [resource, obj] of want) {
      const have = acked.get(resource);
      if (have !== undefined && have >= obj.rv) continue;
      send(node, have === undefined ? Operation.insert : Operation.update, resource, obj.rv, obj.object);
      queued++;
    }
    const deleteRv = deps.store.currentRv();
    for (const resource of acked.keys()) {
      if (want.has(resource)) continue;
      const [namespace, kind, name] = resource.split('/');
      send(node, Operation.delete, resource, deleteRv, { kind, metadata: { namespace, name } });
      queued++;
    }
    if (queued > 0) ctx?.log.info(`${node}: sending ${queued} changed object(s)`);
    return queued;
  };

  const onChange = (ev: ChangeEvent): void => {
    if (ev.kind === 'node' || online.size === 0) return;
    const namespace = ev.object.metadata.namespace ?? 'default';
    const resource = resourceOf(ev.kind, namespace, ev.object.metadata.name);
    // the nodes concerned: those that must hold the object now (a pod's node, the nodes whose
    // devices use a model or whose pods read a ConfigMap), and those that hold it
    const nodes = ev.type === 'deleted' ? new Set<string>() : nodesUsing(deps.store, ev.kind, ev.object);
    for (const node of deps.store.holdersOf(resource)) nodes.add(node);
    for (const node of nodes) if (online.has(node)) syncNode(node);
  };

  /**
   * An object that changed while a node's copy was on its way is missed by onChange (the node had
   * not acknowledged it yet): when the acknowledgement comes, a node that acknowledged something
   * other than what it must hold now is synced again.
   */
  const onAcked = (ev: AckEvent): void => {
    if (!online.has(ev.node)) return;
    const want = wantedVersion(deps.store, ev.node, ev.resource);
    if (ev.deleted ? want === undefined : want === ev.rv) return;
    try {
      syncNode(ev.node);
    } catch (err) {
      ctx?.log.error(`${ev.node}: sync after an acknowledgement failed: ${errorText(err)}`);
    }
  };

  const handle = (msg: Message): void => {
    const target = splitNodeResource(msg.route.resource);
    if (!target) return;
    if (msg.route.operation === HubEvent.connected) {
      online.add(target.node);
      try {
        syncNode(target.node);
      } catch (err) {
        ctx?.log.error(`${target.node}: sync failed: ${errorText(err)}`);
      }
    } else if (msg.route.operation === HubEvent.disconnected) {
      online.delete(target.node);
    } else if (msg.route.operation === Operation.sync) {
      const content = isObj(msg.content) ? msg.content : {};
      const storeId = content.storeId;
      if (typeof storeId !== 'string' || storeId === '') return void ctx?.log.warn(`${target.node}: sync message without a storeId`);
      let resync = false;
      if (deps.store.nodeStoreChanged(target.node, storeId)) {
        ctx?.log.info(`${target.node}: the edge's store is new (${storeId}); sending it everything`);
        deps.store.resetSync(target.node);
        resync = true;
      }
      // what the edge says it holds beats what this cloud recorded (a record may have been lost in a crash)
      const holds = holdingsOf(content.holds);
      if (holds && deps.store.recordHoldings(target.node, holds) > 0) {
        ctx?.log.info(`${target.node}: what the edge holds differs from what was recorded; syncing it`);
        resync = true;
      }
      if (resync) syncNode(target.node);
    }
  };

  const listener = (ev: ChangeEvent): void => {
    try {
      onChange(ev);
    } catch (err) {
      ctx?.log.error(`sync after a change of ${ev.kind} ${ev.object.metadata.name} failed: ${errorText(err)}`);
    }
  };

  return {
    name: 'synccontroller',
    group: ControllerGroup.sync,
    syncNode,
    async start(c) {
      ctx = c;
      for (const n of deps.online()) online.add(n);
      c.bus.register('synccontroller', ControllerGroup.sync, handle, { queueLimit: 100_000 });
      deps.store.events.on('change', listener);
      deps.store.events.on('acked', onAcked);
    },
    async stop() {
      deps.store.events.off('change', listener);
      deps.store.events.off('acked', onAcked);
      ctx?.bus.unregister('synccontroller');
    },
  } satisfies SyncController;
}

