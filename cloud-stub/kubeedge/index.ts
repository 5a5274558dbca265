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
import { createEdgedAnswers } from './edged.js';

const SOURCE = 'devicecontroller';

export function createKubeEdgeDialect(deps: { store: ObjectStore }): Module {
  let ctx: ModuleContext | undefined;
  /** KubeEdge nodes online, and the device ids each was told it has */
  const members = new Map<string, Set<string>>();
  const edged = createEdgedAnswers({ store: deps.store, log: () => ctx?.log });

  const send = (node: string, msg: Message): void => {
    try {
      ctx?.bus.send('cloudhub', msg);
    } catch (err) {
      ctx?.log.warn(`${node}: cannot send ${msg.route.resource}: ${errorText(err)}`);
    }
  };

  const devicesOf = (node: string): Map<string, string> => new Map(deps.store.onNode('device', node).map((d) => [`${d.namespace}/${d.name}`, d.name]));

  /** tells a KubeEdge node which devices joined and left it since it was last told */
  const syncMembership = (node: string, full = false): void => {
    const told = members.get(node);
    if (!told) return;
    const now = devicesOf(node);
    const added = [...now].filter(([id]) => full || !told.has(id)).map(([id, name]) => ({ id, name }));
    const removed = [...told].filter((id) => !now.has(id)).map((id) => ({ id, name: id.split('/')[1] as string }));
    if (!added.length && !removed.length && !full) return;
    members.set(node, new Set(now.keys()));
    const content = { event_id: randomUUID(), timestamp: Date.now(), added_devices: added, removed_devices: removed.length ? removed : null };
    send(node, newMessage({ source: SOURCE, destination: SEND_ONCE, group: Group.twin, operation: 'update', resource: nodeResource(node, 'membership') }, content));
  };

  const onChange = (ev: ChangeEvent): void => {
    if (ev.kind !== 'device' || members.size === 0) return;
    // the node it is on now, and the nodes that were told they have it
    const id = `${ev.object.metadata.namespace ?? 'default'}/${ev.object.metadata.name}`;
    for (const [node, told] of members) if (told.has(id) || ev.object.spec?.nodeName === node) syncMembership(node);
  };

  /** an answer as KubeEdge's edgecontroller gives it: `{Object, Err}` */
  const answer = (msg: Message, object: unknown, err?: { message: string; reason: string; code: number }): void => {
    const content = { Object: object ?? null, Err: err ? { ErrStatus: { metadata: {}, status: 'Failure', message: err.message, reason: err.reason, code: err.code } } : null };
    const reply = responseTo(msg, 'edgecontroller', content);
    reply.route.group = Group.resource;
    send('', reply);
  };

  /**
   * DeviceTwin's reports, as KubeEdge 1.15–1.22's devicecontroller takes them into the Device's
   * status: `device/<ns>/<name>/twin/edge_updated` (each twin's actual value becomes `reported`, its
   * expected one `observedDesired`) and `device/<ns>/<name>/state/update` (a JSON string); only from
   * the node the device is bound to. Each is answered "OK" once written, as KubeEdge 1.23's
   * devicecontroller answers it (its edge resends what stays unanswered).
   */
  const deviceReport = async (node: string, namespace: string, name: string, what: string, content: unknown): Promise<void> => {
    const dev = deps.store.get('device', namespace, name);
    if (!dev) return void ctx?.log.debug(`${node}: report for device ${namespace}/${name}, which does not exist; skipped`);
    if (dev.object.spec?.nodeName !== node) return void ctx?.log.warn(`${node}: report for device ${namespace}/${name}, which belongs to ${String(dev.object.spec?.nodeName ?? 'no node')}; skipped`);
    const body = typeof content === 'string' ? (JSON.parse(content) as unknown) : content;
    if (!isObj(body)) throw new Error('the report is not a JSON object');
    const status = { twins: [] as Record<string, unknown>[], state: 'unknown', ...(deps.store.status('device', namespace, name)?.status ?? {}) } as { twins: Record<string, unknown>[]; state: string; lastOnlineTime?: string };
    if (what === 'twin/edge_updated') {
      if (!isObj(body.twin)) throw new Error('a twin report needs twin');
      const twins = new Map(status.twins.map((t) => [t.propertyName as string, t]));
      for (const [prop, t] of Object.entries(body.twin)) {
        if (!isObj(t)) continue;
        const value = (v: unknown): Record<string, unknown> | undefined =>
          isObj(v) && typeof v.value === 'string' ? { value: v.value, metadata: { timestamp: String((v.metadata as { timestamp?: unknown } | undefined)?.timestamp ?? Date.now()) } } : undefined;
        const reported = value(t.actual);
        const observedDesired = value(t.expected);
        twins.set(prop, { ...(twins.get(prop) ?? {}), propertyName: prop, ...(reported ? { reported } : {}), ...(observedDesired ? { observedDesired } : {}) });
      }
      status.twins = [...twins.values()];
    } else {
      const device = isObj(body.device) ? body.device : body;
      if (typeof device.state !== 'string') throw new Error('a state report needs device.state');
      status.state = device.state.toLowerCase();
      if (typeof device.lastOnlineTime === 'string') status.lastOnlineTime = device.lastOnlineTime;
    }
    await deps.store.reportStatus('device', namespace, name, { status, node, storeId: 'kubeedge', seq: 0 });
  };

  const handle = (msg: Message): void => {
    const target = splitNodeResource(msg.route.resource);
    if (!target) return;
    const { node, resource } = target;
    if (msg.route.operation === HubEvent.connected) {
      if (isObj(msg.content) && msg.content.dialect === 'kubeedge') {
        members.set(node, new Set());
        ctx?.log.info(`${node} is a KubeEdge edgecore (JSON frames): speaking its dialect`);
        syncMembership(node, true);
      }
      return;
    }
    if (msg.route.operation === HubEvent.disconnected) return void members.delete(node);
    if (resource === 'membership/detail') return syncMembership(node, true);
    const report = /^device\/([^/]+)\/([^/]+)\/(twin\/edge_updated|state\/update)$/.exec(resource);
    if (report && msg.route.operation === 'update') {
      deviceReport(node, report[1] as string, report[2] as string, report[3] as string, msg.content).then(
        () => {
          const ok = responseTo(msg, SOURCE, 'OK');
          ok.route = { ...ok.route, group: Group.twin, resource: nodeResource(node, 'twin') };
          send(node, ok);
        },
        (err: unknown) => ctx?.log.warn(`${node}: ${resource} refused: ${errorText(err)}`),
      );
      return;
    }
    const asked = msg.route.group === 'meta' ? edged.answer(node, msg.route.operation, resource, msg.content) : undefined;
    if (asked) {
      asked.then(
        (object) => answer(msg, object),
        (err: unknown) => {
          if (!(err instanceof ApiError)) ctx?.log.error(`${node}: ${msg.route.operation} ${resource} failed: ${errorText(err)}`);
          else if (err.reason !== 'NotFound') ctx?.log.warn(`${node}: ${msg.route.operation} ${resource} refused: ${err.message}`);
          const e = err instanceof ApiError ? err : new ApiError('BadRequest', errorText(err));
          answer(msg, null, { message: e.message, reason: e.reason, code: e.code });
        },
      );
      return;
    }
    ctx?.log.warn(`${node}: ${msg.route.source} asked ${msg.route.group}/${msg.route.operation} ${resource}, which this cloud does not serve; answered with an error`);
    ctx?.log.debug(`${node}: it said ${JSON.stringify(msg.content).slice(0, 600)}`);
    answer(msg, null, { message: `${msg.route.operation} of ${resource} is not served by this cloudcore`, reason: 'NotFound', code: 404 });
  };

  return {
    name: ControllerGroup.kubeedge,
    group: ControllerGroup.kubeedge,
    async start(c) {
      ctx = c;
      c.bus.register(ControllerGroup.kubeedge, ControllerGroup.kubeedge, handle, { queueLimit: 100_000 });
      deps.store.events.on('change', onChange);
    },
    async stop() {
      deps.store.events.off('change', onChange);
      ctx?.bus.unregister(ControllerGroup.kubeedge);
    },
  };
}
