/**
 * The twin of a device, as KubeEdge's edge/pkg/devicetwin keeps it: per property an expected
 * (desired) and an actual (reported) value with timestamps and {cloud, edge} versions, and the
 * rules that change them. Pure: no I/O, so every rule is testable on its own.
 */
import { fitsTwinType, twinTypeOf, type DeviceModelSpec, type DeviceSpec, type TwinType } from '../../api/devices/types.js';
import { isObj } from '../../core/guards.js';

export interface TwinValue {
  value: string;
  metadata: { timestamp: number };
}

export interface TwinVersion {
  cloud: number;
  edge: number;
}

export interface Twin {
  expected?: TwinValue;
  actual?: TwinValue;
  expected_version?: TwinVersion;
  actual_version?: TwinVersion;
  optional: boolean;
  metadata: { type: TwinType };
}

export interface DeviceRecord {
  /** `<namespace>/<name>` */
  id: string;
  namespace: string;
  name: string;
  model: string;
  state: string;
  lastOnlineTime?: string;
  twins: Record<string, Twin>;
  /** the desired value of each property last taken from the Device spec: only a change of it sets expected */
  specDesired: Record<string, string>;
  /** why it works or not, as Kubernetes says it: a `Ready` condition with a reason and a message */
  conditions?: DeviceCondition[];
}

export interface DeviceCondition {
  type: 'Ready';
  status: 'True' | 'False';
  /** ModelMissing, DeviceUnreachable, PropertyFailing, or Reading when it works */
  reason: string;
  message: string;
  lastTransitionTime: string;
}

/** Sets the device's condition; false when nothing changed (the same status, reason and message). */
export function applyCondition(dev: DeviceRecord, c: Omit<DeviceCondition, 'lastTransitionTime'> | undefined, now: number): boolean {
  const have = dev.conditions?.find((x) => x.type === 'Ready');
  if (!c) {
    if (!have) return false;
    dev.conditions = dev.conditions?.filter((x) => x.type !== 'Ready');
    return true;
  }
  if (have && have.status === c.status && have.reason === c.reason && have.message === c.message) return false;
  const at = have && have.status === c.status ? have.lastTransitionTime : new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z');
  dev.conditions = [...(dev.conditions ?? []).filter((x) => x.type !== 'Ready'), Object.assign({}, c, { lastTransitionTime: at })]; // kept with the device: why Object.assign, in docs/design.md (Memory)
  return true;
}

/** A request refused: KubeEdge's code and reason. */
export class TwinError extends Error {
  constructor(
    readonly code: 400 | 404 | 500,
    reason: string,
  ) {
    super(reason);
  }
}

export const KEY_RULE = /^[a-zA-Z0-9-_.,:/@#]{1,128}$/;
export const VALUE_RULE = /^[a-zA-Z0-9-_.,:/@#]{1,512}$/;
export const DEVICE_STATES = ['online', 'offline', 'ok', 'unknown', 'unhealthy'] as const;

export function newDevice(namespace: string, name: string, model: string): DeviceRecord {
  return { id: `${namespace}/${name}`, namespace, name, model, state: 'unknown', twins: {}, specDesired: {} };
}

/** a device's twin by a name from outside: only its own ("constructor" is not a twin of every device) */
const ownTwin = (dev: DeviceRecord, key: string): Twin | undefined => (Object.hasOwn(dev.twins, key) ? dev.twins[key] : undefined);

/**
 * Brings a device's twins in line with its Device spec and model: one twin per model property
 * (typed by the model), and a new expected value wherever the spec's desired value changed.
 * `cloudVersion` is the Device's resourceVersion. Returns the keys whose twin changed.
 */
export function applySpec(dev: DeviceRecord, spec: DeviceSpec, model: DeviceModelSpec | undefined, cloudVersion: number, now: number): string[] {
  const changed: string[] = [];
  dev.model = spec.deviceModelRef.name;
  if (!model) return changed; // the model may arrive after the device; twins come with it
  const declared = new Map(model.properties.map((p) => [p.name, twinTypeOf(p.type)]));
  for (const key of Object.keys(dev.twins)) {
    if (!declared.has(key)) {
      delete dev.twins[key];
      delete dev.specDesired[key];
      changed.push(key);
    }
  }
  for (const [key, type] of declared) {
    if (key === '__proto__') continue; // not a name a twin can have in a plain object
    let twin = ownTwin(dev, key);
    if (!twin) {
      twin = dev.twins[key] = { optional: false, metadata: { type } };
      changed.push(key);
    } else if (twin.metadata.type !== type) {
      twin.metadata.type = type;
      changed.push(key);
    }
    const desired = spec.properties?.find((p) => p.name === key)?.desired?.value;
    // KubeEdge's cloud sends `desired: {value: ""}` for a property given no desired value
    if (desired === undefined || desired === '' || desired === dev.specDesired[key]) continue;
    dev.specDesired[key] = desired;
    twin.expected = { value: desired, metadata: { timestamp: now } };
    twin.expected_version = { cloud: cloudVersion, edge: twin.expected_version?.edge ?? 0 };
    if (!changed.includes(key)) changed.push(key);
  }
  return changed;
}

/** Twins whose expected value differs from the actual one, with the expected value. */
export function deltaOf(dev: DeviceRecord): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, t] of Object.entries(dev.twins)) {
    if (t.expected && t.expected.value !== t.actual?.value) out[key] = t.expected.value;
  }
  return out;
}

