/**
 * Edged: apply → Running latency for each runtime (a pod POSTed to the cloud's API until the API
 * shows it Running), beside starting the same thing by hand on the edge (`podman run -d` of the same
 * image and command; a bare spawn of the same command); and memory with 10 running process pods:
 * edgecore's RSS beside the same edgecore with none, and the pods' processes (shim + command)
 * beside the same 10 commands started by a bare shell (PSS: dash's pages are shared by every copy).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCluster, type Cluster } from '../test/e2e/cluster.js';
import { podmanAvailable, startPodman, type Podman } from '../test/peers/podman.js';
import { NODE_ARGS } from '../keadm/service.js';
import { percentile, report, rssKiB, type Row } from './lib/report.js';

const NODE = 'bench-edged';
const RUNS = Number(process.env.BENCH_PODS ?? 10);
const CMD = 'while true; do sleep 1; done';

const pod = (name: string, runtime: 'process' | 'podman') => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name },
  spec: {
    nodeName: NODE,
    terminationGracePeriodSeconds: 1,
    ...(runtime === 'process' ? { runtimeClassName: 'process' } : {}),
    containers: [{ name: 'app', image: runtime === 'process' ? 'process' : 'local/busybox', imagePullPolicy: 'Never', command: ['/bin/sh', '-c', CMD] }],
  },
});

async function applyToRunning(c: Cluster, runtime: 'process' | 'podman'): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const name = `${runtime}-${i}`;
    const t0 = performance.now();
    const r = await c.api.call('POST', '/api/v1/namespaces/default/pods', pod(name, runtime));
    if (r.status !== 201) throw new Error(`POST ${name}: ${JSON.stringify(r.body)}`);
    // polled every 5 ms: the poll must not be what is measured
    while ((await c.api.call('GET', `/api/v1/namespaces/default/pods/${name}`)).body.status?.phase !== 'Running') {
      if (performance.now() - t0 > 60_000) throw new Error(`${name} not Running after 60 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b);
}

/** the proportional set size (shared pages split among their users) of a process */
function pssKiB(pid: number): number {
  try {
    return Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? NaN);
  } catch {
    return 0;
  }
}

/** the PSS of a process and every process below it: what those processes cost the machine */
function treePssKiB(pid: number): number {
  let total = pssKiB(pid);
  try {
    for (const child of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) total += treePssKiB(Number(child));
  } catch {
    /* gone */
  }
  return total;
}

/** the shims of an edge's process pods (the group leaders whose command line names its folder) */
function shimPids(dir: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(`${dir}/`) && readFileSync(`/proc/${d}/cmdline`, 'utf8').startsWith('/bin/sh');
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const c = await makeCluster();
  let podman: Podman | undefined;
  try {
    if (podmanAvailable()) podman = await startPodman(mkdtempSync(join(tmpdir(), 'ke-podman-')));
    await c.startCloud();
    const edge = await c.startEdge(NODE, {
      launcher: [process.execPath, ...NODE_ARGS.edgecore],
      modules: { edged: { tailoredKubeletConfig: podman ? { containerRuntimeEndpoint: podman.endpoint } : {} } },
    });
    await new Promise((r) => setTimeout(r, 3000));
    const idle = rssKiB(edge.proc.child.pid as number);

    // process pods, beside a bare spawn of the same command
    const proc = await applyToRunning(c, 'process');
    const bare: number[] = [];
    const bareChildren = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      const child = spawn('/bin/sh', ['-c', CMD], { stdio: 'ignore' });
      await new Promise((r) => child.once('spawn', r));
      bare.push(performance.now() - t0);
      bareChildren.push(child);
    }
    bare.sort((a, b) => a - b);
    const p50 = percentile(proc, 50);
    rows.push({ metric: 'apply → Running, process pod (p50)', ours: p50, peer: percentile(bare, 50), peerName: 'bare spawn of the command', ratio: p50 / percentile(bare, 50), unit: 'ms' });
    rows.push({ metric: 'apply → Running, process pod (p95)', ours: percentile(proc, 95), unit: 'ms' });

    // memory with the 10 process pods running
    await new Promise((r) => setTimeout(r, 3000));
    const busy = rssKiB(edge.proc.child.pid as number);
    rows.push({ metric: `edgecore RSS with ${RUNS} process pods`, ours: busy / 1024, peer: idle / 1024, peerName: 'the same edgecore, no pods', ratio: busy / idle, unit: 'MiB' });
    const pods = shimPids(join(c.dir, NODE)).reduce((n, pid) => n + treePssKiB(pid), 0);
    const shell = spawn('/bin/sh', ['-c', Array.from({ length: RUNS }, () => `(${CMD}) &`).join(' ') + ' wait'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 1000));
    const plain = treePssKiB(shell.pid as number);
    rows.push({ metric: `${RUNS} pods' processes (shim + command), PSS`, ours: pods / 1024, peer: plain / 1024, peerName: `${RUNS} commands from a bare shell`, ratio: pods / plain, unit: 'MiB' });
    shell.kill('SIGKILL');
    spawnSync('pkill', ['-9', '-P', String(shell.pid)]);
    for (const ch of bareChildren) ch.kill('SIGKILL');

    if (podman) {
      const pm = await applyToRunning(c, 'podman');
      const byHand: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const t0 = performance.now();
        const r = podman.cli(['run', '-d', '--init', '--name', `by-hand-${i}`, 'local/busybox', '/bin/sh', '-c', CMD]);
        if (r.status !== 0) throw new Error(`podman run: ${r.stderr}`);
        byHand.push(performance.now() - t0);
      }
      byHand.sort((a, b) => a - b);
      const q = percentile(pm, 50);
      rows.push({ metric: 'apply → Running, podman pod (p50)', ours: q, peer: percentile(byHand, 50), peerName: 'podman run -d by hand', ratio: q / percentile(byHand, 50), unit: 'ms' });
      rows.push({ metric: 'apply → Running, podman pod (p95)', ours: percentile(pm, 95), unit: 'ms' });
    } else {
      rows.push({ metric: 'apply → Running, podman pod', ours: 'podman not installed', unit: '' });
    }
  } finally {
    await c.stop();
    await podman?.stop();
  }
  report('edged', rows);
}

await main();
