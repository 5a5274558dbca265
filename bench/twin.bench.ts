/**
 * Twins through the whole system (real processes, mutual TLS):
 * - latency from a desired value applied on the cloud (PUT) to the update/delta on the edge's broker;
 * - latency from an app's twin/update at the edge to the value in the cloud's status (polled);
 * - twin updates per second through the edge (an app publishing twin/update with a window of
 *   requests, each answered by update/result once on disk), against a bare request/result echo
 *   through mosquitto (an mqtt.js responder that stores nothing): the ratio is what the twin costs;
 * - the same reports from a mapper, as DMI ReportDeviceStatus calls on the edge's unix socket,
 *   beside the MQTT ones.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { makeCluster, thermostat, thermostatModel } from '../test/e2e/cluster.js';
import { mqttApp } from '../test/peers/mqtt.js';
import { freePort } from '../test/peers/proxy.js';
import { percentile, report, type Row } from './lib/report.js';
import { UnixClient } from '../core/grpc.js';
import { encode } from '../core/protobuf.js';
import { Manager } from '../api/dmi/messages.js';

const API = '/apis/devices.kubeedge.io/v1beta1/namespaces/default';
const DEVICES = 10;
const UPDATES = 20_000;
const WINDOW = 64;

const rows: Row[] = [];
const c = await makeCluster({ keepaliveInterval: 30 });
try {
  await c.startCloud();
  const edge = await c.startEdge('edge-bench', { heartbeat: 15 });
  const app = await mqttApp(edge.mqttPort);
  await c.api.call('POST', `${API}/devicemodels`, thermostatModel);
  for (let i = 0; i < DEVICES; i++) await c.api.call('POST', `${API}/devices`, thermostat(`t-${i}`, 'edge-bench', '0'));
  for (let i = 0; i < DEVICES; i++) await app.next('$hw/events/node/edge-bench/membership/updated', (b) => b.added_devices?.some((d: any) => d.id === `default/t-${i}`), 30_000);

  // desired on the cloud → delta at the edge
  const cur = (await c.api.call('GET', `${API}/devices/t-0`)).body;
  let next = 0;
  const putMs: number[] = [];
  const desiredLatency = async (samples: number): Promise<number[]> => {
    const out: number[] = [];
    for (let k = 0; k < samples; k++) {
      const value = String(++next);
      cur.spec.properties[0].desired.value = value;
      delete cur.metadata.resourceVersion;
      const t0 = performance.now();
      const r = await c.api.call('PUT', `${API}/devices/t-0`, cur);
      if (r.status !== 200) throw new Error(`PUT ${r.status}`);
      putMs.push(performance.now() - t0);
      await app.next('$hw/events/device/default/t-0/twin/update/delta', (b) => b.delta?.setpoint === value, 10_000);
      out.push(performance.now() - t0);
    }
    return out.sort((a, b) => a - b);
  };
  const quiet = await desiredLatency(200);
  const quietPut = putMs.splice(0).sort((a, b) => a - b);
  rows.push({ metric: 'desired value applied on the cloud → update/delta on the edge broker, p50', ours: percentile(quiet, 50), unit: 'ms' });
  rows.push({ metric: 'desired value applied on the cloud → update/delta on the edge broker, p99', ours: percentile(quiet, 99), unit: 'ms', target: '≤ 20 ms', met: percentile(quiet, 99) <= 20 });
  rows.push({ metric: '  of which the PUT (on the cloud\'s disk before it answers), p50 / p99', ours: `${percentile(quietPut, 50).toFixed(1)} / ${percentile(quietPut, 99).toFixed(1)}`, unit: 'ms' });
  // the same while an app uploads 1,000 messages/s (QoS 1) through the same edge to the cloud
  const loader = await mqtt.connectAsync(`mqtt://127.0.0.1:${edge.mqttPort}`, { reconnectPeriod: 0 });
  let acked = 0;
  const loadStart = performance.now();
  const load = setInterval(() => {
    for (let i = 0; i < 10; i++) loader.publish('$hw/events/upload/load', JSON.stringify({ value: '1', seq: acked }), { qos: 1 }, () => acked++);
  }, 10);
  await new Promise((r) => setTimeout(r, 2000)); // at its steady rate
  const loaded = await desiredLatency(200);
  clearInterval(load);
  const loadRate = acked / ((performance.now() - loadStart) / 1000);
  await loader.endAsync();
  rows.push({ metric: `  the same while an app uploads (${loadRate.toFixed(0)} QoS 1 uploads/s acknowledged), p50`, ours: percentile(loaded, 50), unit: 'ms' });
  rows.push({ metric: '  the same while uploading, p99', ours: percentile(loaded, 99), unit: 'ms', target: '≤ 20 ms', met: percentile(loaded, 99) <= 20 });
  const loadedPut = putMs.splice(0).sort((a, b) => a - b);
  rows.push({ metric: '  of which the PUT while uploading, p50 / p99', ours: `${percentile(loadedPut, 50).toFixed(1)} / ${percentile(loadedPut, 99).toFixed(1)}`, unit: 'ms' });

  // report at the edge → status in the cloud (polled every ms)
  const reportLatency: number[] = [];
  for (let i = 1; i <= 50; i++) {
    const value = `${i}.5`;
    const t0 = performance.now();
    await app.publish('$hw/events/device/default/t-1/twin/update', { event_id: `r${i}`, twin: { temperature: { actual: { value } } } });
    for (;;) {
      const s = (await c.api.call('GET', `${API}/devices/t-1`)).body.status;
      if (s?.twins?.find((t: any) => t.propertyName === 'temperature')?.reported?.value === value) break;
      await new Promise((r) => setTimeout(r, 1));
    }
    reportLatency.push(performance.now() - t0);
  }
  reportLatency.sort((a, b) => a - b);
  rows.push({ metric: 'edge twin/update → status.twins in the cloud (polled; EdgeHub paces frames at messageQPS 30, KubeEdge’s default), p50', ours: percentile(reportLatency, 50), unit: 'ms' });
  rows.push({ metric: 'edge twin/update → status.twins in the cloud (polled; messageQPS 30), p99', ours: percentile(reportLatency, 99), unit: 'ms' });

  // updates per second through the edge: request → durable → update/result
  const rate = async (publish: (i: number) => void, onResult: (cb: (i: number) => void) => void): Promise<number> => {
    let done = 0;
    let sent = 0;
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      onResult(() => {
        done++;
        if (done === UPDATES) resolve();
        else if (sent < UPDATES) publish(sent++);
      });
      for (; sent < WINDOW; sent++) publish(sent);
    });
    return UPDATES / ((performance.now() - t0) / 1000);
  };
  // a client of its own, subscribed to the results only (as the peer's is)
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${edge.mqttPort}`, { reconnectPeriod: 0 });
  await client.subscribeAsync('$hw/events/device/+/+/twin/update/result', { qos: 0 });
  const ours = await rate(
    (i) => client.publish(`$hw/events/device/default/t-${i % DEVICES}/twin/update`, JSON.stringify({ event_id: String(i), twin: { temperature: { actual: { value: String(i % 1000) } } } }), { qos: 0 }),
    (cb) => client.on('message', (topic) => topic.endsWith('/twin/update/result') && cb(0)),
  );
  await client.endAsync();

  // the same reports from a mapper: DMI's ReportDeviceStatus on the edge's unix socket, answered once on disk and in the outbox
  const dmi = new UnixClient(join(c.dir, 'edge-bench', 'dmi.sock'));
  const [reportSchema] = Manager.ReportDeviceStatus;
  let dmiDone: (i: number) => void = () => undefined;
  const dmiRate = await rate(
    (i) =>
      void dmi
        .call(`/${Manager.service}/ReportDeviceStatus`, encode(reportSchema, { deviceName: `t-${i % DEVICES}`, deviceNamespace: 'default', reportedDevice: { twins: [{ propertyName: 'temperature', reported: { value: String(i % 1000) } }] } }), 10_000)
        .then(() => dmiDone(i)),
    (cb) => (dmiDone = cb),
  );
  dmi.close();

  // the peer: a bare responder on mosquitto that answers each request and stores nothing
  const port = await freePort();
  const conf = join(c.dir, 'mosq-bench.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nuser root\nmax_queued_messages 0\n`);
  const broker = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 400));
    const responder = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
    await responder.subscribeAsync('$hw/events/device/+/+/twin/update', { qos: 0 });
    responder.on('message', (topic, payload) => {
      const req = JSON.parse(payload.toString()) as { event_id: string; twin: unknown };
      responder.publish(`${topic}/result`, JSON.stringify({ event_id: req.event_id, timestamp: Date.now(), twin: req.twin }));
    });
    const peerApp = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
    await peerApp.subscribeAsync('$hw/events/device/+/+/twin/update/result', { qos: 0 });
    const peer = await rate(
      (i) => peerApp.publish(`$hw/events/device/default/t-${i % DEVICES}/twin/update`, JSON.stringify({ event_id: String(i), twin: { temperature: { actual: { value: String(i % 1000) } } } }), { qos: 0 }),
      (cb) => peerApp.on('message', () => cb(0)),
    );
    rows.push({ metric: `twin updates/s through the edge (${DEVICES} devices, ${WINDOW} in flight, each on disk and in the outbox before its result)`, ours, peer, peerName: 'bare mqtt.js echo via mosquitto, nothing stored', ratio: ours / peer, unit: 'updates/s' });
    rows.push({ metric: `  the same from a mapper: DMI ReportDeviceStatus round trips/s (gRPC on the unix socket, ${WINDOW} in flight)`, ours: dmiRate, peer: ours, peerName: 'MQTT twin/update → update/result, above', ratio: dmiRate / ours, unit: 'reports/s' });
    await responder.endAsync();
    await peerApp.endAsync();
  } finally {
    broker.kill('SIGKILL');
  }
  await app.close();
} finally {
  await c.stop();
}
report('twin', rows);
process.exit(0);
