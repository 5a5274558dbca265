/**
 * Soak: one real edgecore, a Modbus slave (pymodbus) read by its driver, and a cloudcore, for a
 * fixed time (`--minutes N`, default 10), under
 * - uploads from an app (QoS 1 on $hw/events/upload/…), 10^6 per 10 minutes when the machine keeps up;
 * - a rule's uploads (QoS 1 on default/soak) that the cloud's router POSTs to an HTTP endpoint
 *   here, which records every sequence number: what a user's backend would see;
 * - twin updates: reported values from an app, desired values through the API (10^5 per 10 minutes);
 * - cloudcore SIGKILLed and started again every minute, and the link cut every 45 s (a proxy).
 * Sampled every 5 s: edgecore's RSS and heap after a full GC. Printed: the slopes after the
 * first fifth (warm-up), the outbox's and store's files at the end, and that every upload the
 * edge acknowledged (PUBACK) reached the endpoint exactly once, and the last twin values agree.
 */
import { createServer } from 'node:http';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { makeCluster, eventually, type Cluster } from '../test/e2e/cluster.js';
import { freePort, startProxy } from '../test/peers/proxy.js';
import { pymodbusSlave } from '../test/peers/serial.js';
import { sample } from '../test/peers/metrics.js';
import { report, type Row } from './lib/report.js';
import { memoryOf } from './lib/usage.js';

const flag = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const MINUTES = Number(flag('minutes') ?? process.env.BENCH_SOAK_MINUTES ?? 10);
const DURATION_MS = MINUTES * 60_000;
const UPLOADS = Math.round(1e6 * (MINUTES / 10));
const TWINS = Math.round(1e5 * (MINUTES / 10));
const RULE_RATE = 50; // per second, on the router's path
const NODE = 'soak-edge';
const DEVICES = '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const model = {
  apiVersion: 'devices.kubeedge.io/v1beta1',
  kind: 'DeviceModel',
  metadata: { name: 'plc', namespace: 'default' },
  spec: { protocol: 'modbus', properties: [{ name: 'temperature', type: 'FLOAT', accessMode: 'ReadOnly' }, { name: 'setpoint', type: 'INT', accessMode: 'ReadWrite' }] },
};
const plc = (port: number) => ({
  apiVersion: 'devices.kubeedge.io/v1beta1',
  kind: 'Device',
  metadata: { name: 'plc-1', namespace: 'default' },
  spec: {
    deviceModelRef: { name: 'plc' },
    nodeName: NODE,
    protocol: { protocolName: 'modbus', configData: { ip: '127.0.0.1', port, slaveID: 1, timeout: 300 } },
    properties: [
      { name: 'temperature', collectCycle: 500, visitors: { protocolName: 'modbus', configData: { register: 'InputRegister', offset: 0, dataType: 'int16', scale: 0.1 } } },
      { name: 'setpoint', collectCycle: 500, desired: { value: '20' }, visitors: { protocolName: 'modbus', configData: { register: 'HoldingRegister', offset: 60, dataType: 'int16' } } },
    ],
  },
});
/** a device with no protocol: its twin is the app's to report */
const panel = {
  apiVersion: 'devices.kubeedge.io/v1beta1',
  kind: 'Device',
  metadata: { name: 'panel-1', namespace: 'default' },
  spec: { deviceModelRef: { name: 'plc' }, nodeName: NODE, properties: [{ name: 'setpoint', desired: { value: '0' } }, { name: 'temperature' }] },
};

