/**
 * The edge's store and outbox: durable, acknowledged uploads per second edge→cloud (an app publishes
 * QoS 1 into the edge's broker; PUBACK once on disk; done once the cloud acknowledged), beside
 * mqtt.js QoS 1 into mosquitto over mutual TLS; time to persist against database size, beside a
 * plain write+fsync of the same bytes; edgecore's RSS with 10 and with 10,000 stored objects,
 * beside a bare node process.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, fdatasyncSync, mkdirSync, mkdtempSync, openSync, fsyncSync, closeSync, writeSync, rmSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { makeCluster, thermostat, thermostatModel, type Cluster } from '../test/e2e/cluster.js';
import { freePort } from '../test/peers/proxy.js';
import { runBundle } from '../test/peers/proc.js';
import { openDb } from '../core/db.js';
import { createLogger } from '../core/log.js';
import { META_SCHEMA, MetaStore } from '../runtime/metamanager/store.js';
import { aedesPeer, mosquittoPeer } from './lib/mosquitto.js';
import { anonSplit, type AnonSplit } from './lib/smaps.js';
import { percentile, report, rssKiB, type Row } from './lib/report.js';
import { profiledEdgecore, summarizeProfile } from './lib/profile.js';
import { anonKiB } from './lib/usage.js';
import { NODE_ARGS, NODE_ENV } from '../keadm/service.js';

const quiet = createLogger({ level: 'error' });
const N = Number(process.env.BENCH_MESSAGES ?? 20_000);

/**
 * A real edgecore process (its rate limit lifted, as a bench needs), an mqtt.js app publishing QoS 1
 * uploads with `window` in flight: each PUBACK means "in the outbox on disk"; the clock stops when
 * the cloud has acknowledged every one (the outbox, read through MetaServer, is empty).
 */
