/** Helpers for pod tests: keadm as a user runs it, pod status from the API, processes on this host. */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { spawn } from 'node:child_process';
import { ROOT } from './proc.js';
import type { Cluster } from '../e2e/cluster.js';

/** `keadm ARGS --config-dir <cluster>` with optional stdin; resolves with its exit code and output */
export function keadm(c: Cluster, args: string[], stdin?: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(ROOT, 'dist', 'keadm.js'), ...args, '--config-dir', c.dir], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    p.stderr.on('data', (b: Buffer) => (err += b.toString('utf8')));
    p.stdin.end(stdin ?? '');
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

export async function apply(c: Cluster, ...objects: unknown[]): Promise<string> {
  const r = await keadm(c, ['apply', '-f', '-'], objects.map((o) => stringify(o)).join('---\n'));
  if (r.code !== 0) throw new Error(`keadm apply failed: ${r.err}${r.out}`);
  return r.out;
}

export async function podStatus(c: Cluster, name: string, ns = 'default'): Promise<any> {
  const r = await c.api.call('GET', `/api/v1/namespaces/${ns}/pods/${name}`);
  return r.status === 200 ? r.body.status : undefined;
}

export function containerStatus(status: any, name = 'app'): any {
  return status?.containerStatuses?.find((s: any) => s.name === name);
}

/** a row of `keadm get pods -o wide` as a map of its columns */
export async function podRow(c: Cluster, name: string): Promise<Record<string, string> | undefined> {
  const r = await keadm(c, ['get', 'pods', '-o', 'wide']);
  const lines = r.out.split('\n').filter(Boolean);
  const head = (lines[0] ?? '').split(/\s{2,}/);
  const row = lines.slice(1).map((l) => l.split(/\s{2,}/)).find((cols) => cols[0] === name);
  return row ? Object.fromEntries(head.map((h, i) => [h, row[i] ?? ''])) : undefined;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

/** pids of processes whose command line contains `marker` */
export function pidsWith(marker: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(marker) && !cmd.includes('vitest')) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** the pid of the command a process pod's container runs (the shim's child), from the runtime's state on disk */
export function appPid(root: string, podUid: string, container = 'app'): number | undefined {
  const dir = join(root, 'pods', podUid, 'containers', container);
  if (!existsSync(dir)) return undefined;
  const attempt = readdirSync(dir).map(Number).sort((a, b) => b - a)[0];
  if (attempt === undefined) return undefined;
  const state = JSON.parse(readFileSync(join(dir, String(attempt), 'state.json'), 'utf8')) as { pid: number };
  try {
    const children = readFileSync(`/proc/${state.pid}/task/${state.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return children[0];
  } catch {
    return undefined;
  }
}
