/**
 * The resource types of the API, one table for every side: the cloud's API server and the edge's
 * MetaServer route by it, keadm finds paths and kind words in it. Paths are Kubernetes' own
 * (`/api/v1/namespaces/{ns}/pods/{name}`, `/apis/{group}/{version}/...`).
 */

/** a type's name as it appears on the link (`default/pod/hello`) and in the stores */
export type ResourceKind = 'node' | 'device' | 'devicemodel' | 'devicestatus' | 'pod' | 'configmap' | 'secret' | 'rule' | 'ruleendpoint';

export interface ResourceType {
  kind: ResourceKind;
  /** Kubernetes' `kind` (`Pod`) */
  kindName: string;
  plural: string;
  shortNames: readonly string[];
  /** '' for the core group */
  group: string;
  version: string;
  namespaced: boolean;
  /** shown by the API from other objects (a DeviceStatus is a Device's status): read only, never stored */
  derived?: boolean;
}

export const RESOURCES: readonly ResourceType[] = [
  { kind: 'node', kindName: 'Node', plural: 'nodes', shortNames: ['no'], group: '', version: 'v1', namespaced: false },
  { kind: 'pod', kindName: 'Pod', plural: 'pods', shortNames: ['po'], group: '', version: 'v1', namespaced: true },
  { kind: 'configmap', kindName: 'ConfigMap', plural: 'configmaps', shortNames: ['cm'], group: '', version: 'v1', namespaced: true },
  { kind: 'secret', kindName: 'Secret', plural: 'secrets', shortNames: [], group: '', version: 'v1', namespaced: true },
  { kind: 'device', kindName: 'Device', plural: 'devices', shortNames: [], group: 'devices.kubeedge.io', version: 'v1beta1', namespaced: true },
  { kind: 'devicemodel', kindName: 'DeviceModel', plural: 'devicemodels', shortNames: [], group: 'devices.kubeedge.io', version: 'v1beta1', namespaced: true },
  { kind: 'devicestatus', kindName: 'DeviceStatus', plural: 'devicestatuses', shortNames: [], group: 'devices.kubeedge.io', version: 'v1beta1', namespaced: true, derived: true },
  { kind: 'rule', kindName: 'Rule', plural: 'rules', shortNames: [], group: 'rules.kubeedge.io', version: 'v1', namespaced: true },
  { kind: 'ruleendpoint', kindName: 'RuleEndpoint', plural: 'ruleendpoints', shortNames: ['re'], group: 'rules.kubeedge.io', version: 'v1', namespaced: true },
];

export function resourceType(kind: ResourceKind): ResourceType {
  return RESOURCES.find((r) => r.kind === kind) as ResourceType;
}

export function apiVersionOf(r: ResourceType): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

/** the type a user names on a command line: `pods`, `pod`, `po`, `Pod`, `devices.devices.kubeedge.io` */
export function typeByWord(word: string): ResourceType | undefined {
  const w = word.toLowerCase();
  return RESOURCES.find((r) => [r.kind, r.plural, ...r.shortNames, `${r.plural}.${r.group}`, `${r.kind}.${r.group}`].includes(w));
}

/** the type of a manifest's `apiVersion` and `kind` */
export function typeOfManifest(apiVersion: unknown, kindName: unknown): ResourceType | undefined {
  return RESOURCES.find((r) => r.kindName === kindName && apiVersionOf(r) === apiVersion);
}

export function pathOf(r: ResourceType, namespace: string | undefined, name?: string, subresource?: string): string {
  const prefix = r.group ? `/apis/${r.group}/${r.version}` : '/api/v1';
  const ns = r.namespaced && namespace !== undefined ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${prefix}${ns}/${r.plural}${name === undefined ? '' : `/${encodeURIComponent(name)}`}${subresource ? `/${subresource}` : ''}`;
}

export interface ApiPath {
  type: ResourceType;
  /** undefined: every namespace (or a cluster-scoped type) */
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
}

const PATH = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?\/?$/;

export function parsePath(path: string): ApiPath | undefined {
  const m = PATH.exec(path);
  if (!m) return undefined;
  const [, coreVersion, group, groupVersion, namespace, plural, name, subresource] = m;
  const type = RESOURCES.find((r) => r.plural === plural && (coreVersion ? r.group === '' && r.version === coreVersion : r.group === group && r.version === groupVersion));
  if (!type) return undefined;
  if (namespace !== undefined && !type.namespaced) return undefined;
  const decode = (s: string | undefined): string | undefined => (s === undefined ? undefined : decodeURIComponent(s));
  return { type, namespace: decode(namespace), name: decode(name), subresource };
}
