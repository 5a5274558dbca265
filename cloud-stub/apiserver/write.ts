/**
 * A create, update or patch of one object: the body read (a PATCH applied to what the API shows now),
 * its fields judged as Kubernetes judges them (fields.ts), the manifest checked (validate.ts), the
 * version compared, and the object stored, unless the request is a dry run or changes nothing.
 */
import type { IncomingMessage } from 'node:http';
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from '../../core/log.js';
import type { ApiPath } from '../../api/resources.js';
import type { EndpointType } from '../../api/rules.js';
import { CLUSTER_NAMESPACE, type KubeObject, type ObjectStore, type StoredObject } from '../store/objects.js';
import { refOf, type EventLog } from '../events.js';
import { ApiError } from './status.js';
import { validateObject } from './validate.js';
import { dropUnknownFields, duplicateFields, fieldValidationOf, judgeFields } from './fields.js';
import { jsonPatch, mergePatch, strategicMergePatch } from './patch.js';
import { dryRunOf, parseJson, readRaw } from './body.js';

export const UNSCHEDULABLE_TAINT = 'node.kubernetes.io/unschedulable';

export interface WriteContext {
  store: ObjectStore;
  events: EventLog | undefined;
  /** an object as the API shows it */
  present(o: StoredObject): KubeObject;
  log(): Logger | undefined;
}

export interface Written {
  code: number;
  body: unknown;
  warnings: string[];
}

/** an object without what the server writes itself, to tell whether an update changes anything */
function stripSystem(o: KubeObject): unknown {
  // the namespace is the path's: a body may leave it out
  const { uid: _uid, resourceVersion: _rv, creationTimestamp: _ct, namespace: _ns, ...metadata } = o.metadata;
  const { status: _status, ...rest } = o;
  return { ...rest, metadata };
}

/**
 * only what a user may change of a Node: its labels and annotations, and whether pods may be bound to
 * it (kubectl cordon and uncordon set spec.unschedulable; the node.kubernetes.io/unschedulable
 * taint follows it, as Kubernetes' node controller keeps it)
 */
function nodeUpdate(prev: KubeObject, body: KubeObject): KubeObject {
  const { labels, annotations } = body.metadata;
  const unschedulable = body.spec?.unschedulable === true;
  const taints = ((prev.spec?.taints as { key: string }[] | undefined) ?? []).filter((t) => t.key !== UNSCHEDULABLE_TAINT);
  if (unschedulable) taints.push({ key: UNSCHEDULABLE_TAINT, effect: 'NoSchedule', timeAdded: new Date().toISOString().replace(/\.\d+Z$/, 'Z') } as { key: string });
  const { unschedulable: _was, taints: _taints, ...spec } = prev.spec ?? {};
  return {
    ...prev,
    metadata: { ...prev.metadata, ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) },
    spec: { ...spec, ...(unschedulable ? { unschedulable: true } : {}), ...(taints.length ? { taints } : {}) },
  };
}

/** the body of a PATCH applied to what the API shows of the object now, and the patch's text */
async function patched(w: WriteContext, t: ApiPath, ns: string, req: IncomingMessage): Promise<{ body: unknown; text: string }> {
  const prev = w.store.get(t.type.kind, ns, t.name as string);
  if (!prev) throw new ApiError('NotFound', `${t.type.plural} "${t.name ?? ''}" not found`);
  const current = w.present(prev);
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim();
  const text = await readRaw(req);
  const body = parseJson(text);
  switch (type) {
    case 'application/merge-patch+json':
      return { body: mergePatch(current, body), text };
    case 'application/strategic-merge-patch+json':
      return { body: strategicMergePatch(current, body), text };
    case 'application/json-patch+json':
      // its operations may name a key twice, rightly
      return { body: jsonPatch(current, body), text: '{}' };
    default:
      throw new ApiError('UnsupportedMediaType', `PATCH with content-type ${type ?? '(none)'}: use application/merge-patch+json, application/strategic-merge-patch+json or application/json-patch+json`);
  }
}

/** a Device's desired values set on the cloud: an Event each (the setpoint a user changed, and when) */
function desiredEvents(events: EventLog | undefined, before: KubeObject, after: KubeObject): void {
  type Prop = { name: string; desired?: { value?: string } };
  const desired = (o: KubeObject): Map<string, string | undefined> => new Map(((o.spec?.properties as Prop[] | undefined) ?? []).map((p) => [p.name, p.desired?.value]));
  const was = desired(before);
  for (const [name, value] of desired(after)) {
    if (value === undefined || value === was.get(name)) continue;
    events?.record('Normal', 'DesiredValueSet', refOf(after, 'Device'), `${name}: ${was.get(name) ?? '(none)'} → ${value}`);
  }
}

