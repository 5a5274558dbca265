/**
 * The EdgeHub–CloudHub link: acknowledged messages per second both ways, round-trip latency,
 * bytes per message CBOR vs JSON, and cloudcore's memory per connected edge.
 * Peer: mqtt.js QoS 1 into mosquitto over mutual TLS, in the same run.
 */
import { join } from 'node:path';
import WebSocket from 'ws';
import { makeCluster, type Cluster } from '../test/e2e/cluster.js';
import { startProxy } from '../test/peers/proxy.js';
import { createBus } from '../core/bus.js';
import { openDb } from '../core/db.js';
import { systemClock } from '../core/clock.js';
import { createLogger } from '../core/log.js';
import { startModules } from '../core/module.js';
import { cborCodec, jsonCodec } from '../core/codec.js';
import { newMessage, ackOf, type Message } from '../core/message.js';
import { defaults } from '../core/schema.js';
import { edgeCoreSchema } from '../api/config/edgecore.js';
import { createEdgeHub } from '../runtime/edgehub/index.js';
import { createMetaManager } from '../runtime/metamanager/index.js';
import { createPublicKey } from 'node:crypto';
import { newRsaKeyPem } from '../core/pki/pki.js';
import { signLeaf } from '../core/pki/x509.js';
import { percentile, report, type Row } from './lib/report.js';
import { mosquittoPeer } from './lib/mosquitto.js';
import { memoryOf } from './lib/usage.js';
import { ROOT, runProcess, type Proc } from '../test/peers/proc.js';

const quiet = createLogger({ level: 'error' });
const N = Number(process.env.BENCH_MESSAGES ?? 20_000);
const EDGES = Number(process.env.BENCH_EDGES ?? 1000);

async function inProcessEdge(c: Cluster, node: string) {
  const certs = c.pki.edge(node);
  const cfg = defaults(edgeCoreSchema);
  const hub = { ...cfg.modules.edgeHub, heartbeat: 5, messageQPS: 1e6, messageBurst: 1e6, websocket: { ...cfg.modules.edgeHub.websocket, server: `127.0.0.1:${c.hubPort}` } };
  const bus = createBus(quiet);
  const edgeHub = createEdgeHub({ config: hub, nodeName: node, tls: () => ({ ca: Buffer.from(c.pki.ca.cert), cert: Buffer.from(certs.cert), key: Buffer.from(certs.key) }), queueLimit: 100_000 });
  const meta = createMetaManager({ config: { enable: true, outboxLimit: 10_000, metaServer: { enable: false, server: '127.0.0.1:0' } }, dataSource: join(c.dir, `${node}.db`) });
  const stop = await startModules([{ module: meta, enabled: true }, { module: edgeHub, enabled: true }], { bus, log: quiet, clock: systemClock });
  while (!edgeHub.stats().connected) await new Promise((r) => setTimeout(r, 20));
  return { bus, edgeHub, meta, stop };
}

const upload = (i: number): Message => newMessage({ source: 'eventbus', group: 'user', operation: 'upload', resource: `$hw/events/upload/bench/${i % 16}` }, { value: String(20 + (i % 10) / 10), seq: i });

async function edgeToCloud(bus: ReturnType<typeof createBus>, n: number, window: number): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      const reply = await bus.sendSync('edgehub', upload(i), 30_000);
      if (reply.content !== 'OK') throw new Error(`not acknowledged: ${JSON.stringify(reply.content)}`);
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  return n / ((performance.now() - t0) / 1000);
}

async function cloudToEdge(c: Cluster, n: number): Promise<number> {
  // objects made while the edge is away, then delivered in one sync when it connects
  const node = 'bench-c2e';
  for (let i = 0; i < n; i++) {
    const r = await c.api.call('POST', '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices', {
      apiVersion: 'devices.kubeedge.io/v1beta1',
      kind: 'Device',
      metadata: { name: `dev-${i}` },
      spec: { nodeName: node, deviceModelRef: { name: 'm' }, properties: [{ name: 'p', desired: { value: String(i) } }] },
    });
    if (r.status !== 201) throw new Error(`create failed: ${r.status}`);
  }
  await (await openDb({ path: ':memory:', schema: '', log: quiet })).close(); // sql.js compiled: time the sync, not the start
  const t0 = performance.now();
  const edge = await inProcessEdge(c, node);
  while ((edge.meta.store()?.count('device') ?? 0) < n) await new Promise((r) => setTimeout(r, 5));
  const rate = n / ((performance.now() - t0) / 1000);
  await edge.stop();
  return rate;
}

