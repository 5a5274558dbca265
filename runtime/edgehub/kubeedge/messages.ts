/**
 * Our messages as KubeEdge 1.23's cloudcore takes them, and its answers as our modules take them.
 * Pure: no I/O. Shapes are those a real KubeEdge edgecore sends (see the capture in
 * ../shared/kubeedge and docs/design.md, "Speaking KubeEdge").
 */
import { randomUUID } from 'node:crypto';
import { ACK_CONTENT, Group, newMessage, type Message } from '../../../core/message.js';
import { isObj } from '../../../core/guards.js';
import type { TwinReport } from '../../devicetwin/twin.js';

/** what KubeEdge's edge modules put in `route.source` */
export const Source = { twin: 'twin', edged: 'edged', keepalive: 'websocket', bus: 'bus' } as const;

/** KubeEdge's edgecontroller answers `{Object, Err}`; Err is a Kubernetes Status */
export interface KubeEdgeAnswer {
  object: Record<string, unknown> | undefined;
  error: { message: string; reason: string; code: number } | undefined;
}

export function readAnswer(content: unknown): KubeEdgeAnswer {
  let c = content;
  if (typeof c === 'string' && c.startsWith('{')) {
    try {
      c = JSON.parse(c) as unknown;
    } catch {
      /* a plain string answer */
    }
  }
  if (!isObj(c)) return { object: undefined, error: c === ACK_CONTENT ? undefined : { message: String(c).slice(0, 300), reason: 'Unknown', code: 500 } };
  const object = isObj(c.Object) ? c.Object : undefined;
  const status = isObj(c.Err) && isObj(c.Err.ErrStatus) ? c.Err.ErrStatus : isObj(c.Err) ? c.Err : undefined;
  const error = status
    ? { message: typeof status.message === 'string' ? status.message : JSON.stringify(status).slice(0, 300), reason: typeof status.reason === 'string' ? status.reason : 'Unknown', code: typeof status.code === 'number' ? status.code : 500 }
    : undefined;
  return { object, error };
}

/** An answer of KubeEdge's cloud as our senders read it: "OK", or `{error}`. */
export function answerForModules(content: unknown): unknown {
  if (content === ACK_CONTENT) return content;
  const a = readAnswer(content);
  return a.error ? { error: `${a.error.reason}: ${a.error.message}` } : ACK_CONTENT;
}

/** Kubernetes' MicroTime (lease renewTime): RFC 3339 with six fractional digits */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Kubernetes' Time (conditions): RFC 3339 in seconds */
export function kubeTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * A device's twin report (one outbox message) as KubeEdge's DeviceTwin sends it: the twins as
 * `device/<ns>/<name>/twin/edge_updated` (the cloud writes each `actual` to the DeviceStatus as
 * `reported`), the state as `device/<ns>/<name>/state/update` (a JSON string), both of which the
 * cloud answers "OK". The twin message keeps the report's msg_id, so that answer is the outbox's
 * acknowledgement; the state goes along only when it changed since it was last sent (`lastState`).
 *
 * KubeEdge 1.23's cloud writes a property it has not seen for the device before as an empty twin
 * (`reported: {value: ""}`) and takes its value only from the next message that carries it: seen
 * with a real cloudcore, where a first reading sent once never reached the DeviceStatus. So a twin
 * message naming a property not in `known` (what this cloud has been sent) goes twice.
 */
export function twinMessages(report: Message<TwinReport>, namespace: string, name: string, lastState: string | undefined, known: Set<string>, now: number): { wire: Message[]; state: string } {
  const r = report.content;
  const twin: Record<string, unknown> = {};
  for (const t of r.twins) {
    if (!t.reported && !t.observedDesired) continue;
    twin[t.propertyName] = {
      ...(t.reported ? { actual: { value: t.reported.value, metadata: { timestamp: t.reported.metadata.timestamp } } } : {}),
      ...(t.observedDesired ? { expected: { value: t.observedDesired.value, metadata: { timestamp: t.observedDesired.metadata.timestamp } } } : {}),
      optional: true,
    };
  }
  const state = JSON.stringify({ state: r.state, lastOnlineTime: r.lastOnlineTime ?? '' });
  const base = `device/${namespace}/${name}`;
  const wire: Message[] = [];
  const route = (resource: string) => ({ source: Source.twin, group: Group.resource, operation: 'update', resource });
  const names = Object.keys(twin);
  if (names.length > 0) {
    if (names.some((n) => !known.has(n))) wire.push(newMessage(route(`${base}/twin/edge_updated`), { event_id: randomUUID(), timestamp: now, twin }, { now }));
    for (const n of names) known.add(n);
    wire.push(newMessage(route(`${base}/twin/edge_updated`), { event_id: randomUUID(), timestamp: now, twin }, { id: report.header.msg_id, now }));
  }
  if (state !== lastState || wire.length === 0) {
    const body = { event_id: randomUUID(), timestamp: now, device: { name, state: r.state, ...(r.lastOnlineTime ? { lastOnlineTime: r.lastOnlineTime } : {}) } };
    wire.push(newMessage(route(`${base}/state/update`), JSON.stringify(body), names.length === 0 ? { id: report.header.msg_id, now } : { now }));
  }
  return { wire, state };
}

/** A pod's status as edged patches it: `meta patch <ns>/podpatch/<name>`, a strategic merge patch as a JSON string; answered `{Object, Err}`. */
export function podPatch(msg: Message, namespace: string, name: string): Message {
  return newMessage({ source: Source.edged, group: Group.meta, operation: 'patch', resource: `${namespace}/podpatch/${name}` }, JSON.stringify({ status: msg.content }), { id: msg.header.msg_id, now: msg.header.timestamp });
}
