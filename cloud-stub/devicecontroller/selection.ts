/** Which objects a node must hold: the devices assigned to it and the models they use. */
import { resourceOf, type ObjectStore, type StoredObject } from '../store/objects.js';

export function deviceNodeName(o: StoredObject): string | undefined {
  const n = o.object.spec?.nodeName;
  return typeof n === 'string' && n !== '' ? n : undefined;
}

export function deviceModelName(o: StoredObject): string | undefined {
  const ref = o.object.spec?.deviceModelRef as { name?: unknown } | undefined;
  return typeof ref?.name === 'string' ? ref.name : undefined;
}

export function objectsForNode(store: ObjectStore, node: string): Map<string, StoredObject> {
  const out = new Map<string, StoredObject>();
  for (const dev of store.list('device')) {
    if (deviceNodeName(dev) !== node) continue;
    out.set(resourceOf('device', dev.namespace, dev.name), dev);
    const model = deviceModelName(dev);
    if (model === undefined) continue;
    const m = store.get('devicemodel', dev.namespace, model);
    if (m) out.set(resourceOf('devicemodel', m.namespace, m.name), m);
  }
  return out;
}
