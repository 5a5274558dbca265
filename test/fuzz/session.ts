/** The real session the fuzz corpus is captured from, and the manifests the API fuzz starts from. */
import mqtt from 'mqtt';
import { device, eventually, thermometerModel, type Cluster, type Edge } from '../e2e/cluster.js';
import type { Relay } from './targets.js';

const DEVICES = '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices';

/**
 * A real edgecore joined through the relay: it gets a device and its model, reports a twin,
 * uploads, gets a new desired value and loses a device, so the relay records each kind of message
 * a session carries. Returns the edge, still connected through the relay.
 */
export async function captureSession(c: Cluster, relay: Relay, node: string, env: Record<string, string> = {}): Promise<Edge> {
  const post = async (path: string, body: unknown): Promise<void> => {
    const r = await c.api.call('POST', path, body);
    if (r.status !== 201) throw new Error(`POST ${path}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  };
  await post('/apis/devices.kubeedge.io/v1beta1/namespaces/default/devicemodels', thermometerModel);
  await post(DEVICES, device('fuzz-thermo', node));
  await post(DEVICES, device('fuzz-gone', node));
  const edge = await c.startEdge(node, { server: `127.0.0.1:${relay.port}`, heartbeat: 1, env });
  await eventually(async () => (await edge.meta(DEVICES)).body?.items?.length === 2, 20_000, 'both devices at the edge');
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${edge.mqttPort}`);
  await client.publishAsync('$hw/events/device/default/fuzz-thermo/twin/update', JSON.stringify({ event_id: 'c1', timestamp: Date.now(), twin: { setpoint: { actual: { value: '20.5' } } } }), { qos: 1 });
  for (let i = 0; i < 3; i++) await client.publishAsync(`$hw/events/upload/fuzz-thermo`, JSON.stringify({ value: String(20 + i), seq: i }), { qos: 1 });
  await client.endAsync();
  const cur = (await c.api.call('GET', `${DEVICES}/fuzz-thermo`)).body;
  cur.spec.properties[0].desired.value = '23';
  const put = await c.api.call('PUT', `${DEVICES}/fuzz-thermo`, cur);
  if (put.status !== 200) throw new Error(`PUT: HTTP ${put.status}`);
  await c.api.call('DELETE', `${DEVICES}/fuzz-gone`);
  await eventually(async () => (await edge.meta(DEVICES)).body?.items?.length === 1, 20_000, 'the deleted device gone at the edge');
  await new Promise((r) => setTimeout(r, 2500)); // keepalives and acknowledgements both ways
  return edge;
}

/** Manifests of every kind the API takes, for nodes no edge is (a fuzzed Pod must not run anything) */
export function apiManifests(): Record<string, any>[] {
  return [
    device('api-thermo', 'fuzz-api-node'),
    { ...thermometerModel, metadata: { ...thermometerModel.metadata, name: 'api-model' } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'api-config', namespace: 'default', labels: { app: 'x' } }, data: { 'app.conf': 'level=debug\n' } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'api-secret', namespace: 'default' }, type: 'Opaque', data: { password: Buffer.from('hunter2').toString('base64') } },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'api-pod', namespace: 'default' }, spec: { nodeName: 'fuzz-api-node', containers: [{ name: 'app', image: 'docker.io/library/busybox:1.36', command: ['sleep', '3600'], env: [{ name: 'A', value: '1' }] }] } },
    { apiVersion: 'v1', kind: 'Node', metadata: { name: 'fuzz-api-node', labels: { site: 'a' } } },
  ];
}
