/**
 * What kubectl asks before anything else: the server's version, the API groups and each group
 * version's resources (with short names and verbs), and the OpenAPI documents (openapi.ts). Asked
 * for `/openapi/v2` as protobuf, the answer is an empty document, a valid one: kubectl reads v3,
 * and validates nothing on its side once v3 says the server validates fields.
 */
import { VERSION } from '../../core/cli.js';
import { RESOURCES, apiVersionOf, type ResourceType } from '../../api/resources.js';
import { openApiV2, openApiV3 } from './openapi.js';
import { METRICS_GROUP_VERSION, metricsResources } from './top.js';

const READ = ['get', 'list', 'watch'];
const WRITE = ['create', 'update', 'patch', 'delete'];

function verbsOf(r: ResourceType): string[] {
  if (r.derived) return READ;
  if (r.kind === 'node') return [...READ, 'update', 'patch', 'delete'];
  return [...READ, ...WRITE];
}

function resourceList(groupVersion: string, types: readonly ResourceType[]): unknown {
  const resources: unknown[] = [];
  for (const r of types) {
    resources.push({ name: r.plural, singularName: r.kind, namespaced: r.namespaced, kind: r.kindName, verbs: verbsOf(r), ...(r.shortNames.length ? { shortNames: r.shortNames } : {}) });
    if (r.kind === 'pod') {
      resources.push({ name: 'pods/status', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] });
      resources.push({ name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] });
      for (const [sub, kind] of [['exec', 'PodExecOptions'], ['attach', 'PodAttachOptions']]) resources.push({ name: `pods/${sub as string}`, singularName: '', namespaced: true, kind, verbs: ['create', 'get'] });
      // kubectl drain looks for it here before it evicts
      resources.push({ name: 'pods/eviction', singularName: '', namespaced: true, group: 'policy', version: 'v1', kind: 'Eviction', verbs: ['create'] });
    }
  }
  if (groupVersion === METRICS_GROUP_VERSION) resources.push(...metricsResources);
  // events: what happened to objects (kubectl get events, describe)
  if (groupVersion === 'v1' || groupVersion === 'events.k8s.io/v1') resources.push({ name: 'events', singularName: 'event', namespaced: true, kind: 'Event', verbs: READ, ...(groupVersion === 'v1' ? { shortNames: ['ev'] } : {}) });
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources };
}

const groups = (): Map<string, ResourceType[]> => {
  // events.k8s.io/v1 holds only events (added by resourceList), metrics.k8s.io what edges use (top.ts)
  const m = new Map<string, ResourceType[]>([['events.k8s.io/v1', []], [METRICS_GROUP_VERSION, []]]);
  for (const r of RESOURCES) {
    if (!r.group) continue;
    const l = m.get(apiVersionOf(r)) ?? [];
    l.push(r);
    m.set(apiVersionOf(r), l);
  }
  return m;
};

/** the discovery answer at `path`, or undefined when it is not a discovery path */
export function discovery(path: string, host: string, accept = ''): { body: unknown; contentType?: string } | undefined {
  const p = path.replace(/\/$/, '') || '/';
  if (p === '/version') return { body: { major: '1', minor: '32', gitVersion: `v1.32.0-kubeedge-lite-${VERSION}`, gitCommit: '', gitTreeState: 'clean', buildDate: '', goVersion: 'node', compiler: 'esbuild', platform: `linux/${process.arch === 'x64' ? 'amd64' : process.arch}` } };
  if (p === '/api') return { body: { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: host }] } };
  if (p === '/api/v1') return { body: resourceList('v1', RESOURCES.filter((r) => !r.group)) };
  if (p === '/apis') {
    const byGroup = new Map<string, string[]>();
    for (const gv of groups().keys()) {
      const [g, v] = gv.split('/') as [string, string];
      byGroup.set(g, [...(byGroup.get(g) ?? []), v]);
    }
    const list = [...byGroup].map(([name, versions]) => ({ name, versions: versions.map((version) => ({ groupVersion: `${name}/${version}`, version })), preferredVersion: { groupVersion: `${name}/${versions[0] as string}`, version: versions[0] } }));
    return { body: { kind: 'APIGroupList', apiVersion: 'v1', groups: list } };
  }
  const gv = /^\/apis\/([^/]+\/[^/]+)$/.exec(p)?.[1];
  if (gv && groups().has(gv)) return { body: resourceList(gv, groups().get(gv) as ResourceType[]) };
  if (p === '/openapi/v2') {
    if (accept.includes('protobuf')) return { body: Buffer.alloc(0), contentType: 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf' };
    return { body: Buffer.from(openApiV2(`v${VERSION}`)), contentType: 'application/json' };
  }
  const v3 = p.startsWith('/openapi/v3') ? openApiV3(p) : undefined;
  if (v3 !== undefined) return { body: Buffer.from(v3), contentType: 'application/json' };
  return undefined;
}
