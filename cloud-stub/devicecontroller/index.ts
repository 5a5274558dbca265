/**
 * DeviceController: what edges report of their devices becomes the Device's status
 * (`status.twins[].reported/observedDesired`, `status.state`, `status.lastOnlineTime`). Desired
 * values travel the other way inside the Device itself, which SyncController sends to the device's
 * node (with its model) whenever it changes; moving a device to another node moves it.
 *
 * A report is a snapshot of the whole device from the edge's outbox, numbered `<storeId>/<seq>`:
 * only a newer one than the last applied is written (a resend or a late one is acknowledged and
 * skipped), and only from the node the device is assigned to: a node can only speak for its own.
 */
import type { Module, ModuleContext } from '../../core/module.js';
import { Operation, ackOf, parseResource, type Message } from '../../core/message.js';
import { errorText } from '../../core/errors.js';
import { outboxSequence, type ObjectStore } from '../store/objects.js';
import { ControllerGroup, splitNodeResource, toEdge } from '../routes.js';
import { deviceNodeName } from '../synccontroller/selection.js';
import { isObj } from '../../core/guards.js';
import { refOf, type EventLog } from '../events.js';

interface ReportedTwin {
  propertyName: string;
  reported?: { value: string; metadata?: { timestamp?: number | string } };
  observedDesired?: { value: string; metadata?: { timestamp?: number | string } };
}


/** The Device status KubeEdge 1.15–1.22 writes, from an edge's report; throws on a malformed one. */
export function statusOfReport(content: unknown): Record<string, unknown> {
  if (!isObj(content) || !Array.isArray(content.twins) || typeof content.state !== 'string') throw new Error('a twin report needs twins[] and state');
  const value = (v: ReportedTwin['reported']): Record<string, unknown> | undefined =>
    v && typeof v.value === 'string' ? { value: v.value, metadata: { timestamp: String(v.metadata?.timestamp ?? '') } } : undefined;
  const twins = (content.twins as unknown[]).filter(isObj).map((t) => {
    const r = t as unknown as ReportedTwin;
    if (typeof r.propertyName !== 'string') throw new Error('a reported twin needs a propertyName');
    const reported = value(r.reported);
    const observedDesired = value(r.observedDesired);
    return { propertyName: r.propertyName, ...(reported ? { reported } : {}), ...(observedDesired ? { observedDesired } : {}) };
  });
  const conditions = Array.isArray(content.conditions)
    ? content.conditions.filter(isObj).map((c) => {
        if (typeof c.type !== 'string' || (c.status !== 'True' && c.status !== 'False')) throw new Error('a device condition needs type and status True or False');
        return { type: c.type, status: c.status, reason: String(c.reason ?? ''), message: String(c.message ?? ''), lastTransitionTime: String(c.lastTransitionTime ?? '') };
      })
    : undefined;
  return { twins, state: content.state, ...(typeof content.lastOnlineTime === 'string' ? { lastOnlineTime: content.lastOnlineTime } : {}), ...(conditions?.length ? { conditions } : {}) };
}

/** `events`: a device going online or offline, as Events */
type Condition = { type: string; status?: string; reason?: string; message?: string };
export interface DeviceStatusSeen {
  state?: string;
  conditions?: Condition[];
}

/**
 * The Events a device's new status makes: its state when it changed (online, offline, unhealthy),
 * and why it works or not when that changed (ModelMissing, DeviceUnreachable, PropertyFailing, Reading).
 */
export function reportEvents(before: DeviceStatusSeen | undefined, now: DeviceStatusSeen, device: string, node: string): { type: 'Normal' | 'Warning'; reason: string; message: string }[] {
  const out: { type: 'Normal' | 'Warning'; reason: string; message: string }[] = [];
  const ready = now.conditions?.find((c) => c.type === 'Ready');
  const state = now.state;
  if (state !== undefined && state !== before?.state && state !== 'unknown') {
    const reason = state === 'online' ? 'DeviceOnline' : state === 'offline' ? 'DeviceOffline' : 'DeviceUnhealthy';
    out.push({ type: state === 'online' ? 'Normal' : 'Warning', reason, message: `device ${device} on ${node} is ${state}${state !== 'online' && ready?.message ? `: ${ready.message}` : ''}` });
  }
  const was = before?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.reason && (ready.reason !== was?.reason || ready.status !== was?.status)) {
    out.push({ type: ready.status === 'True' ? 'Normal' : 'Warning', reason: ready.reason, message: ready.message || `device ${device}: ${ready.reason}` });
  }
  return out;
}

export function createDeviceController(deps: { store: ObjectStore; events?: EventLog }): Module {
  let ctx: ModuleContext | undefined;

  const take = async (node: string, resource: string, msg: Message): Promise<void> => {
    const key = parseResource(resource);
    const dev = key && key.kind === 'device' ? deps.store.get('device', key.namespace, key.name) : undefined;
    if (!key || !dev) {
      ctx?.log.debug(`${node}: report for ${resource}, which is not a device (any more); skipped`);
      return;
    }
    if (deviceNodeName(dev) !== node) {
      ctx?.log.warn(`${node}: report for device ${key.namespace}/${key.name}, which belongs to ${deviceNodeName(dev) ?? 'no node'}; skipped`);
      return;
    }
    const { storeId, seq } = outboxSequence(msg.header.resourceversion) ?? { storeId: '', seq: 0 };
    let status: Record<string, unknown>;
    try {
      status = statusOfReport(msg.content);
    } catch (err) {
      // a malformed report would be malformed again: acknowledge it so it leaves the edge's outbox
      ctx?.log.warn(`${node}: report for ${resource} refused: ${errorText(err)}`);
      return;
    }
    const before = deps.store.status('device', key.namespace, key.name)?.status as DeviceStatusSeen | undefined;
    // a resent or late report is 'stale' and not written again
    if ((await deps.store.reportStatus('device', key.namespace, key.name, { status, node, storeId, seq })) !== 'applied') return;
    ctx?.log.debug(`${node}: status of ${key.namespace}/${key.name} (${storeId}/${seq})`);
    const ref = refOf(dev.object, 'Device');
    for (const e of reportEvents(before, status as DeviceStatusSeen, `${key.namespace}/${key.name}`, node)) deps.events?.record(e.type, e.reason, ref, e.message);
  };

  const handle = (msg: Message): void => {
    const target = splitNodeResource(msg.route.resource);
    if (!target || msg.route.operation !== Operation.update) return;
    take(target.node, target.resource, msg).then(
      // acknowledged once durable, or when it is one to skip: either way it leaves the edge's outbox
      () => toEdge(ctx, ackOf(msg, ControllerGroup.device)),
      // not acknowledged: the edge sends it again
      (err: unknown) => ctx?.log.error(`${target.node}: cannot store the status of ${target.resource}: ${errorText(err)}`),
    );
  };

  return {
    name: ControllerGroup.device,
    group: ControllerGroup.device,
    async start(c) {
      ctx = c;
      c.bus.register(ControllerGroup.device, ControllerGroup.device, handle, { queueLimit: 100_000 });
    },
    async stop() {
      ctx?.bus.unregister(ControllerGroup.device);
    },
  };
}