export type DealType = 'edge' | 'cloud';

interface Parsed {
  eventId: string;
  twin: Record<string, Record<string, unknown> | null>;
}


/** Parses a JSON payload into an object; a bad one is a 400 with the reason. */
export function parsePayload(payload: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(payload);
  } catch {
    throw new TwinError(400, 'payload is not valid JSON');
  }
  if (!isObj(v)) throw new TwinError(400, 'payload must be a JSON object');
  return v;
}

export function eventIdOf(v: Record<string, unknown> | undefined): string {
  return typeof v?.event_id === 'string' ? v.event_id : '';
}

function parseUpdate(body: Record<string, unknown>): Parsed {
  if (body.event_id !== undefined && typeof body.event_id !== 'string') throw new TwinError(400, 'event_id must be a string');
  if (!isObj(body.twin)) throw new TwinError(400, 'twin must be an object of properties');
  const twin: Parsed['twin'] = {};
  for (const [key, t] of Object.entries(body.twin)) {
    if (!KEY_RULE.test(key)) throw new TwinError(400, `twin key ${JSON.stringify(key.slice(0, 140))} is not allowed: 1-128 of a-z A-Z 0-9 - _ . , : / @ #`);
    if (t !== null && !isObj(t)) throw new TwinError(400, `twin ${key} must be an object or null`);
    twin[key] = t;
  }
  return { eventId: eventIdOf(body), twin };
}

function parseValue(key: string, field: 'expected' | 'actual', v: unknown, type: TwinType): string {
  if (!isObj(v)) throw new TwinError(400, `twin ${key}: ${field} must be an object with a value`);
  const value = v.value;
  if (typeof value !== 'string') throw new TwinError(400, `twin ${key}: ${field}.value must be a string, not ${JSON.stringify(value)?.slice(0, 40)}`);
  if (value !== '' && !VALUE_RULE.test(value)) throw new TwinError(400, `twin ${key}: ${field}.value is not allowed: 1-512 of a-z A-Z 0-9 - _ . , : / @ #`);
  if (value !== '' && !fitsTwinType(type, value)) throw new TwinError(400, `twin ${key}: ${field}.value ${JSON.stringify(value)} is not of type ${type}`);
  return value;
}

function parseVersion(key: string, field: string, v: unknown): TwinVersion {
  if (!isObj(v) || !Number.isSafeInteger(v.cloud) || !Number.isSafeInteger(v.edge)) throw new TwinError(400, `twin ${key}: ${field} must be {cloud, edge} whole numbers`);
  return { cloud: v.cloud as number, edge: v.edge as number };
}

/**
 * KubeEdge's dealVersion: an edge update bumps the edge version; a cloud sync must carry a version,
 * and is refused when its cloud or edge version is older than the stored one.
 */
function dealVersion(key: string, stored: TwinVersion | undefined, requested: TwinVersion | undefined, deal: DealType): TwinVersion {
  if (deal === 'edge') return { cloud: stored?.cloud ?? 0, edge: (stored?.edge ?? 0) + 1 };
  if (!requested) throw new TwinError(400, `twin ${key}: a cloud sync must carry a version`);
  if (stored && stored.cloud > requested.cloud) throw new TwinError(400, `twin ${key}: cloud version ${requested.cloud} is older than ${stored.cloud}`);
  if (stored && stored.edge > requested.edge) throw new TwinError(400, `twin ${key}: edge version ${requested.edge} is older than ${stored.edge}; version conflict`);
  return requested;
}

