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
  return new SyncControllerModule(deps);
}

export interface SyncStep {
  operation: string;
  resource: string;
  rv: number;
  content: unknown;
}

/**
 * What a node must be sent: each object it must hold that it has not acknowledged at its version
 * (an insert when it holds none, else an update), and a delete for each it holds that it must not
 * (at `deleteRv`, the store's version now).
 */
/**
 * The module KubeEdge's cloud sends an object from: a KubeEdge edge hands a device or a model to
 * its DeviceTwin (and so to its mappers) only when it comes from the devicecontroller.
 */
function sourceOf(resource: string): string {
  return /^[^/]*\/(device|devicemodel)\//.test(resource) ? 'devicecontroller' : 'synccontroller';
}

/**
 * `lastOf`: a deleted object as it was, when known: a KubeEdge edge finds the mapper of a deleted
 * device from its spec, as KubeEdge's devicecontroller sends it.
 */
export function syncPlan(want: ReadonlyMap<string, { rv: number; object: unknown }>, acked: ReadonlyMap<string, number>, deleteRv: number, lastOf: (resource: string) => unknown = () => undefined): SyncStep[] {
  const steps: SyncStep[] = [];
  for (const [resource, obj] of want) {
    const have = acked.get(resource);
    if (have === undefined || have < obj.rv) steps.push({ operation: have === undefined ? Operation.insert : Operation.update, resource, rv: obj.rv, content: obj.object });
  }
  for (const resource of acked.keys()) {
    if (want.has(resource)) continue;
    const [namespace, kind, name] = resource.split('/');
    steps.push({ operation: Operation.delete, resource, rv: deleteRv, content: lastOf(resource) ?? { kind, metadata: { namespace, name } } });
  }
  // models ahead of the devices that use them, and removed after them, as KubeEdge's
  // devicecontroller sends them: a KubeEdge edge hands a device to its mappers only with its model
  const rank = (s: SyncStep): number => (s.operation === Operation.delete ? 2 : 0) + (/^[^/]*\/devicemodel\//.test(s.resource) === (s.operation === Operation.delete) ? 1 : 0);
  return steps.sort((a, b) => rank(a) - rank(b));
}

/** deleted devices and models as they were, the newest GONE_KEPT */
const GONE_KEPT = 1000;

class SyncControllerModule implements SyncController {
  readonly name = 'synccontroller';
  readonly group = ControllerGroup.sync;
  private ctx: ModuleContext | undefined;
  private readonly online = new Set<string>();
  private readonly gone = new Map<string, unknown>();
  private readonly onChange = (ev: ChangeEvent): void => {
    try {
      this.changed(ev);
    } catch (err) {
      this.ctx?.log.error(`sync after a change of ${ev.kind} ${ev.object.metadata.name} failed: ${errorText(err)}`);
    }
  };
  private readonly onAcked = (ev: AckEvent): void => this.acked(ev);

  constructor(private readonly deps: { store: ObjectStore; online: () => Iterable<string> }) {}

  // a property: the edge controller's tests and the API are handed it as a function
  readonly syncNode = (node: string): number => {
    const { store } = this.deps;
    const steps = syncPlan(objectsForNode(store, node), store.ackedFor(node), store.currentRv(), (r) => this.gone.get(r));
    for (const s of steps) {
      const msg = newMessage({ source: sourceOf(s.resource), group: Group.resource, operation: s.operation, resource: nodeResource(node, s.resource) }, s.content, { resourceVersion: String(s.rv) });
      this.ctx?.bus.send('cloudhub', msg);
    }
    if (steps.length > 0) this.ctx?.log.info(`${node}: sending ${steps.length} changed object(s)`);
    return steps.length;
  };

  private changed(ev: ChangeEvent): void {
    if (ev.kind === 'node' || this.online.size === 0) return;
    const namespace = ev.object.metadata.namespace ?? 'default';
    const resource = resourceOf(ev.kind, namespace, ev.object.metadata.name);
    if (ev.type === 'deleted' && (ev.kind === 'device' || ev.kind === 'devicemodel')) this.keepGone(resource, ev.object);
    // the nodes concerned: those that must hold the object now (a pod's node, the nodes whose
    // devices use a model or whose pods read a ConfigMap), and those that hold it
    const nodes = ev.type === 'deleted' ? new Set<string>() : nodesUsing(this.deps.store, ev.kind, ev.object);
    for (const node of this.deps.store.holdersOf(resource)) nodes.add(node);
    for (const node of nodes) if (this.online.has(node)) this.syncNode(node);
  }

  private keepGone(resource: string, object: unknown): void {
    this.gone.delete(resource);
    this.gone.set(resource, object);
    if (this.gone.size > GONE_KEPT) this.gone.delete(this.gone.keys().next().value as string);
  }

  /**
   * An object that changed while a node's copy was on its way is missed by onChange (the node had
   * not acknowledged it yet): when the acknowledgement comes, a node that acknowledged something
   * other than what it must hold now is synced again.
   */
  private acked(ev: AckEvent): void {
    if (!this.online.has(ev.node)) return;
    const want = wantedVersion(this.deps.store, ev.node, ev.resource);
    if (ev.deleted ? want === undefined : want === ev.rv) return;
    this.trySync(ev.node, 'sync after an acknowledgement failed');
  }

  private trySync(node: string, failure: string): void {
    try {
      this.syncNode(node);
    } catch (err) {
      this.ctx?.log.error(`${node}: ${failure}: ${errorText(err)}`);
    }
  }

  /** the edge says which store it holds, and what is in it */
  private edgeSays(node: string, content: Record<string, unknown>): void {
    const storeId = content.storeId;
    if (typeof storeId !== 'string' || storeId === '') return void this.ctx?.log.warn(`${node}: sync message without a storeId`);
    let resync = false;
    if (this.deps.store.nodeStoreChanged(node, storeId)) {
      this.ctx?.log.info(`${node}: the edge's store is new (${storeId}); sending it everything`);
      this.deps.store.resetSync(node);
      resync = true;
    }
    // what the edge says it holds beats what this cloud recorded (a record may have been lost in a crash)
    const holds = holdingsOf(content.holds);
    if (holds && this.deps.store.recordHoldings(node, holds) > 0) {
      this.ctx?.log.info(`${node}: what the edge holds differs from what was recorded; syncing it`);
      resync = true;
    }
    if (resync) this.syncNode(node);
  }

  private handle(msg: Message): void {
    const target = splitNodeResource(msg.route.resource);
    if (!target) return;
    if (msg.route.operation === HubEvent.connected) {
      this.online.add(target.node);
      this.trySync(target.node, 'sync failed');
    } else if (msg.route.operation === HubEvent.disconnected) {
      this.online.delete(target.node);
    } else if (msg.route.operation === Operation.sync) {
      this.edgeSays(target.node, isObj(msg.content) ? msg.content : {});
    }
  }

  async start(c: ModuleContext): Promise<void> {
    this.ctx = c;
    for (const n of this.deps.online()) this.online.add(n);
    c.bus.register('synccontroller', ControllerGroup.sync, (msg) => this.handle(msg), { queueLimit: 100_000 });
    this.deps.store.events.on('change', this.onChange);
    this.deps.store.events.on('acked', this.onAcked);
  }

  async stop(): Promise<void> {
    this.deps.store.events.off('change', this.onChange);
    this.deps.store.events.off('acked', this.onAcked);
    this.ctx?.bus.unregister('synccontroller');
  }
}

