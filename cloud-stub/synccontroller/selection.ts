/**
 * Which objects a node must hold: the devices assigned to it and the models they use; the pods bound
 * to it and the ConfigMaps and Secrets those pods read; the router's rules whose source is its
 * eventbus (its EventBus then passes their topics up). SyncController sends a node exactly these.
 */
import { parseResource } from '../../core/message.js';
import { podReferences, type PodSpec } from '../../api/pods/types.js';
import { resourceOf, type Kind, type KubeObject, type ObjectStore, type StoredObject } from '../store/objects.js';

export function deviceNodeName(o: StoredObject): string | undefined {
  const n = o.object.spec?.nodeName;
  return typeof n === 'string' && n !== '' ? n : undefined;
}

export function deviceModelName(o: { object: KubeObject } | KubeObject): string | undefined {
  const obj = 'object' in o ? o.object : o;
  const ref = obj.spec?.deviceModelRef as { name?: unknown } | undefined;
  return typeof ref?.name === 'string' ? ref.name : undefined;
}

/** the node whose eventbus a rule's source is, when it is an eventbus endpoint */
function eventbusNode(store: ObjectStore, rule: KubeObject): string | undefined {
  const spec = rule.spec as { source?: string; sourceResource?: { node_name?: string } } | undefined;
  const ep = store.get('ruleendpoint', rule.metadata.namespace ?? 'default', spec?.source ?? '');
  return ep?.object.spec?.ruleEndpointType === 'eventbus' ? spec?.sourceResource?.node_name : undefined;
}

function references(pod: KubeObject): { configMaps: Set<string>; secrets: Set<string> } {
  return podReferences((pod.spec ?? { containers: [] }) as unknown as PodSpec);
}

export function objectsForNode(store: ObjectStore, node: string): Map<string, StoredObject> {
  const out = new Map<string, StoredObject>();
  const add = (kind: Kind, namespace: string, name: string): void => {
    const o = store.get(kind, namespace, name);
    if (o) out.set(resourceOf(kind, namespace, name), o);
  };
  for (const dev of store.onNode('device', node)) {
    out.set(resourceOf('device', dev.namespace, dev.name), dev);
    const model = deviceModelName(dev);
    if (model !== undefined) add('devicemodel', dev.namespace, model);
  }
  for (const pod of store.onNode('pod', node)) {
    out.set(resourceOf('pod', pod.namespace, pod.name), pod);
    const refs = references(pod.object);
    for (const name of refs.configMaps) add('configmap', pod.namespace, name);
    for (const name of refs.secrets) add('secret', pod.namespace, name);
  }
  for (const rule of store.list('rule')) if (eventbusNode(store, rule.object) === node) out.set(resourceOf('rule', rule.namespace, rule.name), rule);
  return out;
}

/**
 * The version of `resource` that `node` must hold, or undefined when it must not hold it. Asked
 * from the node's side (what it holds), since this runs for every acknowledgement: the object's
 * side (nodesUsing) scans every device for a model, which at 10,000 edges made a connect storm
 * quadratic.
 */
export function wantedVersion(store: ObjectStore, node: string, resource: string): number | undefined {
  const key = parseResource(resource);
  if (!key) return undefined;
  const o = store.get(key.kind as Kind, key.namespace, key.name);
  if (!o) return undefined;
  // a device or a pod names its node
  if (o.kind === 'device' || o.kind === 'pod') return deviceNodeName(o) === node ? o.rv : undefined;
  return objectsForNode(store, node).has(resource) ? o.rv : undefined;
}

/** The nodes that must hold an object: those it is assigned to, or whose devices or pods use it. */
export function nodesUsing(store: ObjectStore, kind: Kind, obj: KubeObject): Set<string> {
  const nodes = new Set<string>();
  const namespace = obj.metadata.namespace ?? 'default';
  const name = obj.metadata.name;
  const nodeOf = (o: KubeObject): void => {
    if (typeof o.spec?.nodeName === 'string' && o.spec.nodeName !== '') nodes.add(o.spec.nodeName);
  };
  switch (kind) {
    case 'device':
    case 'pod':
      nodeOf(obj);
      break;
    case 'devicemodel':
      for (const d of store.list('device', namespace)) if (deviceModelName(d) === name) nodeOf(d.object);
      break;
    case 'configmap':
    case 'secret':
      for (const p of store.list('pod', namespace)) {
        const refs = references(p.object);
        if ((kind === 'configmap' ? refs.configMaps : refs.secrets).has(name)) nodeOf(p.object);
      }
      break;
    case 'rule': {
      const n = eventbusNode(store, obj);
      if (n) nodes.add(n);
      break;
    }
    case 'ruleendpoint':
      for (const r of store.list('rule', namespace)) {
        if ((r.object.spec as { source?: string } | undefined)?.source !== name) continue;
        const n = eventbusNode(store, r.object);
        if (n) nodes.add(n);
      }
      break;
    case 'node':
      break;
  }
  return nodes;
}