async function latency(bus: ReturnType<typeof createBus>, samples: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    await bus.sendSync('edgehub', upload(i), 10_000);
    out.push(performance.now() - t0);
  }
  return out.sort((a, b) => a - b);
}

function bytesPerMessage(): { cbor: number; json: number } {
  const dev = { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'Device', metadata: { name: 'thermo-1', namespace: 'default', uid: '7d0b6a0e-4c1c-4d7e-9d8a-1f0c2b3a4d5e', resourceVersion: '1042' }, spec: { nodeName: 'edge-1', deviceModelRef: { name: 'thermometer' }, protocol: { protocolName: 'modbus', configData: { ip: '10.0.0.7', port: 502, slaveID: 1 } }, properties: [{ name: 'temperature', visitors: { protocolName: 'modbus', configData: { register: 'HoldingRegister', offset: 2, limit: 1, scale: 0.1 } } }] } };
  const keep = newMessage({ source: 'edgehub', group: 'resource', operation: 'keepalive', resource: 'node' }, 'ping');
  const insert = newMessage({ source: 'synccontroller', group: 'resource', operation: 'insert', resource: 'default/device/thermo-1' }, dev, { resourceVersion: '1042' });
  const twin = newMessage({ source: 'twin', group: 'twin', operation: 'update', resource: 'default/device/thermo-1' }, { event_id: '123', timestamp: 1764000000000, twin: { temperature: { actual: { value: '21.5', metadata: { timestamp: 1764000000000 } } } } });
  const msgs = [keep, insert, twin, ackOf(insert, 'metamanager')];
  const cbor = msgs.reduce((s, m) => s + (cborCodec.encode(m) as Buffer).length, 0) / msgs.length;
  const json = msgs.reduce((s, m) => s + Buffer.byteLength(jsonCodec.encode(m) as string), 0) / msgs.length;
  return { cbor, json };
}

/** Connects `edges` simulated edges (real mTLS, heartbeating) and returns the server's memory growth per edge. */
async function memoryPerEdge(c: Cluster, proc: Proc, port: number, edges: number): Promise<{ perEdgeKiB: number; heapPerEdgeKiB: number; idleKiB: number; loadedKiB: number }> {
  // one key, many certificates: key generation is not what is measured here
  const keyPem = newRsaKeyPem();
  const spki = createPublicKey(keyPem).export({ type: 'spki', format: 'der' });
  await new Promise((r) => setTimeout(r, 300));
  const idle = await memoryOf(proc);
  const sockets: WebSocket[] = [];
  const keepalive = cborCodec.encode(newMessage({ source: 'edgehub', group: 'resource', operation: 'keepalive', resource: 'node' }, 'ping'));
  for (let i = 0; i < edges; i++) {
    const node = `sim-${i}`;
    const cert = signLeaf({ caCertPem: c.pki.ca.cert, caKeyPem: c.pki.ca.key, spki, commonName: `system:node:${node}`, organization: 'system:nodes', days: 1, usage: { client: true } });
    const ws = new WebSocket(`wss://127.0.0.1:${port}/e632aba927ea4ac2b575ec1603d56f10/${node}/events`, { ca: c.pki.ca.cert, cert, key: keyPem, headers: { node_id: node, project_id: 'e632aba927ea4ac2b575ec1603d56f10' } });
    await new Promise<void>((res, rej) => {
      ws.once('open', () => res());
      ws.once('error', rej);
    });
    ws.send(keepalive);
    sockets.push(ws);
  }
  // heartbeat for a while so every session is in its steady state
  const timer = setInterval(() => sockets.forEach((s) => s.send(keepalive)), 1000);
  await new Promise((r) => setTimeout(r, 3000));
  const loaded = await memoryOf(proc);
  clearInterval(timer);
  sockets.forEach((s) => s.terminate());
  return { perEdgeKiB: (loaded.rss - idle.rss) / edges, heapPerEdgeKiB: (loaded.heap - idle.heap) / edges, idleKiB: idle.rss, loadedKiB: loaded.rss };
}