async function durableUploads(c: Cluster, n: number, window: number, launcher = [process.execPath, ...NODE_ARGS.edgecore]): Promise<{ atEdge: number; atCloud: number }> {
  const edge = await c.startEdge(`bench-outbox-${Math.random().toString(36).slice(2, 7)}`, {
    heartbeat: 5,
    outboxLimit: 2 * n,
    modules: { edgeHub: { messageQPS: 1e6, messageBurst: 1e6 } },
    launcher,
  });
  await edge.proc.waitFor(/connected to wss:/);
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${edge.mqttPort}`, { reconnectPeriod: 0 });
  const t0 = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      await client.publishAsync(`$hw/events/upload/bench/${i % 16}`, JSON.stringify({ value: String(20 + (i % 10) / 10), seq: i }), { qos: 1 });
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  const atEdge = n / ((performance.now() - t0) / 1000);
  while ((await edge.meta('/outbox')).body.queued > 0) await new Promise((r) => setTimeout(r, 2));
  const atCloud = n / ((performance.now() - t0) / 1000);
  await client.endAsync();
  await edge.proc.kill('SIGTERM'); // a clean exit: a profiled one writes its profile
  return { atEdge, atCloud };
}

const deviceValue = (i: number) => ({ apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'Device', metadata: { name: `d-${i}`, namespace: 'default' }, spec: { nodeName: 'edge-1', deviceModelRef: { name: 'thermometer' }, properties: [{ name: 'temperature', desired: { value: '20' } }] } });

/** A store of `size` devices saved whole, as edgecore leaves it. */
async function storeOf(path: string, size: number): Promise<void> {
  const db = await openDb({ path, schema: META_SCHEMA, log: quiet });
  const store = new MetaStore(db);
  db.tx(() => {
    for (let i = 0; i < size; i++) store.put(`default/device/d-${i}`, 'device', i + 1, deviceValue(i));
  });
  await db.close();
}

/**
 * One change made durable (a device updated, commit awaited), one at a time, at three store sizes;
 * beside a write+fsync of the whole file, which is what each change cost when sql.js saved the
 * whole database every time, and an append+fdatasync of one change's bytes (the floor). Then the
 * open after a crash with the most changes that can wait unsaved, the store's part of a restart.
 */
async function persistTimes(): Promise<Row[]> {
  const rows: Row[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'ke-persist-'));
  try {
    for (const size of [1_000, 10_000, 100_000]) {
      const path = join(dir, `db-${size}.db`);
      await storeOf(path, size);
      const db = await openDb({ path, schema: META_SCHEMA, log: quiet, batchMs: 0 });
      const store = new MetaStore(db);
      const times: number[] = [];
      const changes = 500;
      for (let k = 0; k < changes; k++) {
        store.put(`default/device/d-${k % size}`, 'device', size + 10 + k, deviceValue(k));
        const t0 = performance.now();
        await db.commit();
        times.push(performance.now() - t0);
      }
      const line = readFileSync(`${path}.changes`, 'utf8').split('\n')[1] + '\n';
      await db.close();
      const data = readFileSync(path);
      const floor: number[] = [];
      const fd = openSync(join(dir, 'append'), 'w');
      for (let k = 0; k < changes; k++) {
        const t0 = performance.now();
        writeSync(fd, line);
        fdatasyncSync(fd);
        floor.push(performance.now() - t0);
      }
      closeSync(fd);
      floor.sort((x, y) => x - y);
      const peer: number[] = [];
      for (let k = 0; k < 5; k++) {
        const t0 = performance.now();
        const fd = openSync(join(dir, 'raw'), 'w');
        writeSync(fd, data);
        fsyncSync(fd);
        closeSync(fd);
        peer.push(performance.now() - t0);
      }
      times.sort((x, y) => x - y);
      peer.sort((x, y) => x - y);
      const mean = times.reduce((a, b) => a + b, 0) / times.length;
      const label = `${size.toLocaleString('en')} rows (${(data.length / 1024 / 1024).toFixed(1)} MiB)`;
      const target = size === 100_000 ? { target: '≤ 2 ms', met: mean <= 2 } : {};
      rows.push({ metric: `time to persist one change, ${label}: mean of ${changes}`, ours: mean, peer: percentile(peer, 50), peerName: 'write+fsync of the whole file (the old way)', ratio: mean / percentile(peer, 50), unit: 'ms', ...target });
      rows.push({ metric: `  p50 / max (a max includes a save of the whole store)`, ours: `${percentile(times, 50).toFixed(2)} / ${(times[times.length - 1] as number).toFixed(1)}`, peer: percentile(floor, 50), peerName: 'append+fdatasync of one change', ratio: percentile(times, 50) / percentile(floor, 50), unit: 'ms' });
    }
    // the slowest open: a crash just before the changes were folded into a save
    const path = join(dir, 'db-100000.db');
    const db = await openDb({ path, schema: META_SCHEMA, log: quiet, batchMs: 0 });
    const store = new MetaStore(db);
    const saved = statSync(path).size;
    // batches of 100 changes until the changes file is just short of the point where it is saved whole (an eighth)
    for (let k = 0; db.size() - saved < 0.12 * saved; ) {
      db.tx(() => {
        for (let j = 0; j < 100; j++, k++) store.put(`default/device/d-${k % 100_000}`, 'device', 200_000 + k, deviceValue(k));
      });
      await db.commit();
    }
    if (db.snapshots() !== 0) throw new Error('the store was saved whole before the crash point');
    copyFileSync(path, join(dir, 'crashed.db'));
    copyFileSync(`${path}.changes`, join(dir, 'crashed.db.changes'));
    const unsaved = statSync(join(dir, 'crashed.db.changes')).size;
    await db.close();
    const t0 = performance.now();
    const reopened = await openDb({ path: join(dir, 'crashed.db'), schema: META_SCHEMA, log: quiet });
    const openMs = performance.now() - t0;
    const rowsBack = Number(reopened.get('SELECT COUNT(*) AS n FROM meta')?.n);
    await reopened.close();
    if (rowsBack !== 100_000) throw new Error(`reopened with ${rowsBack} rows`);
    rows.push({ metric: `store open after a crash, 100,000 rows + ${(unsaved / 1024 / 1024).toFixed(1)} MiB of unsaved changes`, ours: openMs, unit: 'ms', target: '≤ 1000 ms', met: openMs <= 1000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

/**
 * edgecore standalone (edgeHub off), after it settles: with `twins` devices (and their model) in its
 * manifest folder, run by DeviceTwin, and `objects` more stored in its database.
 */
async function edgeRss(objects: number, twins = 0): Promise<{ rss: number; anon: number; split: AnonSplit; afterStart: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'ke-rss-'));
  try {
    const manifests = join(dir, 'devices');
    mkdirSync(manifests);
    const docs: unknown[] = twins > 0 ? [thermostatModel] : [];
    for (let i = 0; i < twins; i++) docs.push(thermostat(`t-${i}`, 'edge-1', '20'));
    writeFileSync(join(manifests, 'devices.yaml'), docs.map((d) => stringify(d)).join('---\n'));
    const dbPath = join(dir, 'edgecore.db');
    await storeOf(dbPath, objects);
    const config = join(dir, 'edgecore.yaml');
    writeFileSync(config, stringify({ database: { dataSource: dbPath }, modules: { edgeHub: { enable: false }, deviceTwin: { manifestDir: manifests, dmiSockPath: join(dir, 'dmi.sock') }, metaManager: { metaServer: { server: `127.0.0.1:${await freePort()}` } }, eventBus: { mqttServerInternal: `tcp://127.0.0.1:${await freePort()}` }, edged: { hostnameOverride: 'edge-1', rootDirectory: join(dir, 'edged') } } }));
    // as the shebang and the systemd units run it
    const p = runBundle('edgecore', ['--config', config], { ...NODE_ENV }, [process.execPath, ...NODE_ARGS.edgecore]);
    await p.waitFor(/edgecore is running/);
    const pid = p.child.pid as number;
    await new Promise((r) => setTimeout(r, 3000 + twins)); // 1,000 devices take a moment more to start
    const afterStart = rssKiB(pid);
    await settled(pid);
    const used = { rss: rssKiB(pid), anon: anonKiB(pid), split: anonSplit(pid), afterStart };
    await p.kill('SIGKILL');
    return used;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Waits for an idle process's RSS to settle: V8's memory reducer gives back what a start-up burst
 * (a folder of devices parsed, the store opened) left in the heap some seconds after it goes idle.
 * Settled: no new low for 20 s (at most 90 s). 10 s was too short: sampled every 4 s, 1,000
 * devices' edge held a plateau for 12 s before that GC (82 → 76 → 64 MiB), so a run could end on it.
 */
async function settled(pid: number): Promise<void> {
  let low = rssKiB(pid);
  let lowAt = Date.now();
  for (const t0 = Date.now(); Date.now() - t0 < 90_000 && Date.now() - lowAt < 20_000; ) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = rssKiB(pid);
    if (now >= low * 0.995) continue;
    low = now;
    lowAt = Date.now();
  }
}

