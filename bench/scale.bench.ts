/**
 * One cloudcore and 10,000 edges (BENCH_EDGES): simulated edges (bench/peers/sim-edges.ts) in
 * other processes, each a real mutual-TLS WebSocket with its own certificate, heartbeating every
 * 15 s, with one device. Measured:
 * - cloudcore's memory per connected edge, beside a bare Node https+ws mTLS server holding the
 *   same connections from the same simulated edges (as Node sets one up, and again sending no
 *   session tickets, as CloudHub does);
 * - cloudcore's CPU at steady state;
 * - a desired value changed on every device through the API → the time until every edge has it
 *   (and has acknowledged it);
 * - cloudcore SIGKILLed and started again → the time until every edge is back and synced, the
 *   handshake rate over that time, and that nothing was lost.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { build } from 'esbuild';
import { makeCluster, device, thermometerModel, type Cluster } from '../test/e2e/cluster.js';
import { ROOT, runProcess } from '../test/peers/proc.js';
import { report, type Row } from './lib/report.js';
import { cpuSeconds, memoryOf } from './lib/usage.js';

type Memory = Awaited<ReturnType<typeof memoryOf>>;

const EDGES = Number(process.env.BENCH_EDGES ?? 10_000);
const SIMS = Number(process.env.BENCH_SIM_PROCESSES ?? 4);
const HEARTBEAT_MS = 15_000;
const DEVICES = '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface SimStats {
  connected: number;
  handshakes: number;
  failures: number;
  badFrames: number;
  withValue: number;
  lastValueAt: number;
  handshakesPerSecond: Record<string, number>;
  rssKiB: number;
}

/** The simulated edges, split over SIMS processes; `stats()` sums theirs. */
async function startSims(c: Cluster, port: number): Promise<{ stats(value?: string): Promise<SimStats>; stop(): Promise<void> }> {
  const outfile = join(ROOT, '.tmp', 'bench', 'sim-edges.mjs');
  await build({ entryPoints: [join(ROOT, 'bench', 'peers', 'sim-edges.ts')], outfile, bundle: true, platform: 'node', target: 'node20', format: 'esm', packages: 'external', logLevel: 'warning' });
  const per = Math.ceil(EDGES / SIMS);
  const sims: { child: ChildProcess; next(): Promise<string> }[] = [];
  for (let s = 0; s < SIMS; s++) {
    const count = Math.min(per, EDGES - s * per);
    const opts = { host: '127.0.0.1', port, caCert: c.pki.caFile, caKey: c.pki.caKeyFile, prefix: 'sim-', from: s * per, count, heartbeatMs: HEARTBEAT_MS, parallel: 32 };
    const child = spawn(process.execPath, [outfile, JSON.stringify(opts)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines: string[] = [];
    const waiters: (() => void)[] = [];
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (l) => {
      lines.push(l);
      waiters.splice(0).forEach((w) => w());
    });
    const next = async (): Promise<string> => {
      while (lines.length === 0) await new Promise<void>((r) => waiters.push(r));
      return lines.shift() as string;
    };
    await next(); // {"ready": n}: its certificates are made
    sims.push({ child, next });
  }
  return {
    async stats(value) {
      const all = await Promise.all(
        sims.map(async (s) => {
          s.child.stdin?.write(`${JSON.stringify({ cmd: 'stats', value })}\n`);
          return JSON.parse(await s.next()) as SimStats;
        }),
      );
      const sum: SimStats = { connected: 0, handshakes: 0, failures: 0, badFrames: 0, withValue: 0, lastValueAt: 0, handshakesPerSecond: {}, rssKiB: 0 };
      for (const a of all) {
        for (const k of ['connected', 'handshakes', 'failures', 'badFrames', 'withValue', 'rssKiB'] as const) sum[k] += a[k];
        sum.lastValueAt = Math.max(sum.lastValueAt, a.lastValueAt);
        for (const [sec, n] of Object.entries(a.handshakesPerSecond)) sum.handshakesPerSecond[sec] = (sum.handshakesPerSecond[sec] ?? 0) + n;
      }
      return sum;
    },
    async stop() {
      for (const s of sims) s.child.stdin?.write(`${JSON.stringify({ cmd: 'stop' })}\n`);
      await Promise.all(sims.map((s) => new Promise((r) => (s.child.exitCode !== null ? r(null) : s.child.once('exit', r)))));
    },
  };
}

/** waits until `done(stats)`, polling; returns the last stats */
async function until(sims: { stats(value?: string): Promise<SimStats> }, done: (s: SimStats) => boolean, timeoutMs: number, what: string, value?: string): Promise<SimStats> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await sims.stats(value);
    if (done(s)) return s;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s (${JSON.stringify({ ...s, handshakesPerSecond: undefined })})`);
    await sleep(250);
  }
}

/** An API client on kept-alive connections, `parallel` requests at a time. */
function api(c: Cluster) {
  const agent = new Agent({ keepAlive: true, maxSockets: 16, ca: c.pki.ca.cert });
  const call = (method: string, path: string, body: unknown, type = 'application/json'): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: c.apiPort, path, method, agent, headers: { authorization: 'Bearer test-admin-token', 'content-type': type } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(JSON.stringify(body));
    });
  return {
    async each(n: number, one: (i: number) => Promise<number>, want: number): Promise<void> {
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < n) {
          const i = next++;
          const status = await one(i);
          if (status !== want) throw new Error(`request ${i}: HTTP ${status}`);
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
    },
    call,
    close: () => agent.destroy(),
  };
}

function rate(perSecond: Record<string, number>, fromMs: number): { peak: number; mean: number } {
  const secs = Object.entries(perSecond).filter(([s]) => Number(s) * 1000 >= fromMs - 1000);
  const total = secs.reduce((a, [, n]) => a + n, 0);
  const span = secs.length ? Math.max(...secs.map(([s]) => Number(s))) - Math.min(...secs.map(([s]) => Number(s))) + 1 : 1;
  return { peak: Math.max(0, ...secs.map(([, n]) => n)), mean: total / span };
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const c = await makeCluster({ keepaliveInterval: 4 * (HEARTBEAT_MS / 1000) });
  const env = { NODE_OPTIONS: '--expose-gc --max-semi-space-size=1' };
  const client = api(c);
  try {
    let cloud = await c.startCloud({ nodeLimit: EDGES + 100 }, env);
    if ((await c.api.call('POST', '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devicemodels', thermometerModel)).status !== 201) throw new Error('model not created');
    const t0 = performance.now();
    await client.each(EDGES, (i) => client.call('POST', DEVICES, device(`dev-${i}`, `sim-${i}`, '20')), 201);
    rows.push({ metric: `devices created through the API (${EDGES.toLocaleString('en')}, 16 at a time)`, ours: EDGES / ((performance.now() - t0) / 1000), unit: 'objects/s' });
    await sleep(1000);
    const idle = await memoryOf(cloud);

    // every edge connects and gets its device
    const sims = await startSims(c, c.hubPort);
    const tConnect = Date.now();
    const synced = await until(sims, (s) => s.connected === EDGES && s.withValue === EDGES, 600_000, 'all edges connected and synced', '20');
    const connectRate = rate(synced.handshakesPerSecond, tConnect);
    rows.push({ metric: `first connect: every edge connected and holding its device`, ours: (Date.now() - tConnect) / 1000, unit: 's' });
    rows.push({ metric: `  handshakes/s (peak / mean), failed attempts`, ours: `${connectRate.peak} / ${connectRate.mean.toFixed(0)}, ${synced.failures}`, unit: '' });

    // steady state: a whole heartbeat period so every edge has sent keepalives
    await sleep(HEARTBEAT_MS + 2000);
    const cpu0 = cpuSeconds(cloud.child.pid as number);
    await sleep(30_000);
    const cpu = (cpuSeconds(cloud.child.pid as number) - cpu0) / 30;
    const loaded = await memoryOf(cloud);
    const ours = (loaded.rss - idle.rss) / EDGES;

    // a desired value changed on every device
    const tChange = Date.now();
    const patch = [{ op: 'replace', path: '/spec/properties/0/desired/value', value: '21' }];
    await client.each(EDGES, (i) => client.call('PATCH', `${DEVICES}/dev-${i}`, patch, 'application/json-patch+json'), 200);
    const apiDone = Date.now();
    const changed = await until(sims, (s) => s.withValue === EDGES, 600_000, 'every edge has the new desired value', '21');
    rows.push({ metric: `desired value changed on ${EDGES.toLocaleString('en')} devices → every edge has it`, ours: (changed.lastValueAt - tChange) / 1000, unit: 's' });
    rows.push({ metric: `  of which the ${EDGES.toLocaleString('en')} PATCH requests (16 at a time)`, ours: (apiDone - tChange) / 1000, unit: 's' });
    await sleep(2000); // the acknowledgements reach the cloud and are recorded

    // cloudcore SIGKILLed and started again
    await cloud.kill('SIGKILL');
    const tKill = Date.now();
    await sleep(1000);
    cloud = await c.startCloud({ nodeLimit: EDGES + 100 }, env);
    const back = await until(sims, (s) => s.connected === EDGES, 600_000, 'every edge back after a restart');
    const tBack = Date.now();
    const storm = rate(back.handshakesPerSecond, tKill);
    const kept = await sims.stats('21');
    const list = await c.api.call('GET', DEVICES);
    const cloudKept = (list.body.items as any[]).filter((d) => d.spec.properties[0].desired.value === '21').length;
    const resent = cloud.count(/sending \d+ changed object/);
    rows.push({ metric: `cloudcore SIGKILLed → every edge back (jittered back-off)`, ours: (tBack - tKill) / 1000, unit: 's' });
    rows.push({ metric: `  handshakes/s over the reconnect (peak / mean)`, ours: `${storm.peak} / ${storm.mean.toFixed(0)}`, unit: '' });
    rows.push({ metric: `  nothing lost: edges with the value / devices in the cloud with it`, ours: `${kept.withValue} / ${cloudKept}`, unit: `of ${EDGES}`, target: 'all', met: kept.withValue === EDGES && cloudKept === EDGES });
    rows.push({ metric: `  edges sent objects again after the restart (their sync was kept)`, ours: resent, unit: 'edges', target: '0', met: resent === 0 });
    const after = await memoryOf(cloud);
    await sims.stop();
    await cloud.kill('SIGKILL');
    // the same cloudcore with everything stored (10,000 Nodes, their sync records) and no edge connected:
    // what a connection costs beyond what the cloud keeps about a node anyway
    cloud = await c.startCloud({ nodeLimit: EDGES + 100 }, env);
    await sleep(2000);
    const stored = await memoryOf(cloud);
    await cloud.kill('SIGKILL');

    // the peer: the same simulated edges on a bare https+ws mTLS server; then the same without session tickets
    const bareServer = async (variant: string[]): Promise<{ idle: Memory; loaded: Memory }> => {
      const bare = runProcess(process.execPath, ['--expose-gc', '--max-semi-space-size=1', join(ROOT, 'bench', 'peers', 'bare-wss.mjs'), c.pki.caFile, c.pki.serverCertFile, c.pki.serverKeyFile, ...variant]);
      const barePort = Number(/port (\d+)/.exec(await bare.waitFor(/listening on port/))?.[1]);
      await sleep(500);
      const idleMem = await memoryOf(bare);
      const bareSims = await startSims(c, barePort);
      await until(bareSims, (s) => s.connected === EDGES, 600_000, 'all edges connected to the bare server');
      await sleep(HEARTBEAT_MS + 2000);
      const loadedMem = await memoryOf(bare);
      await bareSims.stop();
      await bare.kill('SIGKILL');
      return { idle: idleMem, loaded: loadedMem };
    };
    const { idle: bareIdle, loaded: bareLoaded } = await bareServer([]);
    const peer = (bareLoaded.rss - bareIdle.rss) / EDGES;
    const noTickets = await bareServer(['no-tickets']);
    const peerNoTickets = (noTickets.loaded.rss - noTickets.idle.rss) / EDGES;

    rows.unshift(
      { metric: `cloudcore RSS per connected edge (${EDGES.toLocaleString('en')} edges, one device each, after GC)`, ours, peer, peerName: 'bare Node https+ws mTLS', ratio: ours / peer, unit: 'KiB', target: 'ratio ≤ 1.0', met: ours <= peer },
      { metric: '  beside the bare server sending no session tickets either (as CloudHub)', ours, peer: peerNoTickets, peerName: 'bare, SSL_OP_NO_TICKET', ratio: ours / peerNoTickets, unit: 'KiB' },
      { metric: '  of which JS heap per edge', ours: (loaded.heap - idle.heap) / EDGES, peer: (bareLoaded.heap - bareIdle.heap) / EDGES, peerName: 'bare', unit: 'KiB' },
      { metric: '  of which what cloudcore keeps about a node when it is not connected (its Node object, sync records)', ours: (stored.rss - idle.rss) / EDGES, unit: 'KiB' },
      { metric: '  the connection alone (loaded − everything stored, per edge)', ours: (loaded.rss - stored.rss) / EDGES, peer, peerName: 'bare Node https+ws mTLS', ratio: (loaded.rss - stored.rss) / EDGES / peer, unit: 'KiB', target: 'ratio ≤ 1.0', met: (loaded.rss - stored.rss) / EDGES <= peer },
      { metric: `cloudcore RSS idle (${EDGES.toLocaleString('en')} devices) / loaded / after the restart`, ours: `${(idle.rss / 1024).toFixed(0)} / ${(loaded.rss / 1024).toFixed(0)} / ${(after.rss / 1024).toFixed(0)}`, peer: `${(bareIdle.rss / 1024).toFixed(0)} / ${(bareLoaded.rss / 1024).toFixed(0)}`, peerName: 'bare idle / loaded', unit: 'MiB' },
      { metric: `cloudcore CPU at steady state (${EDGES.toLocaleString('en')} keepalives per ${HEARTBEAT_MS / 1000} s)`, ours: cpu * 100, unit: '% of a core' },
    );
  } finally {
    client.close();
    await c.stop();
  }
  report('scale', rows);
}

await main();
process.exit(0);