export interface UpdateOutcome {
  eventId: string;
  /** the keys changed, with what was taken (for update/result) */
  result: Record<string, unknown>;
  /** last and current of each changed twin (for update/document) */
  document: Record<string, { last: Twin | null; current: Twin }>;
}

const clone = <T>(v: T): T => structuredClone(v);


/**
 * Applies a twin update (from a local app, `edge`, or a `twin/cloud_updated` sync, `cloud`) to a
 * copy of the device; all or nothing: one bad key or value refuses the whole message. Returns the
 * new record and what to publish. `null` for a declared twin changes nothing (twins are not optional).
 */
export function applyUpdate(dev: DeviceRecord, payload: Record<string, unknown>, deal: DealType, now: number): { next: DeviceRecord; outcome: UpdateOutcome } {
  const req = parseUpdate(payload);
  const next = clone(dev);
  const outcome: UpdateOutcome = { eventId: req.eventId, result: {}, document: {} };
  for (const [key, t] of Object.entries(req.twin)) {
    const twin = ownTwin(next, key);
    if (!twin) throw new TwinError(400, `twin ${key} is not a property of device ${dev.id}'s model ${dev.model}`);
    if (t === null) continue;
    const last = clone(twin);
    const taken: Record<string, unknown> = {};
    for (const field of ['expected', 'actual'] as const) {
      if (t[field] === undefined) continue;
      const value = parseValue(key, field, t[field], twin.metadata.type);
      const versionField = field === 'expected' ? 'expected_version' : 'actual_version';
      const requested = t[versionField] === undefined ? undefined : parseVersion(key, versionField, t[versionField]);
      twin[versionField] = dealVersion(key, twin[versionField], requested, deal);
      twin[field] = { value, metadata: { timestamp: now } };
      taken[field] = twin[field];
    }
    if (Object.keys(taken).length === 0) continue;
    outcome.result[key] = taken;
    outcome.document[key] = { last: last.expected || last.actual ? last : null, current: clone(twin) };
  }
  return { next, outcome };
}

/** The twins as `twin/get/result` shows them: without versions. */
export function publicTwins(dev: DeviceRecord): Record<string, { expected?: TwinValue; actual?: TwinValue; optional: boolean; metadata: { type: TwinType } }> {
  const out: ReturnType<typeof publicTwins> = {};
  for (const [key, t] of Object.entries(dev.twins)) {
    out[key] = { ...(t.expected ? { expected: t.expected } : {}), ...(t.actual ? { actual: t.actual } : {}), optional: t.optional, metadata: t.metadata };
  }
  return out;
}

/** Parses a `state/update` payload; the state is any case of KubeEdge's five. */
export function parseState(body: Record<string, unknown>): string {
  const s = body.state;
  if (typeof s !== 'string' || !(DEVICE_STATES as readonly string[]).includes(s.toLowerCase())) {
    throw new TwinError(400, `state must be one of ${DEVICE_STATES.join(', ')} (any case), not ${JSON.stringify(s)?.slice(0, 40)}`);
  }
  return s.toLowerCase();
}

/** Sets the device state; online and ok stamp lastOnlineTime. Returns whether anything changed. */
export function applyState(dev: DeviceRecord, state: string, now: number): boolean {
  const stamp = state === 'online' || state === 'ok';
  if (dev.state === state && !stamp) return false;
  dev.state = state;
  if (stamp) dev.lastOnlineTime = new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return true;
}

/** What the cloud is told of a device: every twin's reported and observed desired value, and the state. */
export interface TwinReport {
  twins: { propertyName: string; reported?: TwinValue; observedDesired?: TwinValue }[];
  state: string;
  lastOnlineTime?: string;
  conditions?: DeviceCondition[];
}

/** `localOnly`: properties whose reported values stay at the edge (`reportToCloud: false`) */
export function reportOf(dev: DeviceRecord, localOnly: ReadonlySet<string> = new Set()): TwinReport {
  const twins = Object.entries(dev.twins).map(([propertyName, t]) => ({
    propertyName,
    ...(t.actual && !localOnly.has(propertyName) ? { reported: t.actual } : {}),
    ...(t.expected ? { observedDesired: t.expected } : {}),
  }));
  return { twins, state: dev.state, ...(dev.lastOnlineTime ? { lastOnlineTime: dev.lastOnlineTime } : {}), ...(dev.conditions?.length ? { conditions: dev.conditions } : {}) };
}
