/**
 * What the dashboard shows of each object: a small row made on the server, so a phone gets a few
 * hundred bytes per object and not the whole of it. The page (cloud-stub/ui/app.ts) reads these types.
 */
import type { KubeObject } from '../../api/object.js';
import type { ClusterEvent } from '../events.js';

export interface NodeRow {
  name: string;
  ready: boolean;
  lastHeartbeat?: string;
  version?: string;
  arch?: string;
  /** edgecore's resident memory (its keepalive), and the machine's */
  rssBytes?: number;
  memory?: string;
  rttMs?: number;
  outbox?: number;
  uploads?: number;
  pods?: number;
}

export interface TwinRow {
  name: string;
  reported?: string;
  desired?: string;
  /** when the reported value was taken (ms since the epoch, from the edge) */
  at?: number;
  /** ReadWrite in its DeviceModel: a desired value can be set */
  writable: boolean;
}

export interface DeviceRow {
  key: string;
  namespace: string;
  name: string;
  node?: string;
  model: string;
  state: string;
  lastOnline?: string;
  /** why it does not work (its Ready condition when False) */
  problem?: string;
  twins: TwinRow[];
}

export interface PodRow {
  key: string;
  node?: string;
  phase: string;
  ready: string;
  restarts: number;
}

export interface RuleRow {
  key: string;
  source: string;
  target: string;
  success: number;
  fail: number;
}

export interface EventRow {
  time: string;
  type: string;
  reason: string;
  object: string;
  message: string;
}

export interface Rows {
  nodes: unknown[];
  devices: unknown[];
  pods: unknown[];
  rules: unknown[];
  events: EventRow[];
}

type Any = Record<string, any>;

export function nodeRow(o: KubeObject): NodeRow {
  const st = (o.status ?? {}) as Any;
  const ready = (st.conditions as Any[] | undefined)?.find((c) => c.type === 'Ready');
  const live = st.edgecore as Any | undefined;
  return {
    name: o.metadata.name,
    ready: ready?.status === 'True',
    ...(ready?.lastHeartbeatTime ? { lastHeartbeat: ready.lastHeartbeatTime } : {}),
    ...(st.nodeInfo?.kubeletVersion ? { version: st.nodeInfo.kubeletVersion } : {}),
    ...(st.nodeInfo?.architecture ? { arch: st.nodeInfo.architecture } : {}),
    ...(st.capacity?.memory ? { memory: st.capacity.memory } : {}),
    ...(live ? { rssBytes: live.rssBytes, outbox: live.outbox, ...(live.rttMs !== undefined ? { rttMs: live.rttMs } : {}) } : {}),
    ...(st.uploads?.count !== undefined ? { uploads: st.uploads.count } : {}),
    ...(st.pods?.running !== undefined ? { pods: st.pods.running } : {}),
  };
}

/** `model`: its DeviceModel, for which properties can be written */
export function deviceRow(o: KubeObject, model: KubeObject | undefined): DeviceRow {
  const spec = (o.spec ?? {}) as Any;
  const st = (o.status ?? {}) as Any;
  const reported = new Map<string, Any>(((st.twins as Any[] | undefined) ?? []).map((t) => [t.propertyName, t]));
  const ready = (st.conditions as Any[] | undefined)?.find((c) => c.type === 'Ready');
  const writable = new Set((((model?.spec as Any | undefined)?.properties as Any[] | undefined) ?? []).filter((p) => p.accessMode === 'ReadWrite').map((p) => p.name));
  const twins: TwinRow[] = ((spec.properties as Any[] | undefined) ?? []).map((p) => {
    const r = reported.get(p.name)?.reported;
    const at = Number(r?.metadata?.timestamp);
    return { name: p.name, ...(r?.value !== undefined ? { reported: r.value } : {}), ...(p.desired?.value !== undefined ? { desired: p.desired.value } : {}), ...(Number.isFinite(at) && at > 0 ? { at } : {}), writable: writable.has(p.name) };
  });
  return {
    key: `${o.metadata.namespace ?? 'default'}/${o.metadata.name}`,
    namespace: o.metadata.namespace ?? 'default',
    name: o.metadata.name,
    ...(spec.nodeName ? { node: spec.nodeName } : {}),
    model: spec.deviceModelRef?.name ?? '',
    state: st.state ?? 'unknown',
    ...(st.lastOnlineTime ? { lastOnline: st.lastOnlineTime } : {}),
    ...(ready?.status === 'False' ? { problem: `${ready.reason}: ${ready.message}` } : {}),
    twins,
  };
}

export function podRow(o: KubeObject): PodRow {
  const st = (o.status ?? {}) as Any;
  const cs = (st.containerStatuses as Any[] | undefined) ?? [];
  const containers = ((o.spec as Any | undefined)?.containers as unknown[] | undefined)?.length ?? cs.length;
  return {
    key: `${o.metadata.namespace ?? 'default'}/${o.metadata.name}`,
    ...((o.spec as Any | undefined)?.nodeName ? { node: (o.spec as Any).nodeName } : {}),
    phase: st.phase ?? 'Pending',
    ready: `${cs.filter((c) => c.ready).length}/${containers}`,
    restarts: cs.reduce((n, c) => n + (Number(c.restartCount) || 0), 0),
  };
}

export function ruleRow(o: KubeObject): RuleRow {
  const spec = (o.spec ?? {}) as Any;
  const st = (o.status ?? {}) as Any;
  return { key: `${o.metadata.namespace ?? 'default'}/${o.metadata.name}`, source: String(spec.source ?? ''), target: String(spec.target ?? ''), success: Number(st.successMessages ?? 0), fail: Number(st.failMessages ?? 0) };
}

export function eventRow(e: ClusterEvent): EventRow {
  const o = e.involvedObject;
  return { time: e.lastTimestamp, type: e.type, reason: e.reason, object: `${o.kind}/${o.namespace && o.kind !== 'Node' ? `${o.namespace}/` : ''}${o.name}`, message: e.message };
}
