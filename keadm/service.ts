/**
 * Starting and stopping cloudcore and edgecore the three ways KubeEdge's keadm does: in the
 * foreground, as a systemd service where systemd runs, or else as a background process with a
 * pid file and a log file in the data folder.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type Program = 'cloudcore' | 'edgecore';

/** The bundle beside keadm's own file (dist/keadm.js → dist/cloudcore.js). */
export function bundlePath(program: Program | 'keadm'): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), `${program}.js`);
}

const UNIT_DIR = '/etc/systemd/system';
/**
 * Node's flags for each program, as build.mjs puts them in each bundle's shebang (and images/build.mjs
 * in the units): a 1 MiB young generation, WebAssembly compiled by the baseline compiler only.
 * edgecore also runs without Sparkplug: the idle edge kept its baseline code, 0.5 MiB of heap, and
 * uploads/s with and without it were the same within the runs' noise (docs/design.md, Memory).
 */
export const NODE_ARGS: Readonly<Record<Program, readonly string[]>> = {
  cloudcore: ['--max-semi-space-size=1', '--liftoff-only'],
  edgecore: ['--max-semi-space-size=1', '--no-sparkplug', '--liftoff-only'],
};
/**
 * as the units set it: glibc gives each thread that allocates an arena of its own (up to 8 per
 * core), and Node's threads (libuv's pool, V8's workers) each keep one; two arenas keep the idle
 * ones' pages out of RssAnon (bench metamanager: "malloc: thread arenas"). A fixed mmap threshold:
 * glibc otherwise raises it to the largest block freed, so start-up's big blocks (the wasm unpacked,
 * the manifests parsed) come to live in the main heap and stay resident there (~2.8 MiB of RssAnon)
 */
export const NODE_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' };

export function systemdRuns(): boolean {
  return existsSync('/run/systemd/system') && spawnSync('systemctl', ['--version'], { stdio: 'ignore' }).status === 0;
}

export function pidFile(dataDir: string, program: Program): string {
  return join(dataDir, `${program}.pid`);
}

export function logFile(dataDir: string, program: Program): string {
  return join(dataDir, `${program}.log`);
}

/** A hardened unit, as images/ ships it, with this machine's paths filled in. */
export function unitText(program: Program, configFile: string): string {
  // beside the bundle in a package (/usr/lib/kubeedge-lite/systemd), or the tree's images/systemd
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'systemd', `${program}.service`), resolve(here, '..', 'images', 'systemd', `${program}.service`)];
  const template = readFileSync(candidates.find((c) => existsSync(c)) ?? (candidates[1] as string), 'utf8');
  return template.replaceAll('@NODE@', process.execPath).replaceAll('@NODE_FLAGS@', NODE_ARGS[program].join(' ')).replaceAll('@BUNDLE@', bundlePath(program)).replaceAll('@CONFIG@', configFile);
}

export interface Started {
  how: 'systemd' | 'background';
  logs: string;
}

/** Starts the program in the background (systemd or a detached process) and waits until it says it runs. */
export async function startService(program: Program, configFile: string, dataDir: string, env: Record<string, string> = {}): Promise<Started> {
  if (systemdRuns() && existsSync(dirname(UNIT_DIR))) {
    writeFileSync(join(UNIT_DIR, `${program}.service`), unitText(program, configFile));
    // restart, not start: a packaged edgecore already runs standalone, and must take the joined config
    for (const args of [['daemon-reload'], ['enable', `${program}.service`], ['restart', `${program}.service`]]) {
      const r = spawnSync('systemctl', args, { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`systemctl ${args.join(' ')} failed: ${r.stderr.trim()}`);
    }
    return { how: 'systemd', logs: `journalctl -u ${program}.service -xe` };
  }
  mkdirSync(dataDir, { recursive: true });
  const log = logFile(dataDir, program);
  const out = openSync(log, 'a', 0o600);
  const child = spawn(process.execPath, [...NODE_ARGS[program], bundlePath(program), '--config', configFile], {
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...process.env, ...NODE_ENV, ...env },
  });
  closeSync(out);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${program}`);
  writeFileSync(pidFile(dataDir, program), `${pid}\n`);
  child.unref();
  // it runs once it logs "<program> is running"; it failed if it exits first
  const from = existsSync(log) ? readFileSync(log, 'utf8').length : 0;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const text = readFileSync(log, 'utf8').slice(from);
    if (new RegExp(`${program} is running`).test(text)) return { how: 'background', logs: log };
    if (!alive(pid)) {
      rmSync(pidFile(dataDir, program), { force: true });
      const last = text.trim().split('\n').pop() ?? '';
      throw new Error(`${program} exited at start: ${last.replace(/^\S+ \S+\s+/, '')}`);
    }
    if (Date.now() > deadline) throw new Error(`${program} did not report running within 60 s; see ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs the program in the foreground, passing signals on, and returns its exit code. */
export function runForeground(program: Program, configFile: string, env: Record<string, string> = {}): Promise<number> {
  const child = spawn(process.execPath, [...NODE_ARGS[program], bundlePath(program), '--config', configFile], { stdio: 'inherit', env: { ...process.env, ...NODE_ENV, ...env } });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
  return new Promise((res) => child.on('exit', (code, signal) => res(code ?? (signal ? 1 : 0))));
}

/** a process that runs (a zombie, ended but not yet reaped by its parent, does not) */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc
  }
}

/** Stops what startService started, whichever way; returns what it did. */
export async function stopService(program: Program, dataDir: string): Promise<string[]> {
  const done: string[] = [];
  const unit = join(UNIT_DIR, `${program}.service`);
  if (existsSync(unit) && systemdRuns()) {
    spawnSync('systemctl', ['disable', '--now', `${program}.service`], { stdio: 'ignore' });
    rmSync(unit, { force: true });
    spawnSync('systemctl', ['daemon-reload'], { stdio: 'ignore' });
    done.push(`stopped and removed ${program}.service`);
  }
  const pf = pidFile(dataDir, program);
  if (existsSync(pf)) {
    const pid = Number(readFileSync(pf, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 1 && alive(pid) && isOurs(pid, program)) done.push(await stopProcess(pid, `${program} (pid ${pid})`));
    rmSync(pf, { force: true });
  }
  return done;
}

/** SIGTERM, and SIGKILL after 10 s; returns what it did, as a line for the user */
export async function stopProcess(pid: number, what: string): Promise<string> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return `${what} had stopped`;
  }
  const deadline = Date.now() + 10_000;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (!alive(pid)) return `stopped ${what}`;
  process.kill(pid, 'SIGKILL');
  return `killed ${what}: it did not stop within 10 s of SIGTERM`;
}

/** Guards against a stale pid file naming some other process now. */
function isOurs(pid: number, program: Program): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`${program}.js`);
  } catch {
    return true; // no /proc: trust the pid file
  }
}