/** least-squares slope of y over x */
function slope(points: [number, number][]): number {
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const num = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const den = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  // KubeEdge's router is off unless enabled, as here
  const c: Cluster = await makeCluster({ keepaliveInterval: 6, cloudModules: { router: { enable: true, port: await freePort() } } });
  const mbPort = await freePort();
  const slave = await pymodbusSlave('tcp', mbPort);
  // the user's backend: records each app sequence number the router delivers, under which message ids
  const delivered = new Map<number, Set<string>>();
  const posts = new Map<string, number>();
  const backend = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const id = String(req.headers['x-kubeedge-message-id']);
      posts.set(id, (posts.get(id) ?? 0) + 1);
      try {
        const seq = Number((JSON.parse(Buffer.concat(chunks).toString()) as { seq: number }).seq);
        let ids = delivered.get(seq);
        if (!ids) delivered.set(seq, (ids = new Set()));
        ids.add(id);
      } catch {
        /* counted below as not delivered */
      }
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  const backendPort = (backend.address() as { port: number }).port;
  try {
    await c.startCloud();
    const apply = async (path: string, body: unknown): Promise<void> => {
      const r = await c.api.call('POST', path, body);
      if (r.status !== 201) throw new Error(`POST ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    };
    await apply('/apis/devices.kubeedge.io/v1beta1/namespaces/default/devicemodels', model);
    await apply(DEVICES, plc(mbPort));
    await apply(DEVICES, panel);
    await apply('/apis/rules.kubeedge.io/v1/namespaces/default/ruleendpoints', { apiVersion: 'rules.kubeedge.io/v1', kind: 'RuleEndpoint', metadata: { name: 'soak-eventbus' }, spec: { ruleEndpointType: 'eventbus', properties: {} } });
    await apply('/apis/rules.kubeedge.io/v1/namespaces/default/ruleendpoints', { apiVersion: 'rules.kubeedge.io/v1', kind: 'RuleEndpoint', metadata: { name: 'soak-rest' }, spec: { ruleEndpointType: 'rest', properties: {} } });
    await apply('/apis/rules.kubeedge.io/v1/namespaces/default/rules', { apiVersion: 'rules.kubeedge.io/v1', kind: 'Rule', metadata: { name: 'soak-to-backend' }, spec: { source: 'soak-eventbus', sourceResource: { topic: 'soak', node_name: NODE }, target: 'soak-rest', targetResource: { resource: `http://127.0.0.1:${backendPort}/ingest` } } });

    const proxy = await startProxy(c.hubPort);
    // --expose-gc: the memory samples (SIGUSR2) are taken after a full GC, so a slope is growth, not garbage
    const edge = await c.startEdge(NODE, { server: `127.0.0.1:${proxy.port}`, heartbeat: 2, outboxLimit: 2 * UPLOADS, modules: { edgeHub: { messageQPS: 1e6, messageBurst: 1e6 } }, env: { NODE_OPTIONS: '--expose-gc' } });
    await edge.proc.waitFor(/rule default\/soak-to-backend: messages on default\/soak go to the cloud/, 30_000);
    const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${edge.metaPort}/metrics`)).text();

    // three apps, as three programs on a gateway would be: one uploading, one on the rule's topic, one reporting twins
    const connect = (clientId: string) => mqtt.connectAsync(`mqtt://127.0.0.1:${edge.mqttPort}`, { reconnectPeriod: 200, clientId });
    const app = await connect('soak-uploads');
    const ruleApp = await connect('soak-rule');
    const twinApp = await connect('soak-twins');
    const start = Date.now();
    const end = start + DURATION_MS;
    let uploadsAcked = 0;
    const ruleAcked = new Set<number>();
    let twinsSent = 0;
    let desiredSent = 0;
    let lastReported = '';
    let lastDesired = '';
    let cloudKills = 0;
    let linkCuts = 0;
    const samples: { t: number; rss: number; heap: number }[] = [];

    // uploads, paced to UPLOADS over the run, 64 in flight
    const uploads = async (): Promise<void> => {
      let next = 0;
      const worker = async (): Promise<void> => {
        while (Date.now() < end && next < UPLOADS) {
          const i = next++;
          const due = start + (i / UPLOADS) * DURATION_MS;
          if (due > Date.now()) await sleep(due - Date.now());
          try {
            await app.publishAsync(`$hw/events/upload/soak/${i % 8}`, JSON.stringify({ value: String(i % 100), seq: i }), { qos: 1 });
            uploadsAcked++;
          } catch {
            /* not acknowledged: the app's to resend; not counted */
          }
        }
      };
      await Promise.all(Array.from({ length: 64 }, worker));
    };
    // the rule's path: one sequence at RULE_RATE, each PUBACKed one must reach the backend once
    const ruleUploads = async (): Promise<void> => {
      for (let seq = 0; Date.now() < end; seq++) {
        try {
          await ruleApp.publishAsync('default/soak', JSON.stringify({ seq }), { qos: 1 });
          ruleAcked.add(seq);
        } catch {
          /* not acknowledged */
        }
        await sleep(1000 / RULE_RATE);
      }
    };
    // reported twin values from the app; desired values from the cloud
    const twins = async (): Promise<void> => {
      for (let i = 0; Date.now() < end && i < TWINS; i++) {
        const due = start + (i / TWINS) * DURATION_MS;
        if (due > Date.now()) await sleep(due - Date.now());
        const value = String(i);
        try {
          await twinApp.publishAsync('$hw/events/device/default/panel-1/twin/update', JSON.stringify({ event_id: `t${i}`, timestamp: Date.now(), twin: { temperature: { actual: { value } } } }), { qos: 1 });
          lastReported = value;
          twinsSent++;
        } catch {
          /* not acknowledged */
        }
      }
    };
    const desired = async (): Promise<void> => {
      for (let k = 1; Date.now() < end; k++) {
        await sleep(500);
        const r = await c.api.call('GET', `${DEVICES}/panel-1`).catch(() => undefined);
        if (r?.status !== 200) continue; // the cloud is restarting
        r.body.spec.properties[0].desired.value = String(k);
        const put = await c.api.call('PUT', `${DEVICES}/panel-1`, r.body).catch(() => undefined);
        if (put?.status === 200) {
          lastDesired = String(k);
          desiredSent++;
        }
      }
    };
    const chaos = async (): Promise<void> => {
      let nextKill = start + 60_000;
      let nextCut = start + 45_000;
      while (Date.now() < end - 20_000) {
        await sleep(1000);
        if (Date.now() >= nextKill) {
          await c.cloud?.kill('SIGKILL');
          await sleep(1000);
          await c.startCloud();
          cloudKills++;
          nextKill += 60_000;
        }
        if (Date.now() >= nextCut) {
          proxy.cutAll();
          linkCuts++;
          nextCut += 45_000;
        }
      }
    };
    const sampler = async (): Promise<void> => {
      while (Date.now() < end) {
        const m = await memoryOf(edge.proc);
        samples.push({ t: (Date.now() - start) / 60_000, rss: m.rss / 1024, heap: m.heap / 1024 });
        await sleep(5000);
      }
    };
    await Promise.all([uploads(), ruleUploads(), twins(), desired(), chaos(), sampler()]);
    await Promise.all([app.endAsync(), ruleApp.endAsync(), twinApp.endAsync()]);

    // everything acknowledged reaches the cloud
    await eventually(async () => (JSON.parse(await (await fetch(`http://127.0.0.1:${edge.metaPort}/outbox`)).text()) as { queued: number }).queued === 0, 300_000, 'the outbox drained');
    await eventually(async () => [...ruleAcked].every((s) => delivered.has(s)), 120_000, 'the router delivered every acknowledged rule upload').catch(() => undefined);
    const cloudTwin = async (): Promise<{ reported?: string; desiredAtEdge?: string }> => {
      const dev = (await c.api.call('GET', `${DEVICES}/panel-1`)).body;
      const reported = dev.status?.twins?.find((t: any) => t.propertyName === 'temperature')?.reported?.value;
      const atEdge = (await edge.meta(`${DEVICES}/panel-1`)).body?.spec?.properties?.[0]?.desired?.value;
      return { reported, desiredAtEdge: atEdge };
    };
    let twinState: { reported?: string; desiredAtEdge?: string } = {};
    await eventually(async () => {
      twinState = await cloudTwin();
      return twinState.reported === lastReported && twinState.desiredAtEdge === lastDesired;
    }, 60_000, 'the last twin values agree').catch(() => undefined);
    const missing = [...ruleAcked].filter((s) => !delivered.has(s));
    const lost = missing.length;
    if (lost > 0) console.log(`rule uploads acknowledged but not delivered (first 20 of ${lost}): ${missing.slice(0, 20).join(' ')}; delivered ${delivered.size}, highest ${Math.max(...delivered.keys())}`);
    // twice: one app message under two ids (the backend would take it twice); reposted: one id POSTed again (at least once; the backend takes it once)
    const twice = [...delivered.values()].filter((ids) => ids.size > 1).length;
    const reposted = [...posts.values()].filter((n) => n > 1).length;
    const dir = join(c.dir, NODE);
    const size = (f: string): number => statSync(join(dir, f), { throwIfNoEntry: false })?.size ?? 0;
    const m = await metrics();
    const modbusReads = sample(m, 'edgecore_device_property_reads_total') ?? 0;

    const warm = samples.filter((s) => s.t >= MINUTES / 5);
    const rssSlope = slope(warm.map((s) => [s.t, s.rss])) * 60;
    const heapSlope = slope(warm.map((s) => [s.t, s.heap])) * 60;
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    rows.push({ metric: `soak: ${MINUTES} min, cloud SIGKILLed ${cloudKills}×, link cut ${linkCuts}×`, ours: `${uploadsAcked.toLocaleString('en')} uploads, ${twinsSent.toLocaleString('en')} twin reports, ${desiredSent} desired`, unit: '' });
    rows.push({ metric: '  uploads acknowledged to the app / planned', ours: uploadsAcked / UPLOADS, unit: 'ratio', target: '≥ 0.95 (the machine kept up)', met: uploadsAcked >= 0.95 * UPLOADS });
    rows.push({ metric: '  twin reports acknowledged / planned', ours: twinsSent / TWINS, unit: 'ratio', target: '≥ 0.95', met: twinsSent >= 0.95 * TWINS });
    rows.push({ metric: `  rule uploads PUBACKed → at the backend: lost / taken twice`, ours: `${lost} / ${twice} of ${ruleAcked.size}`, unit: '', target: '0 / 0', met: lost === 0 && twice === 0 });
    rows.push({ metric: `  POSTed again with the same X-KubeEdge-Message-Id (a cloud killed just after a POST)`, ours: reposted, unit: 'messages' });
    rows.push({ metric: '  last twin values agree (reported in the cloud, desired at the edge)', ours: `${twinState.reported ?? '-'}=${lastReported}, ${twinState.desiredAtEdge ?? '-'}=${lastDesired}`, unit: '', target: 'equal', met: twinState.reported === lastReported && twinState.desiredAtEdge === lastDesired });
    rows.push({ metric: '  edgecore RSS after warm-up: mean, slope', ours: `${mean(warm.map((s) => s.rss)).toFixed(1)} MiB, ${rssSlope.toFixed(2)} MiB/h`, unit: '', target: '|slope| ≤ 5 MiB/h', met: Math.abs(rssSlope) <= 5 });
    rows.push({ metric: '  edgecore JS heap after warm-up: mean, slope', ours: `${mean(warm.map((s) => s.heap)).toFixed(1)} MiB, ${heapSlope.toFixed(2)} MiB/h`, unit: '', target: '|slope| ≤ 2 MiB/h', met: Math.abs(heapSlope) <= 2 });
    rows.push({ metric: '  files at the end: outbox journal / store / store changes', ours: `${(size('edgecore.db.outbox') / 1024).toFixed(0)} / ${(size('edgecore.db') / 1024).toFixed(0)} / ${(size('edgecore.db.changes') / 1024).toFixed(0)}`, unit: 'KiB' });
    rows.push({ metric: '  Modbus property reads through the driver', ours: modbusReads, unit: 'reads' });
    await edge.proc.kill('SIGKILL');
    await proxy.close();
  } finally {
    backend.close();
    await slave.stop();
    await c.stop();
  }
  report('soak', rows);
}

await main();
process.exit(0);
