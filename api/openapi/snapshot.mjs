// Picks the schemas of the kinds our cloudcore serves, and every schema they refer to, out of a real
// kube-apiserver's OpenAPI v3 documents (fetched by snapshot.sh), and prints them as one JSON object.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
const ROOTS = [
  ...['Pod', 'Node', 'ConfigMap', 'Secret', 'Event'].flatMap((k) => [`io.k8s.api.core.v1.${k}`, `io.k8s.api.core.v1.${k}List`]),
  'io.k8s.api.events.v1.Event',
  'io.k8s.api.events.v1.EventList',
  'io.k8s.api.policy.v1.Eviction',
  ...['Device', 'DeviceModel', 'DeviceStatus'].flatMap((k) => [`io.kubeedge.devices.v1beta1.${k}`, `io.kubeedge.devices.v1beta1.${k}List`]),
  ...['Rule', 'RuleEndpoint'].flatMap((k) => [`io.kubeedge.rules.v1.${k}`, `io.kubeedge.rules.v1.${k}List`]),
  'io.k8s.apimachinery.pkg.apis.meta.v1.Status',
  'io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions',
  'io.k8s.apimachinery.pkg.apis.meta.v1.Patch',
  'io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent',
];
const all = {};
for (const f of readdirSync(dir).filter((f) => f.startsWith('api'))) Object.assign(all, JSON.parse(readFileSync(join(dir, f), 'utf8')).components.schemas);
const picked = {};
const refs = (x, out) => {
  if (Array.isArray(x)) x.forEach((v) => refs(v, out));
  else if (x && typeof x === 'object') for (const [k, v] of Object.entries(x)) k === '$ref' ? out.push(v.split('/').at(-1)) : refs(v, out);
  return out;
};
const todo = [...ROOTS];
while (todo.length) {
  const name = todo.pop();
  if (picked[name]) continue;
  if (!all[name]) throw new Error(`no schema ${name} in the documents`);
  picked[name] = all[name];
  todo.push(...refs(all[name], []));
}
const version = JSON.parse(readFileSync(join(dir, 'version.json'), 'utf8')).gitVersion;
const sorted = Object.fromEntries(Object.keys(picked).sort().map((k) => [k, picked[k]]));
process.stdout.write(JSON.stringify({ source: `kube-apiserver ${version} with KubeEdge v1.23's CRDs`, schemas: sorted }));
