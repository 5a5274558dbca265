/**
 * Objects as the API shows them: the stored object with the status kept apart from it (what edges
 * report of devices, pods and nodes, a rule's counts) and a node's live readiness. A status write
 * moves the resourceVersion shown, as it does in Kubernetes (the object stored, and what edges are
 * sent, keep theirs). A DeviceStatus is a Device's status, shown as KubeEdge 1.23 keeps it.
 */
import type { KubeObject, ObjectStore, StatusKind, StoredObject } from '../store/objects.js';
import { nodeObject, type NodeLiveStatus } from '../edgecontroller/index.js';
import { pendingPodStatus } from '../edgecontroller/pods.js';

export function presenter(store: ObjectStore, liveStatus: (node: string) => NodeLiveStatus | undefined): (o: StoredObject) => KubeObject {
  const withStatus = (o: StoredObject, kind: StatusKind, fallback?: Record<string, unknown>): KubeObject => {
    const st = store.status(kind, o.namespace, o.name);
    const rv = Math.max(o.rv, st?.rv ?? 0);
    const status = st?.status ?? fallback;
    return { ...o.object, metadata: { ...o.object.metadata, resourceVersion: String(rv) }, ...(status ? { status } : {}) };
  };
  return (o) => {
    switch (o.kind) {
      case 'device':
        return withStatus(o, 'device');
      case 'devicestatus': {
        const dev = withStatus({ ...o, kind: 'device' }, 'device', { twins: [], state: 'unknown' });
        const { name, namespace, uid, creationTimestamp, resourceVersion } = dev.metadata;
        return {
          apiVersion: 'devices.kubeedge.io/v1beta1',
          kind: 'DeviceStatus',
          metadata: { name, namespace, resourceVersion, creationTimestamp, ownerReferences: [{ apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'Device', name, uid, controller: true }] } as KubeObject['metadata'],
          status: dev.status,
        };
      }
      case 'pod':
        return withStatus(o, 'pod', pendingPodStatus(o.object));
      case 'rule':
        return withStatus(o, 'rule', { successMessages: 0, failMessages: 0 });
      case 'node': {
        const live = liveStatus(o.name);
        const node = withStatus(o, 'node');
        const shown = live ? nodeObject(o.name, live, node) : node;
        return { ...shown, status: { ...(node.status ?? {}), ...shown.status } };
      }
      default:
        return o.object;
    }
  };
}
