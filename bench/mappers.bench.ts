/**
 * Mappers: the memory of mapper-opcua (node-opcua's client) driving 10 OPC UA boilers (one
 * session each, temperature by a monitored item, pressure and setpoint polled every second), beside
 * edgecore's on the same run and a bare node process; and how fast its readings reach the cloud.
 * Each RSS is read once the processes have settled (10 s after the last device is Reading).
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { NODE_ARGS } from '../keadm/service.js';
import { eventually, makeCluster } from '../test/e2e/cluster.js';
import { ROOT, runBundle, runProcess, type Proc } from '../test/peers/proc.js';
import { freePort } from '../test/peers/proxy.js';
import { anonKiB } from './lib/usage.js';
import { report, rssKiB, type Row } from './lib/report.js';

/** the Node flags of the packaged mapper unit (build.mjs, images/build.mjs) */
const MAPPER_FLAGS = ['--max-semi-space-size=1', '--liftoff-only'];

const API = '/apis/devices.kubeedge.io/v1beta1/namespaces/default';
const DEVICES = 10;
const mib = (kib: number): number => kib / 1024;
const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function bareNode(): Promise<{ rss: number; anon: number }> {
  const p = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await settle(3000);
  const out = { rss: rssKiB(p.pid as number), anon: anonKiB(p.pid as number) };
  p.kill('SIGKILL');
  return out;
}

const rows: Row[] = [];
const c = await makeCluster({ keepaliveInterval: 30 });
const procs: Proc[] = [];
try {
  const port = await freePort();
  const server = runProcess(process.execPath, [resolve(ROOT, 'test/peers/opcua-boiler.mjs'), String(port), join(c.dir, 'boiler-pki'), 'open'], {}, 'boiler');
  procs.push(server);
  await server.waitFor(/^ready$/, 60_000);
  await c.startCloud();
  const edge = await c.startEdge('edge-mappers', { heartbeat: 15, launcher: [process.execPath, ...NODE_ARGS.edgecore] });
  // with the Node flags of its packaged unit, as it runs on a board
  const mapper = runBundle('mapper-opcua', ['--dmi-socket', join(c.dir, 'edge-mappers', 'dmi.sock'), '--socket', join(c.dir, 'mapper-opcua.sock'), '--pki-dir', join(c.dir, 'mapper-pki')], {}, [process.execPath, ...MAPPER_FLAGS]);
  procs.push(mapper);
  await mapper.waitFor(/registered with edgecore/, 20_000);
  const model = { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'DeviceModel', metadata: { name: 'boiler-model' }, spec: { protocol: 'opcua', properties: ['temperature', 'pressure', 'setpoint'].map((name) => ({ name, type: 'FLOAT', accessMode: name === 'setpoint' ? 'ReadWrite' : 'ReadOnly' })) } };
  await c.api.call('POST', `${API}/devicemodels`, model);
  const url = `opc.tcp://127.0.0.1:${port}/UA/Boiler`;
  const visitor = (id: string, subscribe = false) => ({ protocolName: 'opcua', configData: { nodeID: `ns=2;s=${id}`, subscribe } });
  for (let i = 0; i < DEVICES; i++) {
    await c.api.call('POST', `${API}/devices`, {
      apiVersion: 'devices.kubeedge.io/v1beta1',
      kind: 'Device',
      metadata: { name: `boiler-${i}` },
      spec: {
        deviceModelRef: { name: 'boiler-model' },
        nodeName: 'edge-mappers',
        protocol: { protocolName: 'opcua', configData: { url, securityMode: 'None' } },
        properties: [
          { name: 'temperature', collectCycle: 1000, reportCycle: 1000, visitors: visitor('Temperature', true) },
          { name: 'pressure', collectCycle: 1000, reportCycle: 1000, visitors: visitor('Pressure') },
          { name: 'setpoint', collectCycle: 1000, desired: { value: '50' }, visitors: visitor('Setpoint') },
        ],
      },
    });
  }
  const t0 = performance.now();
  const reading = async (): Promise<number> => {
    const items = (await c.api.call('GET', `${API}/devices`)).body.items as any[];
    return items.filter((d) => d.status?.twins?.some((t: any) => t.propertyName === 'temperature' && t.reported?.value)).length;
  };
  await eventually(async () => (await reading()) === DEVICES, 60_000, 'every boiler in status.twins');
  const firstMs = performance.now() - t0;
  await settle(10_000);
  const bare = await bareNode();
  const m = { rss: rssKiB(mapper.child.pid as number), anon: anonKiB(mapper.child.pid as number) };
  const e = { rss: rssKiB(edge.proc.child.pid as number), anon: anonKiB(edge.proc.child.pid as number) };
  rows.push({ metric: `mapper-opcua RSS, ${DEVICES} OPC UA devices (a session each), settled`, ours: mib(m.rss), peer: mib(bare.rss), peerName: 'bare node', ratio: m.rss / bare.rss, unit: 'MiB' });
  rows.push({ metric: '  its anonymous memory (RssAnon)', ours: mib(m.anon), peer: mib(bare.anon), peerName: 'bare node', ratio: m.anon / bare.anon, unit: 'MiB' });
  rows.push({ metric: `edgecore RSS in the same run (DMI serving the mapper, ${DEVICES} devices)`, ours: mib(e.rss), peer: mib(bare.rss), peerName: 'bare node', ratio: e.rss / bare.rss, unit: 'MiB' });
  rows.push({ metric: '  its anonymous memory (RssAnon)', ours: mib(e.anon), peer: mib(bare.anon), peerName: 'bare node', ratio: e.anon / bare.anon, unit: 'MiB' });
  rows.push({ metric: `Devices applied → all ${DEVICES} boilers' readings in status.twins`, ours: firstMs, unit: 'ms' });
} finally {
  for (const p of procs) await p.kill('SIGKILL');
  await c.stop();
}
report('mappers', rows);
process.exit(0);
