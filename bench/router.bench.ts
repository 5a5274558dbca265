/**
 * REST → ServiceBus → edge app: round trips per second and p50/p99 latency through the cloud's
 * router, the link and the edge's ServiceBus, beside direct HTTP calls to the same app (in its own
 * process) from the same client: the ratio is what the link costs. Run with EdgeHub's messageQPS
 * as KubeEdge's default (30 frames/s) and lifted, since that limit is what bounds the first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { makeCluster, type Cluster } from '../test/e2e/cluster.js';
import { freePort } from '../test/peers/proxy.js';
import { apply } from '../test/peers/pods.js';
import { NODE_ARGS } from '../keadm/service.js';
import { percentile, report, type Row } from './lib/report.js';

const N = Number(process.env.BENCH_REQUESTS ?? 3000);
const CONCURRENCY = 8;
const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** N GETs, CONCURRENCY at a time; the rate and each one's latency */
async function load(port: number, path: string): Promise<{ rate: number; latencies: number[] }> {
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < N) {
        next++;
        const s = performance.now();
        const code = await get(port, path);
        if (code !== 200) throw new Error(`GET ${path}: HTTP ${code}`);
        latencies.push(performance.now() - s);
      }
    }),
  );
  return { rate: N / ((performance.now() - t0) / 1000), latencies: latencies.sort((a, b) => a - b) };
}

async function edgeWith(c: Cluster, node: string, appPort: number, qps: number): Promise<void> {
  const busPort = await freePort();
  await c.startEdge(node, { launcher: [process.execPath, ...NODE_ARGS.edgecore], modules: { serviceBus: { enable: true, port: busPort }, edgeHub: { messageQPS: qps, messageBurst: Math.max(60, qps) } } });
  await apply(
    c,
    { apiVersion: 'rules.kubeedge.io/v1', kind: 'RuleEndpoint', metadata: { name: `sb-${node}` }, spec: { ruleEndpointType: 'servicebus', properties: { service_port: String(appPort) } } },
    { apiVersion: 'rules.kubeedge.io/v1', kind: 'Rule', metadata: { name: `to-${node}` }, spec: { source: 'rest', sourceResource: { path: `/${node}` }, target: `sb-${node}`, targetResource: { path: '/hello' } } },
  );
}

async function main(): Promise<void> {
  const routerPort = await freePort();
  const appPort = await freePort();
  // the edge app: a plain Node HTTP server in its own process, answering a small JSON body
  const app: ChildProcess = spawn(process.execPath, ['-e', `require('http').createServer((q, s) => { s.writeHead(200, {'content-type': 'application/json'}); s.end('{"hello":"edge"}'); }).listen(${appPort}, '127.0.0.1', () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((r) => app.stdout?.once('data', r));
  const c = await makeCluster({ cloudModules: { router: { enable: true, port: routerPort, restTimeout: 10 } } });
  const rows: Row[] = [];
  try {
    await c.startCloud({}, {});
    await apply(c, { apiVersion: 'rules.kubeedge.io/v1', kind: 'RuleEndpoint', metadata: { name: 'rest' }, spec: { ruleEndpointType: 'rest' } });
    await edgeWith(c, 'bench-sb-default', appPort, 30);
    await edgeWith(c, 'bench-sb-lifted', appPort, 1e6);
    await new Promise((r) => setTimeout(r, 1000));
    // warm both paths, then measure them one after the other
    await load(appPort, '/hello');
    const direct = await load(appPort, '/hello');
    for (const [node, label] of [['bench-sb-lifted', 'messageQPS lifted'], ['bench-sb-default', 'messageQPS 30 (KubeEdge default)']] as const) {
      const path = `/${node}/default/${node}`;
      await load(routerPort, path);
      const via = await load(routerPort, path);
      rows.push({ metric: `REST → ServiceBus → app, round trips/s (${label})`, ours: via.rate, peer: direct.rate, peerName: 'direct HTTP to the app', ratio: via.rate / direct.rate, unit: '/s' });
      rows.push({ metric: `  p50 latency (${label})`, ours: percentile(via.latencies, 50), peer: percentile(direct.latencies, 50), peerName: 'direct', ratio: percentile(via.latencies, 50) / percentile(direct.latencies, 50), unit: 'ms' });
      rows.push({ metric: `  p99 latency (${label})`, ours: percentile(via.latencies, 99), peer: percentile(direct.latencies, 99), peerName: 'direct', ratio: percentile(via.latencies, 99) / percentile(direct.latencies, 99), unit: 'ms' });
    }
  } finally {
    agent.destroy();
    app.kill();
    await c.stop();
  }
  report('router', rows);
}

await main();
