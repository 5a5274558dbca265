/** Checks an object posted to the resource API; problems become a 422 Invalid Status naming each field. */
import { CLUSTER_NAMESPACE, type Kind, type KubeObject } from '../store/objects.js';
import { ApiError } from './status.js';
import { checkDeviceModelSpec, checkDeviceSpec } from './devices.js';
import { DNS_SUBDOMAIN_RULE, isDnsSubdomain } from '../../runtime/core/names.js';

const expected: Record<Kind, { apiVersion: string; kind: string }> = {
  node: { apiVersion: 'v1', kind: 'Node' },
  device: { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'Device' },
  devicemodel: { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'DeviceModel' },
};

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * `modelProperties` looks up the property names of the model a device spec references (undefined
 * when that model does not exist yet: it may be applied after the device, as with KubeEdge).
 */
export function validateObject(kind: Kind, body: unknown, namespace: string, pathName: string | undefined, modelProperties?: (spec: Record<string, unknown>) => ReadonlySet<string> | undefined): KubeObject {
  const causes: { field: string; message: string }[] = [];
  if (!isObj(body)) throw new ApiError('BadRequest', 'the body must be a JSON object');
  const want = expected[kind];
  if (body.apiVersion !== want.apiVersion) causes.push({ field: 'apiVersion', message: `must be ${want.apiVersion}` });
  if (body.kind !== want.kind) causes.push({ field: 'kind', message: `must be ${want.kind}` });
  const meta = body.metadata;
  if (!isObj(meta)) {
    causes.push({ field: 'metadata', message: 'is required' });
  } else {
    if (typeof meta.name !== 'string' || !isDnsSubdomain(meta.name)) causes.push({ field: 'metadata.name', message: `must be a DNS subdomain: ${DNS_SUBDOMAIN_RULE}` });
    else if (pathName !== undefined && meta.name !== pathName) causes.push({ field: 'metadata.name', message: `does not match the name in the URL (${pathName})` });
    if (meta.namespace !== undefined && meta.namespace !== namespace && namespace !== CLUSTER_NAMESPACE) causes.push({ field: 'metadata.namespace', message: `does not match the namespace in the URL (${namespace})` });
  }
  if (kind !== 'node') {
    if (!isObj(body.spec)) causes.push({ field: 'spec', message: 'is required and must be an object' });
    else causes.push(...(kind === 'device' ? checkDeviceSpec(body.spec, modelProperties?.(body.spec)) : checkDeviceModelSpec(body.spec)));
  }
  if (causes.length) {
    const name = isObj(meta) && typeof meta.name === 'string' ? meta.name : '';
    throw new ApiError('Invalid', `${want.kind} "${name}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join('; ')}`, causes);
  }
  return body as unknown as KubeObject;
}
