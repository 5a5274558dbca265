/**
 * What an open dashboard costs cloudcore: its RSS and CPU while 100 devices on one edge report a
 * new value every second, first with no dashboard open, then with one page reading the dashboard's
 * stream (/ui/api/stream), beside the same without it. The stream is read by a client in this
 * process: what the cloud does for a page does not depend on what draws it.
 */
import mqtt from 'mqtt';
import { request } from 'node:https';
import { makeCluster, eventually, readyOf } from '../test/e2e/cluster.js';
import { NODE_ARGS } from '../keadm/service.js';
import { cpuSeconds } from './lib/usage.js';
import { report, rssKiB, type Row } from './lib/report.js';

const DEVICES = 100;
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 20_000);
const NODE = 'bench-ui';

async function main(): Promise<void> {
  const c = await makeCluster();
  const rows: Row[] = [];
  let stream: { close(): void; bytes(): number; events(): number } | undefined;
  try {
    await c.startCloud();
    const cloudPid = c.cloud?.child.pid as number;
    const edge = await c.startEdge(NODE, { launcher: [process.execPath, ...NODE_ARGS.edgecore] });
    await eventually(async () => readyOf((await c.api.call('GET', `/api/v1/nodes/${NODE}`)).body) === 'True', 15_000, 'Ready');
    await c.api.call('POST', '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devicemodels', { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'DeviceModel', metadata: { name: 'meter' }, spec: { properties: [{ name: 'value', type: 'INT', accessMode: 'ReadOnly' }] } });
    for (let i = 0; i < DEVICES; i++) {
      await c.api.call('POST', '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices', { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'Device', metadata: { name: `meter-${i}` }, spec: { deviceModelRef: { name: 'meter' }, nodeName: NODE, properties: [{ name: 'value' }] } });
    }
    // an app at the edge: every device gets a new value every second
    const app = await mqtt.connectAsync(`mqtt://127.0.0.1:${edge.mqttPort}`);
    let tick = 0;
    const timer = setInterval(() => {
      tick++;
      for (let i = 0; i < DEVICES; i++) app.publish(`$hw/events/device/default/meter-${i}/twin/update`, JSON.stringify({ event_id: `${tick}-${i}`, twin: { value: { actual: { value: String(tick * 1000 + i) } } } }));
    }, 1000);
    const lastReported = async (): Promise<number> => Number((await c.api.call('GET', `/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices/meter-${DEVICES - 1}`)).body?.status?.twins?.[0]?.reported?.value ?? 0);
    await eventually(async () => (await lastReported()) > 0, 20_000, 'reports reaching the cloud');
    await new Promise((r) => setTimeout(r, 5000)); // settle

    const measure = async (): Promise<{ cpu: number; rss: number }> => {
      const cpu0 = cpuSeconds(cloudPid);
      await new Promise((r) => setTimeout(r, WINDOW_MS));
      return { cpu: (cpuSeconds(cloudPid) - cpu0) / (WINDOW_MS / 1000), rss: rssKiB(cloudPid) };
    };
    const without = await measure();
    stream = openStream(c.apiPort, c.pki.ca.cert, 'test-admin-token');
    await new Promise((r) => setTimeout(r, 3000));
    const withPage = await measure();
    const got = { bytes: stream.bytes(), events: stream.events() };
    clearInterval(timer);
    await app.endAsync();

    rows.push({ metric: `cloudcore CPU, ${DEVICES} devices updating each second, dashboard open`, ours: withPage.cpu * 100, peer: without.cpu * 100, peerName: 'no dashboard', ratio: withPage.cpu / without.cpu, unit: '% of a core' });
    rows.push({ metric: 'cloudcore RSS, dashboard open', ours: withPage.rss / 1024, peer: without.rss / 1024, peerName: 'no dashboard', ratio: withPage.rss / without.rss, unit: 'MiB' });
    rows.push({ metric: '  stream to the page: messages/s (batched once a second)', ours: got.events / ((WINDOW_MS + 3000) / 1000), unit: '/s' });
    rows.push({ metric: '  stream to the page: KiB/s', ours: got.bytes / 1024 / ((WINDOW_MS + 3000) / 1000), unit: 'KiB/s' });
  } finally {
    stream?.close();
    await c.stop();
  }
  report('dashboard', rows);
}

/** the dashboard's stream, read as a page reads it: bytes and events counted */
function openStream(port: number, ca: string, token: string): { close(): void; bytes(): number; events(): number } {
  let bytes = 0;
  let events = 0;
  const req = request({ host: '127.0.0.1', port, path: '/ui/api/stream', ca, headers: { authorization: `Bearer ${token}` } }, (res) => {
    if (res.statusCode !== 200) throw new Error(`stream: HTTP ${res.statusCode}`);
    res.on('data', (b: Buffer) => {
      bytes += b.length;
      events += b.toString('utf8').split('\nevent: ').length - 1 + (b.toString('utf8').startsWith('event: ') ? 1 : 0);
    });
  });
  req.on('error', () => undefined);
  req.end();
  return { close: () => req.destroy(), bytes: () => bytes, events: () => events };
}

await main();
