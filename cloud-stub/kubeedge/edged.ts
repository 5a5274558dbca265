/**
 * What KubeEdge's edged asks of the cloud (group `meta`), answered as KubeEdge's edgecontroller
 * answers it: `{Object, Err}` with the object as the cloud now holds it, or a Kubernetes Status.
 *
 *   insert null/node/<node>              its Node (labels, capacity, nodeInfo, addresses): stored
 *   patch  null/nodepatch/<node>         a strategic merge patch of the Node (a JSON string)
 *   query|insert|update kube-node-lease/lease/<node>   its Lease, kept in memory (a restarted
 *                                        cloudcore answers NotFound, and edged makes it again)
 *   patch  <ns>/podpatch/<name>          a pod's status, from the node it is bound to
 *   query  <ns>/{configmap,secret,pod}/<name>  what the node holds already (see objectsForNode)
 *
 * A node acts only as itself: another node's Node, Lease or pod is Forbidden. Readiness stays the
 * cloud's to say, from the link (the conditions edged sends are not stored).
 */
import { randomUUID } from 'node:crypto';
import { isObj } from '../../core/guards.js';
import { parseResource } from '../../core/message.js';
import { strategicMergePatch } from '../apiserver/patch.js';
import { ApiError } from '../apiserver/status.js';
import { mergeNodeLabels, nodeStatusOfReport, podStatusOfReport } from '../edgecontroller/pods.js';
import { CLUSTER_NAMESPACE, resourceOf, type KubeObject, type ObjectStore } from '../store/objects.js';
import { objectsForNode } from '../synccontroller/selection.js';
import type { Logger } from '../../core/log.js';

export const LEASE_NAMESPACE = 'kube-node-lease';

export interface EdgedAnswers {
  /** the object for the answer; rejects with an ApiError for a Status; undefined: not edged's */
  answer(node: string, operation: string, resource: string, content: unknown): Promise<unknown> | undefined;
}

const parsed = (content: unknown): unknown => {
  if (typeof content !== 'string') return content;
  try {
    return JSON.parse(content) as unknown;
  } catch {
    throw new ApiError('BadRequest', 'the patch is not JSON');
  }
};

export function createEdgedAnswers(deps: { store: ObjectStore; log: () => Logger | undefined }): EdgedAnswers {
  return new EdgedAnswerer(deps);
}

class EdgedAnswerer implements EdgedAnswers {
  private readonly leases = new Map<string, KubeObject>();
  private leaseRv = 0;

  constructor(private readonly deps: { store: ObjectStore; log: () => Logger | undefined }) {}

  /** the Node as edged is told it is: the stored object and the status its edge reported */
  private nodeNow(node: string): KubeObject {
    const stored = this.deps.store.get('node', CLUSTER_NAMESPACE, node);
    const status = this.deps.store.status('node', CLUSTER_NAMESPACE, node)?.status ?? {};
    const object = stored?.object ?? { apiVersion: 'v1', kind: 'Node', metadata: { name: node }, spec: {} };
    return { ...object, metadata: { ...object.metadata, ...(stored ? { resourceVersion: String(stored.rv) } : {}) }, status: { ...(object.status ?? {}), ...status } };
  }

  private async writeNode(node: string, body: unknown): Promise<KubeObject> {
    const { store } = this.deps;
    if (!isObj(body)) throw new ApiError('BadRequest', 'a Node must be an object');
    const meta = isObj(body.metadata) ? body.metadata : {};
    const labels = isObj(meta.labels) ? (meta.labels as Record<string, string>) : {};
    if (!store.get('node', CLUSTER_NAMESPACE, node)) {
      await store.put('node', CLUSTER_NAMESPACE, { apiVersion: 'v1', kind: 'Node', metadata: { name: node, labels: { ...labels, 'node-role.kubernetes.io/edge': '' } }, spec: {} });
    } else {
      await mergeNodeLabels(store, node, labels, this.deps.log());
    }
    if (isObj(body.status)) {
      const report = nodeStatusOfReport({ status: body.status });
      await store.reportStatus('node', CLUSTER_NAMESPACE, node, { status: report.status, node, storeId: 'kubeedge', seq: 0 });
    }
    return this.nodeNow(node);
  }