/** the object a body makes, judged; a refusal is also an Event people see in the feed, with why */
function judged(w: WriteContext, t: ApiPath, ns: string, body: unknown, text: string, params: URLSearchParams): { obj: KubeObject; warnings: string[] } {
  const modelProperties = (spec: Record<string, unknown>): ReadonlySet<string> | undefined => {
    const ref = spec.deviceModelRef as { name?: unknown } | undefined;
    const props = typeof ref?.name === 'string' ? w.store.get('devicemodel', ns, ref.name)?.object.spec?.properties : undefined;
    return Array.isArray(props) ? new Set(props.map((p) => (p as { name?: string }).name ?? '')) : undefined;
  };
  const endpointType = (name: string): EndpointType | undefined => w.store.get('ruleendpoint', ns, name)?.object.spec?.ruleEndpointType as EndpointType | undefined;
  try {
    // fields given twice, and fields the kind does not have (dropped here), as Kubernetes names them
    const found = [...duplicateFields(text).map((p) => `duplicate field ${JSON.stringify(p)}`), ...dropUnknownFields(t.type, body)];
    const warnings = judgeFields(t.type, fieldValidationOf(params), found);
    const where = { ...(t.namespace !== undefined ? { namespace: t.namespace } : {}), ...(t.name !== undefined ? { pathName: t.name } : {}) };
    return { obj: validateObject(t.type.kind, body, { ...where, modelProperties, endpointType }), warnings };
  } catch (err) {
    const name = t.name ?? (body as { metadata?: { name?: unknown } } | null)?.metadata?.name;
    if (err instanceof ApiError && !dryRunOf(params.getAll('dryRun'))) w.events?.record('Warning', 'Refused', { kind: t.type.kindName, name: typeof name === 'string' ? name : '', ...(t.type.namespaced ? { namespace: ns } : {}) }, err.message);
    throw err;
  }
}

/** refuses a write the object as stored does not allow: it exists (or not), or has another version */
function checkVersion(w: WriteContext, t: ApiPath, method: string, obj: KubeObject, prev: StoredObject | undefined): void {
  if (method === 'POST' && prev) throw new ApiError('AlreadyExists', `${t.type.plural} "${obj.metadata.name}" already exists`);
  if (method !== 'POST' && !prev) throw new ApiError('NotFound', `${t.type.plural} "${obj.metadata.name}" not found`);
  if (!prev) return;
  const wantRv = obj.metadata.resourceVersion;
  const shownRv = w.present(prev).metadata.resourceVersion;
  if (wantRv !== undefined && wantRv !== '' && wantRv !== String(prev.rv) && wantRv !== shownRv) {
    throw new ApiError('Conflict', `the object has been modified (resourceVersion ${wantRv}, now ${shownRv ?? prev.rv}); read it again and retry`);
  }
}

/** an immutable ConfigMap or Secret keeps its data */
function checkImmutable(t: ApiPath, obj: KubeObject, prev: StoredObject): void {
  const kind = t.type.kind;
  if ((kind !== 'configmap' && kind !== 'secret') || (prev.object as { immutable?: boolean }).immutable !== true) return;
  const same = (k: string): boolean => isDeepStrictEqual((prev.object as unknown as Record<string, unknown>)[k], (obj as unknown as Record<string, unknown>)[k]);
  if (!same('data') || !same('binaryData') || (obj as { immutable?: boolean }).immutable !== true) {
    throw new ApiError('Invalid', `${t.type.kindName} "${obj.metadata.name}" is immutable: delete and create it again to change it`, [{ field: 'data', message: 'field is immutable when `immutable` is set' }]);
  }
}

export async function writeObject(w: WriteContext, t: ApiPath, method: string, req: IncomingMessage, params: URLSearchParams): Promise<Written> {
  const dryRun = dryRunOf(params.getAll('dryRun'));
  const kind = t.type.kind;
  const ns = t.type.namespaced ? (t.namespace as string) : CLUSTER_NAMESPACE;
  const { body, text } = method === 'PATCH' ? await patched(w, t, ns, req) : await readRaw(req).then((raw) => ({ body: parseJson(raw), text: raw }));
  const judgement = judged(w, t, ns, body, text, params);
  const { warnings } = judgement;
  let obj = judgement.obj;
  const prev = w.store.get(kind, ns, obj.metadata.name);
  checkVersion(w, t, method, obj, prev);
  if (kind === 'node' && prev) obj = nodeUpdate(prev.object, obj);
  // status is written by the system (kept apart, see DeviceController and EdgeController), not by users
  delete obj.status;
  // nothing changed (an apply of the same manifest, a PATCH that changes nothing): no new version, nothing sent
  if (prev && isDeepStrictEqual(stripSystem(prev.object), stripSystem(obj))) return { code: 200, body: w.present(prev), warnings };
  if (prev) checkImmutable(t, obj, prev);
  if (dryRun) {
    // as Kubernetes answers a dry run: stamped as it would be, a create without a resourceVersion
    const shown = w.present(w.store.stamped(kind, ns, obj, prev?.rv ?? 0));
    if (!prev) delete shown.metadata.resourceVersion;
    return { code: prev ? 200 : 201, body: shown, warnings };
  }
  const stored = await w.store.put(kind, ns, obj);
  if (kind === 'device' && prev) desiredEvents(w.events, prev.object, stored.object);
  w.log()?.info(`${prev ? 'updated' : 'created'} ${kind} ${t.type.namespaced ? `${ns}/` : ''}${obj.metadata.name} (resourceVersion ${stored.rv})`);
  return { code: prev ? 200 : 201, body: w.present(stored), warnings };
}
