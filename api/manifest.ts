/**
 * Checks a manifest as a whole (apiVersion, kind, metadata, spec): Devices, DeviceModels, Nodes,
 * Pods, ConfigMaps and Secrets.
 * Shared by the cloud's resource API and the standalone edge's manifest folder, so a manifest is
 * judged the same way wherever it is applied. Each problem names its field path.
 */
import { DNS_SUBDOMAIN_RULE, isDnsSubdomain } from './names.js';
import { checkDeviceModelSpec, checkDeviceSpec } from './devices/spec.js';
import { checkConfigData, checkPodSpec, normalizeSecret } from './pods/spec.js';
import { checkRuleEndpointSpec, checkRuleSpec, type EndpointType } from './rules.js';
import type { Problem } from './check.js';
import type { KubeObject } from './object.js';
import { isObj } from '../core/guards.js';

import { RESOURCES, apiVersionOf, resourceType, type ResourceKind } from './resources.js';

export type ManifestKind = ResourceKind;

export const DEVICE_API_VERSION = 'devices.kubeedge.io/v1beta1';

/** `Device` → `device`, for the kinds this runtime knows */
export function manifestKind(kind: unknown): ManifestKind | undefined {
  return RESOURCES.find((r) => r.kindName === kind)?.kind;
}

export function kindName(kind: ManifestKind): string {
  return resourceType(kind).kindName;
}

export interface ManifestCheck {
  /** the namespace the object goes to; a different `metadata.namespace` is a problem */
  namespace?: string;
  /** the name in the URL, when there is one */
  pathName?: string;
  /** property names of the model a device spec references, when that model exists */
  modelProperties?: (spec: Record<string, unknown>) => ReadonlySet<string> | undefined;
  /** the type of a RuleEndpoint a rule names, when it exists */
  endpointType?: (name: string) => EndpointType | undefined;
}

export function checkManifest(kind: ManifestKind, body: unknown, opts: ManifestCheck = {}): { object?: KubeObject; problems: Problem[] } {
  if (!isObj(body)) return { problems: [{ field: '', message: 'must be an object' }] };
  const problems: Problem[] = [];
  const want = resourceType(kind);
  if (body.apiVersion !== apiVersionOf(want)) problems.push({ field: 'apiVersion', message: `must be ${apiVersionOf(want)}` });
  if (body.kind !== want.kindName) problems.push({ field: 'kind', message: `must be ${want.kindName}` });
  const meta = body.metadata;
  if (!isObj(meta)) {
    problems.push({ field: 'metadata', message: 'is required' });
  } else {
    if (typeof meta.name !== 'string' || !isDnsSubdomain(meta.name)) problems.push({ field: 'metadata.name', message: `must be a DNS subdomain: ${DNS_SUBDOMAIN_RULE}` });
    else if (opts.pathName !== undefined && meta.name !== opts.pathName) problems.push({ field: 'metadata.name', message: `does not match the name in the URL (${opts.pathName})` });
    if (meta.namespace !== undefined && typeof meta.namespace !== 'string') problems.push({ field: 'metadata.namespace', message: 'must be a string' });
    else if (meta.namespace !== undefined && opts.namespace !== undefined && kind !== 'node' && meta.namespace !== opts.namespace) {
      problems.push({ field: 'metadata.namespace', message: `does not match the namespace in the URL (${opts.namespace})` });
    }
  }
  if (kind === 'configmap' || kind === 'secret') {
    problems.push(...checkConfigData(kind, body));
  } else if (kind !== 'node') {
    if (!isObj(body.spec)) problems.push({ field: 'spec', message: 'is required and must be an object' });
    else if (kind === 'pod') problems.push(...checkPodSpec(body.spec));
    else if (kind === 'rule') problems.push(...checkRuleSpec(body.spec, opts.endpointType));
    else if (kind === 'ruleendpoint') problems.push(...checkRuleEndpointSpec(body.spec));
    else problems.push(...(kind === 'device' ? checkDeviceSpec(body.spec, opts.modelProperties?.(body.spec)) : checkDeviceModelSpec(body.spec)));
  }
  if (problems.length) return { problems };
  return { object: (kind === 'secret' ? normalizeSecret(body) : body) as unknown as KubeObject, problems };
}

export function describeProblems(kind: ManifestKind, body: unknown, problems: readonly Problem[]): string {
  const meta = isObj(body) && isObj(body.metadata) ? body.metadata : {};
  const name = typeof meta.name === 'string' ? meta.name : '';
  return `${kindName(kind)} "${name}" is invalid: ${problems.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message)).join('; ')}`;
}