async function bareNodeRss(): Promise<{ rss: number; anon: number }> {
  const p = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 3000));
  const used = { rss: rssKiB(p.pid as number), anon: anonKiB(p.pid as number) };
  p.kill('SIGKILL');
  return used;
}

/** the best of `n` runs by `score` (higher is better) */
async function bestOf<T>(n: number, run: () => Promise<T>, score: (r: T) => number): Promise<T> {
  let best = await run();
  for (let i = 1; i < n; i++) {
    const r = await run();
    if (score(r) > score(best)) best = r;
  }
  return best;
}

const rows: Row[] = [];
const c = await makeCluster({ keepaliveInterval: 30 });
try {
  await c.startCloud();
  await durableUploads(c, 2000, 256); // warm-up: the cloud's code and files
  // the better of two runs, each side: runs vary by ±10 % here, and the first full run after the
  // warm-up was the slowest in six of seven series of runs tried (10.1–12.5k/s)
  const ours = await bestOf(2, () => durableUploads(c, N, 256), (r) => r.atEdge);
  const peer = await bestOf(2, () => mosquittoPeer(c, N, 256, false), (r) => r);
  rows.push({ metric: 'an app\'s durable QoS 1 uploads/s at the edge (each PUBACK once in the outbox on disk)', ours: ours.atEdge, peer, peerName: 'mqtt.js QoS1→mosquitto TCP, nothing kept', ratio: ours.atEdge / peer, unit: 'msg/s', target: 'ratio ≥ 1.0', met: ours.atEdge >= peer });
  rows.push({ metric: '  …and all of them acknowledged by the cloud (outbox empty)', ours: ours.atCloud, peer, peerName: 'the same', ratio: ours.atCloud / peer, unit: 'msg/s', target: 'ratio ≥ 0.8', met: ours.atCloud >= 0.8 * peer });
  rows.push({ metric: '  cloud-acknowledged rate / edge rate, same run', ours: ours.atCloud / ours.atEdge, unit: 'ratio', target: '≥ 0.8', met: ours.atCloud >= 0.8 * ours.atEdge });
  // the floor: our embedded broker alone, with nothing kept and no link, taking the same client
  const floor = await bestOf(2, () => aedesPeer(N, 256), (r) => r);
  rows.push({ metric: '  the floor: aedes alone (no outbox, no link), same mqtt.js QoS 1 client', ours: ours.atEdge, peer: floor, peerName: 'aedes alone', ratio: ours.atEdge / floor, unit: 'msg/s' });
  rows.push({ metric: '  aedes alone / mosquitto (what the embedded broker itself costs)', ours: floor / peer, unit: 'ratio' });
  // where edgecore's time goes on that path: a run of its own under --cpu-prof (names kept)
  const profDir = mkdtempSync(join(tmpdir(), 'ke-prof-'));
  await durableUploads(c, N, 256, await profiledEdgecore(profDir));
  const prof = summarizeProfile(profDir);
  rows.push({ metric: `  edgecore CPU profile of that path (${(prof.totalMs / 1000).toFixed(1)} s busy): by owner`, ours: prof.byOwner.slice(0, 6).map(([k, p]) => `${k} ${p.toFixed(0)}%`).join(', '), unit: '' });
  for (const [fn, p] of prof.byFunction.slice(0, 10)) rows.push({ metric: `    ${fn}`, ours: p, unit: '% self' });
  rmSync(profDir, { recursive: true, force: true });
} finally {
  await c.stop();
}
rows.push(...(await persistTimes()));
// the idle processes as their systemd units run them, in a clean environment: a CA file named in
// NODE_EXTRA_CA_CERTS (set on some machines, this one among them) has every node parse its
// certificates and Node's root store at start, ~1.1 MiB of malloc's heap in the edge and the bare node alike
delete process.env.NODE_EXTRA_CA_CERTS;
const bare = await bareNodeRss();
const small = await edgeRss(0, 10);
const many = await edgeRss(0, 1000);
const big = await edgeRss(10_000);
const mib = (k: number): number => k / 1024;
rows.push({ metric: 'edgecore idle RSS: embedded broker, 10 devices with twins (standalone), settled', ours: mib(small.rss), peer: mib(bare.rss), peerName: 'bare node', ratio: small.rss / bare.rss, unit: 'MiB', target: 'ratio ≤ 1.35', met: small.rss / bare.rss <= 1.35 });
rows.push({ metric: '  of which anonymous memory (RssAnon: heaps, not mapped code)', ours: mib(small.anon), peer: mib(bare.anon), peerName: 'bare node', ratio: small.anon / bare.anon, unit: 'MiB', target: '≤ 12 MiB', met: small.anon <= 12 * 1024 });
// where that anonymous memory lives (smaps), so each cut can be measured
const parts: [string, keyof AnonSplit][] = [['V8 heap (and other unnamed mappings)', 'v8Heap'], ['WASM memory (sql.js)', 'wasm'], ['malloc: the main arena (brk)', 'brkHeap'], ['malloc: thread arenas', 'mallocArenas'], ['thread stacks', 'stacks'], ['code: private pages of node, libc, add-ons', 'code']];
for (const [label, key] of parts) rows.push({ metric: `    ${label}`, ours: mib(small.split[key]), unit: 'MiB' });
const perDevice = (many.rss - small.rss) / 990;
rows.push({ metric: 'edgecore RSS per added device (1,000 devices with twins vs 10), settled', ours: perDevice, unit: 'KiB', target: '≤ 10 KiB', met: perDevice <= 10 });
rows.push({ metric: '  the same 3 s after start (what the start-up burst leaves until V8 gives it back)', ours: (many.afterStart - small.afterStart) / 990, unit: 'KiB' });
rows.push({ metric: '  idle RSS 3 s after start, 10 / 1,000 devices', ours: `${mib(small.afterStart).toFixed(2)} / ${mib(many.afterStart).toFixed(2)}`, unit: 'MiB' });
rows.push({ metric: 'edgecore RSS with 10,000 stored objects', ours: mib(big.rss), peer: mib(bare.rss), peerName: 'bare node', ratio: big.rss / bare.rss, unit: 'MiB' });
report('metamanager', rows);
process.exit(0);