  private lease(node: string, name: string, operation: string, content: unknown): KubeObject {
    if (name !== node) throw new ApiError('Forbidden', `node ${node} cannot act on the lease of ${name}`);
    const have = this.leases.get(name);
    if (operation === 'query') {
      if (!have) throw new ApiError('NotFound', `lease.coordination.k8s.io "${name}" not found`);
      return have;
    }
    if (operation === 'insert' && have) throw new ApiError('AlreadyExists', `lease.coordination.k8s.io "${name}" already exists`);
    if (!isObj(content) || !isObj(content.spec)) throw new ApiError('BadRequest', 'a Lease needs spec');
    const meta = isObj(content.metadata) ? content.metadata : {};
    const made: KubeObject = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { ...meta, name, namespace: LEASE_NAMESPACE, uid: have?.metadata.uid ?? randomUUID(), resourceVersion: String(++this.leaseRv), creationTimestamp: have?.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') },
      spec: content.spec,
    };
    this.leases.set(name, made);
    return made;
  }

  private async podPatch(node: string, namespace: string, name: string, content: unknown): Promise<KubeObject> {
    const { store } = this.deps;
    const pod = store.get('pod', namespace, name);
    if (!pod) throw new ApiError('NotFound', `pods "${name}" not found`);
    if (pod.object.spec?.nodeName !== node) throw new ApiError('Forbidden', `pod ${namespace}/${name} is not bound to node ${node}`);
    const patch = parsed(content);
    if (!isObj(patch) || !isObj(patch.status)) throw new ApiError('BadRequest', 'a pod patch needs status');
    const status = strategicMergePatch(store.status('pod', namespace, name)?.status ?? {}, patch.status) as Record<string, unknown>;
    try {
      podStatusOfReport(status);
    } catch (err) {
      throw new ApiError('BadRequest', (err as Error).message);
    }
    await store.reportStatus('pod', namespace, name, { status, node, storeId: 'kubeedge', seq: 0 });
    return { ...pod.object, metadata: { ...pod.object.metadata, resourceVersion: String(pod.rv) }, status };
  }

  /** a node's own Node: registered, patched or read by that node only */
  private ownNode(node: string, name: string, operation: string, content: unknown): Promise<KubeObject> | undefined {
    if (operation !== 'insert' && operation !== 'patch' && operation !== 'query') return undefined;
    const verb = operation === 'insert' ? 'register' : operation === 'patch' ? 'patch' : 'read';
    if (name !== node) return Promise.reject(new ApiError('Forbidden', `node ${node} cannot ${verb} node ${name}`));
    if (operation === 'insert') return this.writeNode(node, content);
    if (operation === 'query') return Promise.resolve(this.nodeNow(node));
    return Promise.resolve()
      .then(() => parsed(content))
      .then((patch) => this.writeNode(node, strategicMergePatch(this.nodeNow(node), patch ?? {})));
  }

  answer(node: string, operation: string, resource: string, content: unknown): Promise<unknown> | undefined {
    const key = parseResource(resource);
    if (!key) return undefined;
    const { namespace, kind, name } = key;
    if ((kind === 'node' && operation !== 'patch') || (kind === 'nodepatch' && operation === 'patch')) return this.ownNode(node, name, operation, content);
    if (kind === 'lease' && namespace === LEASE_NAMESPACE) return Promise.resolve().then(() => this.lease(node, name, operation, content));
    if (kind === 'podpatch' && operation === 'patch') return this.podPatch(node, namespace, name, content);
    if ((kind === 'configmap' || kind === 'secret' || kind === 'pod') && operation === 'query') {
      const held = objectsForNode(this.deps.store, node).get(resourceOf(kind, namespace, name));
      if (!held) return Promise.reject(new ApiError('NotFound', `${kind}s "${name}" not found for node ${node}`));
      return Promise.resolve({ ...held.object, metadata: { ...held.object.metadata, resourceVersion: String(held.rv) } });
    }
    return undefined;
  }
}
