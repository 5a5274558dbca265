/**
 * KubeEdge's own edgecores on this cloud: what they send (edged's node, lease and pod messages in
 * group `meta`, DeviceTwin's membership and twin reports) is answered as KubeEdge's cloudcore
 * answers it, and they are sent what KubeEdge's cloud sends beside the objects (a `twin/update` of
 * `membership` when devices join or leave the node). Anything it does not serve is answered with an
 * error, never dropped in silence. Which sessions speak KubeEdge: their first frame was JSON text.
 */
import { randomUUID } from 'node:crypto';
import type { Module, ModuleContext } from '../../core/module.js';
import { errorText } from '../../core/errors.js';
import { Group, newMessage, responseTo, type Message } from '../../core/message.js';
import { isObj } from '../../core/guards.js';
import type { ChangeEvent, ObjectStore } from '../store/objects.js';
import { ControllerGroup, HubEvent, SEND_ONCE, nodeResource, splitNodeResource } from '../routes.js';
import { ApiError } from '../apiserver/status.js';
import { createEdgedAnswers, type EdgedAnswers } from './edged.js';

const SOURCE = 'devicecontroller';

export function createKubeEdgeDialect(deps: { store: ObjectStore }): Module {
  return new KubeEdgeDialectModule(deps.store);
}

type DeviceStatusNow = { twins: Record<string, unknown>[]; state: string; lastOnlineTime?: string };

/**
 * A Device's status after one of DeviceTwin's reports, as KubeEdge 1.15–1.22's devicecontroller
 * takes them: `twin/edge_updated` (each twin's actual value becomes `reported`, its expected one
 * `observedDesired`) and `state/update` (a JSON string).
 */
export function statusAfterReport(current: Record<string, unknown>, what: string, content: unknown): DeviceStatusNow {
  const body = typeof content === 'string' ? (JSON.parse(content) as unknown) : content;
  if (!isObj(body)) throw new Error('the report is not a JSON object');
  const status = { twins: [] as Record<string, unknown>[], state: 'unknown', ...current } as DeviceStatusNow;
  if (what !== 'twin/edge_updated') {
    const device = isObj(body.device) ? body.device : body;
    if (typeof device.state !== 'string') throw new Error('a state report needs device.state');
    status.state = device.state.toLowerCase();
    if (typeof device.lastOnlineTime === 'string') status.lastOnlineTime = device.lastOnlineTime;
    return status;
  }
  if (!isObj(body.twin)) throw new Error('a twin report needs twin');
  const value = (v: unknown): Record<string, unknown> | undefined =>
    isObj(v) && typeof v.value === 'string' ? { value: v.value, metadata: { timestamp: String((v.metadata as { timestamp?: unknown } | undefined)?.timestamp ?? Date.now()) } } : undefined;
  const twins = new Map(status.twins.map((t) => [t.propertyName as string, t]));
  for (const [prop, t] of Object.entries(body.twin)) {
    if (!isObj(t)) continue;
    const reported = value(t.actual);
    const observedDesired = value(t.expected);
    twins.set(prop, { ...(twins.get(prop) ?? {}), propertyName: prop, ...(reported ? { reported } : {}), ...(observedDesired ? { observedDesired } : {}) });
  }
  return { ...status, twins: [...twins.values()] };
}

class KubeEdgeDialectModule implements Module {
  readonly name = ControllerGroup.kubeedge;
  readonly group = ControllerGroup.kubeedge;
  private ctx: ModuleContext | undefined;
  /** KubeEdge nodes online, and the device ids each was told it has */
  private readonly members = new Map<string, Set<string>>();
  private readonly edged: EdgedAnswers;
  private readonly onChange = (ev: ChangeEvent): void => this.changed(ev);

  constructor(private readonly store: ObjectStore) {
    this.edged = createEdgedAnswers({ store, log: () => this.ctx?.log });
  }

  private send(node: string, msg: Message): void {
    try {
      this.ctx?.bus.send('cloudhub', msg);
    } catch (err) {
      this.ctx?.log.warn(`${node}: cannot send ${msg.route.resource}: ${errorText(err)}`);
    }
  }

  /** tells a KubeEdge node which devices joined and left it since it was last told */
  private syncMembership(node: string, full = false): void {
    const told = this.members.get(node);
    if (!told) return;
    const now = new Map(this.store.onNode('device', node).map((d) => [`${d.namespace}/${d.name}`, d.name]));
    const added = [...now].filter(([id]) => full || !told.has(id)).map(([id, name]) => ({ id, name }));
    const removed = [...told].filter((id) => !now.has(id)).map((id) => ({ id, name: id.split('/')[1] as string }));
    if (!added.length && !removed.length && !full) return;
    this.members.set(node, new Set(now.keys()));
    const content = { event_id: randomUUID(), timestamp: Date.now(), added_devices: added, removed_devices: removed.length ? removed : null };
    this.send(node, newMessage({ source: SOURCE, destination: SEND_ONCE, group: Group.twin, operation: 'update', resource: nodeResource(node, 'membership') }, content));
  }