/** Blackholes a live link (a proxy that stops forwarding) and reads how long each side heard nothing. */
async function deadLinkDetection(): Promise<{ edge: number; cloud: number }> {
  const heartbeat = 1;
  const c = await makeCluster({ keepaliveInterval: 2 * heartbeat });
  try {
    await c.startCloud();
    const p = await startProxy(c.hubPort);
    const edge = await c.startEdge('bench-dead', { server: `127.0.0.1:${p.port}`, heartbeat, handshakeTimeout: 1 });
    await edge.proc.waitFor(/connected to wss:/, 15_000);
    await new Promise((r) => setTimeout(r, 1500));
    const from = edge.proc.lines.length;
    const cloudFrom = c.cloud!.lines.length;
    p.blackhole(true);
    const e = await edge.proc.waitFor(/no answer from the cloud for \d+ ms/, 10_000, from);
    const cl = await c.cloud!.waitFor(/closing session: no traffic for \d+ ms/, 10_000, cloudFrom);
    await p.close();
    const ms = (l: string): number => Number(/for (\d+) ms/.exec(l)?.[1]);
    return { edge: ms(e) / (heartbeat * 1000), cloud: ms(cl) / (heartbeat * 1000) };
  } finally {
    await c.stop();
  }
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const c = await makeCluster({ keepaliveInterval: 30 });
  try {
    await c.startCloud({ nodeLimit: EDGES + 100 });
    const edge = await inProcessEdge(c, 'bench-e2c');
    await edgeToCloud(edge.bus, 2000, 256); // warm-up
    const ours = await edgeToCloud(edge.bus, N, 256);
    const peer = await mosquittoPeer(c, N, 256);
    rows.push({ metric: 'acknowledged msgs/s edge→cloud', ours, peer, peerName: 'mqtt.js QoS1→mosquitto mTLS', ratio: ours / peer, unit: 'msg/s', target: 'ratio ≥ 1', met: ours >= peer });
    const lat = await latency(edge.bus, 2000);
    rows.push({ metric: 'round-trip latency p50 (edge→cloud→ack)', ours: percentile(lat, 50), unit: 'ms' });
    rows.push({ metric: 'round-trip latency p99', ours: percentile(lat, 99), unit: 'ms' });
    await edge.stop();
    const c2e = await cloudToEdge(c, Number(process.env.BENCH_OBJECTS ?? 3000));
    rows.push({ metric: 'acknowledged msgs/s cloud→edge (persisted at the edge)', ours: c2e, unit: 'msg/s' });
    const b = bytesPerMessage();
    rows.push({ metric: 'bytes per message (keepalive, device, twin, ack)', ours: b.cbor, peer: b.json, peerName: 'JSON framing', ratio: b.cbor / b.json, unit: 'bytes' });
    await c.cloud!.kill('SIGKILL');
    const cloud = await c.startCloud({ nodeLimit: EDGES + 100 }, { NODE_OPTIONS: '--expose-gc --max-semi-space-size=1' });
    const mem = await memoryPerEdge(c, cloud, c.hubPort, EDGES);
    const bare = runProcess(process.execPath, ['--expose-gc', '--max-semi-space-size=1', join(ROOT, 'bench', 'peers', 'bare-wss.mjs'), c.pki.caFile, c.pki.serverCertFile, c.pki.serverKeyFile]);
    const barePort = Number(/port (\d+)/.exec(await bare.waitFor(/listening on port/))?.[1]);
    const peerMem = await memoryPerEdge(c, bare, barePort, EDGES);
    await bare.kill('SIGKILL');
    rows.push({ metric: `cloudcore RSS per connected edge (${EDGES} edges, after GC, semi-space 1 MiB)`, ours: mem.perEdgeKiB, peer: peerMem.perEdgeKiB, peerName: 'bare Node https+ws mTLS', ratio: mem.perEdgeKiB / peerMem.perEdgeKiB, unit: 'KiB', target: '≤ 30 KB (29.3 KiB)', met: mem.perEdgeKiB * 1024 <= 30_000 });
    rows.push({ metric: '  of which JS heap per edge', ours: mem.heapPerEdgeKiB, peer: peerMem.heapPerEdgeKiB, peerName: 'bare', unit: 'KiB' });
    rows.push({ metric: 'cloudcore RSS idle / loaded', ours: `${(mem.idleKiB / 1024).toFixed(1)} / ${(mem.loadedKiB / 1024).toFixed(1)}`, unit: 'MiB' });
  } finally {
    await c.stop();
  }
  const dead = await deadLinkDetection();
  rows.push({ metric: 'dead link noticed by the edge (silence before giving up)', ours: dead.edge, unit: 'heartbeats', target: '≤ 2', met: dead.edge <= 2 });
  rows.push({ metric: 'dead link noticed by the cloud (keepaliveInterval = 2 heartbeats)', ours: dead.cloud, unit: 'heartbeats', target: '≤ 2 + one check', met: dead.cloud <= 2.25 });
  report('link', rows);
}

await main();
process.exit(0);
