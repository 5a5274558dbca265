/**
 * `kubectl top node|pod`: metrics.k8s.io/v1beta1 (NodeMetrics, PodMetrics) as metrics-server serves
 * it, from what each edge says it uses when asked (Edged's usage: the node's CPU and memory, each
 * running container's cgroup or podman's stats). An edge's answer is kept 10 s, as metrics-server
 * keeps a scrape, so kubectl's repeated calls do not each cross the link; an edge that is not
 * connected, or does not answer within 5 s, has no metrics (kubectl shows `<unknown>`).
 */
import { Group, Operation, newMessage } from '../../core/message.js';
import { isObj } from '../../core/guards.js';
import { USAGE_RESOURCE, type NodeUsage } from '../../api/usage.js';
import type { EdgeCalls } from '../cloudhub/index.js';
import type { KubeObject, ObjectStore } from '../store/objects.js';
import { CLUSTER_NAMESPACE } from '../store/objects.js';
import { labelSelector } from './selectors.js';
import { ApiError } from './status.js';

export const METRICS_GROUP_VERSION = 'metrics.k8s.io/v1beta1';
const PREFIX = `/apis/${METRICS_GROUP_VERSION}`;
const KEEP_MS = 10_000;
const ANSWER_MS = 5000;

export const metricsResources = [
  { name: 'nodes', singularName: '', namespaced: false, kind: 'NodeMetrics', verbs: ['get', 'list'] },
  { name: 'pods', singularName: '', namespaced: true, kind: 'PodMetrics', verbs: ['get', 'list'] },
];

const cpu = (nanocores: number): string => `${Math.max(0, Math.round(nanocores))}n`;
const memory = (bytes: number): string => `${Math.max(0, Math.round(bytes / 1024))}Ki`;

function isUsage(v: unknown): v is NodeUsage {
  return isObj(v) && typeof v.timestamp === 'string' && typeof v.windowSeconds === 'number' && isObj(v.node) && typeof v.node.cpuNanocores === 'number' && typeof v.node.memoryBytes === 'number' && Array.isArray(v.pods);
}

export interface MetricsApi {
  /** the answer at `path` (under /apis/metrics.k8s.io/v1beta1), or undefined when it is not one of its paths */
  serve(path: string, params: URLSearchParams): Promise<unknown>;
}

function nodeMetrics(node: KubeObject, u: NodeUsage): unknown {
  return {
    kind: 'NodeMetrics',
    apiVersion: METRICS_GROUP_VERSION,
    metadata: { name: node.metadata.name, creationTimestamp: u.timestamp, labels: node.metadata.labels ?? {} },
    timestamp: u.timestamp,
    window: `${u.windowSeconds}s`,
    usage: { cpu: cpu(u.node.cpuNanocores), memory: memory(u.node.memoryBytes) },
  };
}

function podMetrics(pod: KubeObject, u: NodeUsage): unknown {
  const p = u.pods.find((x) => x.namespace === (pod.metadata.namespace ?? 'default') && x.name === pod.metadata.name);
  if (!p) return undefined;
  return {
    kind: 'PodMetrics',
    apiVersion: METRICS_GROUP_VERSION,
    metadata: { name: pod.metadata.name, namespace: pod.metadata.namespace ?? 'default', creationTimestamp: u.timestamp, labels: pod.metadata.labels ?? {} },
    timestamp: u.timestamp,
    window: `${u.windowSeconds}s`,
    containers: p.containers.map((c) => ({ name: c.name, usage: { cpu: cpu(c.cpuNanocores), memory: memory(c.memoryBytes) } })),
  };
}

const listOf = (kind: string, items: unknown[]): unknown => ({ kind: `${kind}List`, apiVersion: METRICS_GROUP_VERSION, metadata: {}, items });

/** what a node says it uses, asked over the link; an answer is kept KEEP_MS for the next asker */
function usageAsker(edges: EdgeCalls): (node: string) => Promise<NodeUsage | undefined> {
  const kept = new Map<string, { at: number; usage: Promise<NodeUsage | undefined> }>();
  const askNode = (node: string): Promise<NodeUsage | undefined> =>
    new Promise((resolve) => {
      if (!edges.connected(node)) return resolve(undefined);
      const timer = setTimeout(() => {
        call.cancel();
        resolve(undefined);
      }, ANSWER_MS);
      const call = edges.call(node, newMessage({ source: 'apiserver', group: Group.edged, operation: Operation.query, resource: USAGE_RESOURCE }, {}), (part) => {
        clearTimeout(timer);
        if (part.error !== undefined || part.data === undefined) return resolve(undefined);
        try {
          const u: unknown = JSON.parse(part.data);
          resolve(isUsage(u) ? u : undefined);
        } catch {
          resolve(undefined);
        }
      });
    });
  return (node) => {
    const k = kept.get(node);
    if (k && Date.now() - k.at < KEEP_MS) return k.usage;
    const usage = askNode(node);
    // what is old goes (so the map holds at most the nodes asked of in the last KEEP_MS)
    for (const [n, v] of kept) if (Date.now() - v.at >= KEEP_MS) kept.delete(n);
    kept.set(node, { at: Date.now(), usage });
    return usage;
  };
}

export function createMetricsApi(deps: { edges: EdgeCalls; store: ObjectStore }): MetricsApi {
  const ask = usageAsker(deps.edges);
  const nodes = async (name: string | undefined, selected: (o: KubeObject) => boolean): Promise<unknown> => {
    const chosen = deps.store.list('node', CLUSTER_NAMESPACE).map((o) => o.object).filter((n) => (name === undefined || n.metadata.name === name) && selected(n));
    const items = (await Promise.all(chosen.map(async (n) => {
      const u = await ask(n.metadata.name);
      return u ? nodeMetrics(n, u) : undefined;
    }))).filter((x) => x !== undefined);
    if (name === undefined) return listOf('NodeMetrics', items);
    if (!items[0]) throw new ApiError('NotFound', `nodemetrics.metrics.k8s.io "${name}" not found`);
    return items[0];
  };
  const pods = async (namespace: string | undefined, name: string | undefined, selected: (o: KubeObject) => boolean): Promise<unknown> => {
    const byNode = new Map<string, KubeObject[]>();
    for (const p of deps.store.list('pod', namespace).map((o) => o.object)) {
      const node = p.spec?.nodeName;
      if ((name === undefined || p.metadata.name === name) && selected(p) && typeof node === 'string' && node) byNode.set(node, [...(byNode.get(node) ?? []), p]);
    }
    const items = (await Promise.all([...byNode].map(async ([node, ps]) => {
      const u = await ask(node);
      return u ? ps.map((p) => podMetrics(p, u)) : [];
    }))).flat().filter((x) => x !== undefined);
    if (name === undefined) return listOf('PodMetrics', items);
    if (!items[0]) throw new ApiError('NotFound', `podmetrics.metrics.k8s.io "${namespace ?? 'default'}/${name}" not found`);
    return items[0];
  };
  return {
    async serve(path, params) {
      const m = /^(?:\/namespaces\/([^/]+))?\/(nodes|pods)(?:\/([^/]+))?\/?$/.exec(path.slice(PREFIX.length));
      if (!m) return undefined;
      const [, namespace, what, name] = m as unknown as [string, string | undefined, 'nodes' | 'pods', string | undefined];
      const selected = labelSelector(params.get('labelSelector'));
      if (what === 'pods') return pods(namespace, name, selected);
      return namespace === undefined ? nodes(name, selected) : undefined;
    },
  };
}