  private changed(ev: ChangeEvent): void {
    if (ev.kind !== 'device' || this.members.size === 0) return;
    // the node it is on now, and the nodes that were told they have it
    const id = `${ev.object.metadata.namespace ?? 'default'}/${ev.object.metadata.name}`;
    for (const [node, told] of this.members) if (told.has(id) || ev.object.spec?.nodeName === node) this.syncMembership(node);
  }

  /** an answer as KubeEdge's edgecontroller gives it: `{Object, Err}` */
  private answer(msg: Message, object: unknown, err?: { message: string; reason: string; code: number }): void {
    const content = { Object: object ?? null, Err: err ? { ErrStatus: { metadata: {}, status: 'Failure', message: err.message, reason: err.reason, code: err.code } } : null };
    const reply = responseTo(msg, 'edgecontroller', content);
    reply.route.group = Group.resource;
    this.send('', reply);
  }

  /** DeviceTwin's reports, only from the node the device is bound to; answered "OK" once written, as KubeEdge 1.23's devicecontroller answers (its edge resends what stays unanswered) */
  private async deviceReport(node: string, namespace: string, name: string, what: string, content: unknown): Promise<void> {
    const dev = this.store.get('device', namespace, name);
    if (!dev) return void this.ctx?.log.debug(`${node}: report for device ${namespace}/${name}, which does not exist; skipped`);
    if (dev.object.spec?.nodeName !== node) return void this.ctx?.log.warn(`${node}: report for device ${namespace}/${name}, which belongs to ${String(dev.object.spec?.nodeName ?? 'no node')}; skipped`);
    const status = statusAfterReport(this.store.status('device', namespace, name)?.status ?? {}, what, content);
    await this.store.reportStatus('device', namespace, name, { status, node, storeId: 'kubeedge', seq: 0 });
  }

  private ask(msg: Message, node: string, resource: string, asked: Promise<unknown>): void {
    asked.then(
      (object) => this.answer(msg, object),
      (err: unknown) => {
        if (!(err instanceof ApiError)) this.ctx?.log.error(`${node}: ${msg.route.operation} ${resource} failed: ${errorText(err)}`);
        else if (err.reason !== 'NotFound') this.ctx?.log.warn(`${node}: ${msg.route.operation} ${resource} refused: ${err.message}`);
        const e = err instanceof ApiError ? err : new ApiError('BadRequest', errorText(err));
        this.answer(msg, null, { message: e.message, reason: e.reason, code: e.code });
      },
    );
  }

  private sessionEvent(msg: Message, node: string): void {
    if (msg.route.operation === HubEvent.disconnected) return void this.members.delete(node);
    if (!isObj(msg.content) || msg.content.dialect !== 'kubeedge') return;
    this.members.set(node, new Set());
    this.ctx?.log.info(`${node} is a KubeEdge edgecore (JSON frames): speaking its dialect`);
    this.syncMembership(node, true);
  }

  private handle(msg: Message): void {
    const target = splitNodeResource(msg.route.resource);
    if (!target) return;
    const { node, resource } = target;
    if (msg.route.operation === HubEvent.connected || msg.route.operation === HubEvent.disconnected) return this.sessionEvent(msg, node);
    if (resource === 'membership/detail') return this.syncMembership(node, true);
    const report = /^device\/([^/]+)\/([^/]+)\/(twin\/edge_updated|state\/update)$/.exec(resource);
    if (report && msg.route.operation === 'update') {
      const ok = (): void => {
        const reply = responseTo(msg, SOURCE, 'OK');
        reply.route = { ...reply.route, group: Group.twin, resource: nodeResource(node, 'twin') };
        this.send(node, reply);
      };
      return void this.deviceReport(node, report[1] as string, report[2] as string, report[3] as string, msg.content).then(ok, (err: unknown) => this.ctx?.log.warn(`${node}: ${resource} refused: ${errorText(err)}`));
    }
    const asked = msg.route.group === 'meta' ? this.edged.answer(node, msg.route.operation, resource, msg.content) : undefined;
    if (asked) return this.ask(msg, node, resource, asked);
    this.ctx?.log.warn(`${node}: ${msg.route.source} asked ${msg.route.group}/${msg.route.operation} ${resource}, which this cloud does not serve; answered with an error`);
    this.ctx?.log.debug(`${node}: it said ${JSON.stringify(msg.content).slice(0, 600)}`);
    this.answer(msg, null, { message: `${msg.route.operation} of ${resource} is not served by this cloudcore`, reason: 'NotFound', code: 404 });
  }

  async start(c: ModuleContext): Promise<void> {
    this.ctx = c;
    c.bus.register(ControllerGroup.kubeedge, ControllerGroup.kubeedge, (msg) => this.handle(msg), { queueLimit: 100_000 });
    this.store.events.on('change', this.onChange);
  }

  async stop(): Promise<void> {
    this.store.events.off('change', this.onChange);
    this.ctx?.bus.unregister(ControllerGroup.kubeedge);
  }
}
