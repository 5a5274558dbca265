/**
 * Objects as the API shows them: the stored object with the status kept apart from it (what edges
 * report of devices, pods and nodes) and a node's live readiness.
 */
import type { KubeObject, ObjectStore, StoredObject } from '../store/objects.js';
import { nodeObject, type NodeLiveStatus } from '../edgecontroller/index.js';
import { pendingPodStatus } from '../edgecontroller/pods.js';

export function presenter(store: ObjectStore, liveStatus: (node: string) => NodeLiveStatus | undefined): (o: StoredObject) => KubeObject {
  return (o) => {
    switch (o.kind) {
      case 'device': {
        const st = store.status('device', o.namespace, o.name);
        return st ? { ...o.object, status: st.status } : o.object;
      }
      case 'pod': {
        const st = store.status('pod', o.namespace, o.name);
        return { ...o.object, status: st?.status ?? pendingPodStatus(o.object) };
      }
      case 'rule': {
        const st = store.status('rule', o.namespace, o.name);
        return { ...o.object, status: st?.status ?? { successMessages: 0, failMessages: 0 } };
      }
      case 'node': {
        const live = liveStatus(o.name);
        const reported = store.status('node', o.namespace, o.name)?.status;
        const node = live ? nodeObject(o.name, live, o.object) : o.object;
        return reported ? { ...node, status: { ...reported, ...node.status } } : node;
      }
      default:
        return o.object;
    }
  };
}
