/**
 * Pod and node status as edges report them (`<ns>/podstatus/<name>` and `null/nodestatus/<node>`,
 * group `resource`, operation `update`, from the edge's outbox): checked, written durably once per
 * outbox message, and only from the node the pod is bound to (a node can only act as itself).
 */
import { isObj } from '../../core/guards.js';
import type { Logger } from '../../core/log.js';
import { CLUSTER_NAMESPACE, type KubeObject, type ObjectStore } from '../store/objects.js';

const PHASES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'];

/** the status of a pod no edge has reported yet */
export function pendingPodStatus(pod: KubeObject): Record<string, unknown> {
  const bound = typeof pod.spec?.nodeName === 'string' && pod.spec.nodeName !== '';
  const at = pod.metadata.creationTimestamp ?? new Date(0).toISOString();
  return {
    phase: 'Pending',
    conditions: [{ type: 'PodScheduled', status: bound ? 'True' : 'False', lastProbeTime: null, lastTransitionTime: at, ...(bound ? {} : { reason: 'Unschedulable', message: 'waiting for a node' }) }],
  };
}

/** A pod status from an edge, checked for the fields the API and keadm read; throws on a malformed one. */
export function podStatusOfReport(content: unknown): Record<string, unknown> {
  if (!isObj(content)) throw new Error('a pod status must be an object');
  if (typeof content.phase !== 'string' || !PHASES.includes(content.phase)) throw new Error(`phase must be one of ${PHASES.join(', ')}`);
  if (!Array.isArray(content.conditions)) throw new Error('conditions must be a list');
  if (content.containerStatuses !== undefined && !Array.isArray(content.containerStatuses)) throw new Error('containerStatuses must be a list');
  for (const cs of (content.containerStatuses ?? []) as unknown[]) {
    if (!isObj(cs) || typeof cs.name !== 'string' || typeof cs.restartCount !== 'number' || !isObj(cs.state)) throw new Error('each container status needs name, restartCount and state');
  }
  return content;
}

export interface NodeReport {
  status: Record<string, unknown>;
  labels: Record<string, string>;
}

/** A node's status from its edge (capacity, allocatable, nodeInfo, addresses, pods) and the labels it asks for. */
export function nodeStatusOfReport(content: unknown): NodeReport {
  if (!isObj(content) || !isObj(content.status)) throw new Error('a node status needs status');
  const labels = isObj(content.labels) ? content.labels : {};
  for (const [k, v] of Object.entries(labels)) if (typeof v !== 'string') throw new Error(`label ${k} must be a string`);
  const { conditions: _ignored, ...status } = content.status; // readiness is the cloud's to say, from the link
  return { status, labels: labels as Record<string, string> };
}

/** the labels an edge asks for (its nodeLabels, or edged's) join the Node's, when they change */
export async function mergeNodeLabels(store: ObjectStore, node: string, labels: Record<string, string>, log: Logger | undefined): Promise<void> {
  const stored = store.get('node', CLUSTER_NAMESPACE, node);
  if (!stored) return;
  const have = stored.object.metadata.labels ?? {};
  if (Object.entries(labels).every(([k, v]) => have[k] === v)) return;
  await store.put('node', CLUSTER_NAMESPACE, { ...stored.object, metadata: { ...stored.object.metadata, labels: { ...have, ...labels } } });
  log?.info(`node ${node}: labels ${Object.keys(labels).join(', ')} set from its edge`);
}
