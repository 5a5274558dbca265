/**
 * The process runtime (`runtimeClassName: process`), for boards without a container runtime: each
 * container's command runs as a host process, under a small `sh` shim that joins the container's
 * cgroup, bind-mounts its volumes at their mountPath in a private mount namespace (where edgecore is
 * root and has `unshare`), runs the command, and writes its exit code to a file. The shim runs in a
 * session of its own, so it outlives edgecore: a restarted edgecore finds it again by its pid and
 * start time (state.json) instead of starting a second copy, and reads the exit code of one that
 * ended while it was down. Its stdout and stderr go to a log file that edgecore rotates.
 *
 * Layout: <root>/pods/<uid>/containers/<name>/<attempt>/{state.json, exit, log, log.1 …};
 * <root>/pods/<uid>/view/: where a container's shim mounts its view of / (in its own namespace:
 * empty on the host); without mount namespaces, <root>/pods/<uid>/created.json: the symlinks made
 * for the pod's volumes, removed with the pod.
 */
import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { accessSync, constants, existsSync, lstatSync, mkdirSync, openSync, closeSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, renameSync, readlinkSync, rmdirSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type { Logger } from '../core/log.js';
import { errorText } from '../core/errors.js';
import { openCgroups, type Cgroups } from './cgroups.js';
import { readLog, rotateLog } from './logfile.js';
import { hostIP, treeUsage } from './host.js';
import { RuntimeError, type ContainerConfig, type ContainerRuntime, type ExecHandlers, type ExecOptions, type ExecSession, type LogOptions, type RuntimeContainer } from './runtime.js';

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const ROTATE_EVERY_MS = 10_000;

/**
 * The shim. Arguments: exitfile workdir viewroot N cgroup-procs-file×N M (src dst ro|rw)×M -- command…
 * It joins the cgroups, then shows each volume at its path in the pod's own mount namespace. Where a
 * path does not exist, nothing is made on the host: its deepest existing folder is shadowed by a
 * tmpfs that shows the same entries (bound from the real ones) and the missing folders; when that
 * folder is `/`, the shadow is the pod's root (under `viewroot`, in the data folder) and the command
 * runs chrooted into it. TERM is passed on to the command (which runs with default signal handling);
 * its exit code, or 128+signal, is written to the exit file once it has ended.
 */
const SHIM = `set -u
exitfile=$1; workdir=$2; view=$3; n=$4; shift 4
while [ "$n" -gt 0 ]; do echo $$ > "$1" || { echo "kubeedge: cannot join cgroup $1" >&2; exit 125; }; shift; n=$((n-1)); done
root=""
shadows=0
# shadow D: a tmpfs over D (a path in the pod's view) with D's entries bound from the real ones
shadow() {
  d=$1; shadows=$((shadows+1))
  if [ "$d" = / ] && [ -z "$root" ]; then s=$view; else s=$view.$shadows; fi
  mkdir -p "$s" && mount -t tmpfs -o mode=0755 kubeedge-pod "$s" || return 1
  for e in "$root\${d%/}"/* "$root\${d%/}"/.[!.]* "$root\${d%/}"/..?*; do
    [ -e "$e" ] || [ -L "$e" ] || continue
    b=\${e##*/}
    if [ -L "$e" ]; then ln -s "$(readlink "$e")" "$s/$b" || return 1
    elif [ -d "$e" ]; then mkdir "$s/$b" && mount --rbind "$e" "$s/$b" || return 1
    else : > "$s/$b" && mount --bind "$e" "$s/$b" || return 1; fi
  done
  # the shadow is under D itself (the data folder is): its copy inside it would loop
  case "$s/" in "\${d%/}"/*) umount -l "$s/\${s#\${d%/}/}" 2>/dev/null ;; esac
  if [ "$d" = / ] && [ -z "$root" ]; then root=$s; else mount --move "$s" "$root$d"; fi
}
n=$1; shift
while [ "$n" -gt 0 ]; do
  src=$1; dst=$2; mode=$3; shift 3; n=$((n-1))
  if [ ! -e "$root$dst" ]; then
    a=$dst
    while [ ! -e "$root$a" ]; do a=$(dirname "$a"); done
    shadow "$a" && mkdir -p "$root$dst" || { echo "kubeedge: cannot make a place for $dst in the pod's view" >&2; exit 125; }
  fi
  mount --bind "$src" "$root$dst" || { echo "kubeedge: cannot mount $src at $dst" >&2; exit 125; }
  if [ "$mode" = ro ]; then mount -o remount,bind,ro "$root$dst" || exit 125; fi
done
shift
run='set -u
exitfile=$1; workdir=$2; shift 2
cd "$workdir" || { echo "kubeedge: cannot enter workingDir $workdir" >&2; exit 125; }
"$@" &
child=$!
trap "kill -TERM $child 2>/dev/null" TERM
while :; do
  wait $child; rc=$?
  kill -0 $child 2>/dev/null || break
done
printf "%s %s\\n" "$rc" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$exitfile.tmp" && mv "$exitfile.tmp" "$exitfile"
exit $rc'
if [ -n "$root" ]; then exec chroot "$root" /bin/sh -c "$run" run "$exitfile" "$workdir" "$@"; fi
exec /bin/sh -c "$run" run "$exitfile" "$workdir" "$@"
`;

interface State {
  id: string;
  podUid: string;
  podName: string;
  namespace: string;
  name: string;
  hash: string;
  attempt: number;
  pid: number;
  /** the process's start time in clock ticks (/proc/<pid>/stat field 22): a reused pid has another */
  pidStart: string;
  startedAt: string;
  cgroup?: string;
  namespaced: boolean;
}

/** /proc/<pid>/stat's start time, or undefined when there is no such process */
function procStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** a process's environment (/proc/<pid>/environ): a container's, for what is run in it */
function environOf(pid: number): Record<string, string> {
  try {
    const pairs = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
    return Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
  } catch {
    return { PATH: DEFAULT_PATH };
  }
}

const shellQuote = (a: string): string => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`);

function writeJson(file: string, value: unknown): void {
  writeFileSync(`${file}.tmp`, JSON.stringify(value), { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

/** the executable a command names, looked up in PATH as execvp would, or undefined */
function findExecutable(name: string, path: string, mounts: ContainerConfig['mounts']): string | undefined {
  const onHost = (p: string): string => {
    const m = mounts.find((x) => p === x.containerPath || p.startsWith(`${x.containerPath}/`));
    return m ? m.hostPath + p.slice(m.containerPath.length) : p;
  };
  const ok = (p: string): boolean => {
    try {
      accessSync(onHost(p), constants.X_OK);
      return !lstatSync(onHost(p)).isDirectory();
    } catch {
      return false;
    }
  };
  if (name.includes('/')) return ok(name) ? name : undefined;
  return path.split(':').map((d) => join(d || '.', name)).find(ok);
}

export interface ProcessRuntimeOptions {
  root: string;
  log: Logger;
  logMaxBytes: number;
  logMaxFiles: number;
  cgroups?: Cgroups;
}

/** a folder's entries, or none when it cannot be read */
function entries(d: string): string[] {
  try {
    return readdirSync(d);
  } catch {
    return [];
  }
}

function readState(dir: string): State | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as State;
  } catch {
    return undefined;
  }
}

const alive = (s: State): boolean => procStart(s.pid) === s.pidStart;

/** how an ended container ended, from its exit file (written by the shim, or by stop) */
function exitOf(dir: string): { exitCode: number; finishedAt: string; reason: string } {
  try {
    const [code, at] = readFileSync(join(dir, 'exit'), 'utf8').trim().split(' ');
    const exitCode = Number(code);
    return { exitCode, finishedAt: at ?? new Date().toISOString(), reason: exitCode === 0 ? 'Completed' : 'Error' };
  } catch {
    // the shim itself was killed: nobody saw how the command ended
    return { exitCode: 137, finishedAt: new Date().toISOString(), reason: 'ContainerStatusUnknown' };
  }
}

/** removes what prepareSymlinks made, deepest first */
function unmake(created: readonly string[]): void {
  for (const p of [...created].reverse()) {
    try {
      if (lstatSync(p).isSymbolicLink()) rmSync(p);
      else rmdirSync(p);
    } catch {
      /* not empty, or gone: leave it */
    }
  }
}

/** starts the shim in a session of its own, its output to the log file; its pid */
async function spawnDetached(argv: readonly string[], env: Record<string, string>, logFile: string, onExit: () => void): Promise<number> {
  const logFd = openSync(logFile, 'a', 0o600);
  try {
    const child = spawn(argv[0] as string, argv.slice(1), { detached: true, stdio: ['ignore', logFd, logFd], env, cwd: '/' });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    child.on('exit', onExit);
    child.unref();
    return child.pid as number;
  } finally {
    closeSync(logFd);
  }
}

export function createProcessRuntime(o: ProcessRuntimeOptions): ProcessRuntime {
  return new ProcessRuntime(o);
}

export class ProcessRuntime implements ContainerRuntime {
  readonly name = 'process' as const;
  /** a private mount namespace per pod needs root and unshare(1); without them volumes are symlinks */
  readonly namespaces = process.getuid?.() === 0 && ['/usr/bin/unshare', '/bin/unshare'].some(existsSync);
  readonly cgroups: Cgroups;
  private readonly podsDir: string;
  private readonly listeners: (() => void)[] = [];
  private rotateTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: ProcessRuntimeOptions) {
    this.podsDir = join(o.root, 'pods');
    this.cgroups = o.cgroups ?? openCgroups();
  }

  private dirOf(podUid: string, name: string, attempt: number): string {
    return join(this.podsDir, podUid, 'containers', name, String(attempt));
  }

  private dirOfId(id: string): string {
    return join(this.podsDir, ...id.split('/').slice(0, 1), 'containers', ...id.split('/').slice(1));
  }

  private toContainer(s: State, dir: string): RuntimeContainer {
    const base = { id: s.id, podUid: s.podUid, name: s.name, hash: s.hash, attempt: s.attempt, startedAt: s.startedAt, ip: hostIP() };
    if (alive(s)) return { ...base, state: 'running' };
    const ended = exitOf(dir);
    if (s.cgroup && ended.exitCode !== 0 && this.cgroups.oomKilled(s.cgroup)) ended.reason = 'OOMKilled';
    return { ...base, state: 'exited', ...ended };
  }

  async check(): Promise<string | undefined> {
    mkdirSync(this.podsDir, { recursive: true, mode: 0o700 });
    this.rotateTimer ??= setInterval(() => {
      void this.list().then((cs) => {
        for (const c of cs) if (c.state === 'running') rotateLog(join(this.dirOfId(c.id), 'log'), this.o.logMaxBytes, this.o.logMaxFiles);
      });
    }, ROTATE_EVERY_MS).unref();
    return undefined;
  }

  version(): string {
    return 'process://linux';
  }

  async list(): Promise<RuntimeContainer[]> {
    const out: RuntimeContainer[] = [];
    for (const uid of entries(this.podsDir)) {
      for (const name of entries(join(this.podsDir, uid, 'containers'))) {
        for (const attempt of entries(join(this.podsDir, uid, 'containers', name))) {
          const dir = join(this.podsDir, uid, 'containers', name, attempt);
          const s = readState(dir);
          if (s) out.push(this.toContainer(s, dir));
        }
      }
    }
    return out;
  }

  async ensureImage(): Promise<void> {
    /* a process has no image: its command is what runs */
  }

  private createdFile(podUid: string): string {
    return join(this.podsDir, podUid, 'created.json');
  }

  private readCreated(podUid: string): string[] {
    try {
      return JSON.parse(readFileSync(this.createdFile(podUid), 'utf8')) as string[];
    } catch {
      return [];
    }
  }

  /**
   * Without a mount namespace (not root), a volume is a symlink at its mountPath, made (with the
   * folders it needs) on the host and recorded, so the pod's removal takes it away. With one, the
   * shim shows it in the pod's own view and nothing is made on the host.
   */
  private prepareSymlinks(cfg: ContainerConfig): void {
    const created = this.readCreated(cfg.podUid);
    const record = (p: string): void => {
      created.push(p);
      writeJson(this.createdFile(cfg.podUid), created);
    };
    for (const m of cfg.mounts) {
      let target: string | undefined;
      try {
        target = lstatSync(m.containerPath).isSymbolicLink() ? readlinkSync(m.containerPath) : 'exists';
      } catch {
        target = undefined;
      }
      if (target === m.hostPath) continue;
      if (target !== undefined) throw new RuntimeError('CreateContainerConfigError', `volume cannot be shown at ${m.containerPath}: edgecore may not make mount namespaces here (it is not root), and the path exists`);
      try {
        const missing: string[] = [];
        for (let p = dirname(m.containerPath); !existsSync(p); p = dirname(p)) missing.unshift(p);
        mkdirSync(dirname(m.containerPath), { recursive: true });
        missing.forEach(record);
        symlinkSync(m.hostPath, m.containerPath);
        record(m.containerPath);
      } catch (err) {
        throw new RuntimeError('CreateContainerConfigError', `volume cannot be shown at ${m.containerPath} (no mount namespace: not root): ${errorText(err)}`);
      }
    }
  }

  /** the shim's command line for a container: its cgroup, its volumes, its command */
  private shimArgv(cfg: ContainerConfig, dir: string, procs: readonly string[], argv: readonly string[]): string[] {
    const mounts = this.namespaces ? cfg.mounts.flatMap((m) => [m.hostPath, m.containerPath, m.readOnly ? 'ro' : 'rw']) : [];
    // where the shim makes the pod's own view of / when a volume's path is missing on the host
    const view = join(this.podsDir, cfg.podUid, 'view', `${cfg.name}-${cfg.attempt}`);
    const shimArgs = [join(dir, 'exit'), cfg.workingDir ?? '/', view, String(procs.length), ...procs, String(cfg.mounts.length && this.namespaces ? cfg.mounts.length : 0), ...mounts, '--', ...argv];
    const shim = ['/bin/sh', '-c', SHIM, 'shim', ...shimArgs];
    return this.namespaces ? ['unshare', '--mount', '--propagation', 'private', '--', ...shim] : shim;
  }

  async run(cfg: ContainerConfig): Promise<RuntimeContainer> {
    const dir = this.dirOf(cfg.podUid, cfg.name, cfg.attempt);
    const argv = [...(cfg.command ?? []), ...(cfg.args ?? [])];
    if (argv.length === 0) throw new RuntimeError('RunContainerError', 'no command to run: a process container needs command');
    const env = { PATH: DEFAULT_PATH, HOME: '/root', HOSTNAME: cfg.podName, ...cfg.env };
    if (!findExecutable(argv[0] as string, env.PATH, cfg.mounts)) throw new RuntimeError('RunContainerError', `exec: "${argv[0] as string}": executable file not found in $PATH`);
    for (const m of cfg.mounts) if (!isAbsolute(m.containerPath)) throw new RuntimeError('CreateContainerConfigError', `mountPath ${m.containerPath} is not absolute`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!this.namespaces) this.prepareSymlinks(cfg);
    // a group of its own even without limits: outside edgecore's, the command outlives a restart of edgecore's unit
    const cgroup = this.cgroups.version ? `${cfg.podUid}_${cfg.name}_${cfg.attempt}` : undefined;
    const procs = cgroup ? this.cgroups.create(cgroup, { memoryBytes: cfg.memoryBytes, cpuCores: cfg.cpuCores }) : [];
    let pid: number;
    try {
      pid = await spawnDetached(this.shimArgv(cfg, dir, procs, argv), env, join(dir, 'log'), () => this.listeners.forEach((l) => l()));
    } catch (err) {
      throw new RuntimeError('RunContainerError', `cannot start ${argv[0] as string}: ${errorText(err)}`);
    }
    const { podUid, podName, namespace, name, hash, attempt } = cfg;
    const state: State = { id: `${podUid}/${name}/${attempt}`, podUid, podName, namespace, name, hash, attempt, pid, pidStart: procStart(pid) ?? '', startedAt: new Date().toISOString(), namespaced: this.namespaces, ...(cgroup ? { cgroup } : {}) };
    writeJson(join(dir, 'state.json'), state);
    return this.toContainer(state, dir);
  }

  async stop(c: RuntimeContainer, gracePeriod: number): Promise<void> {
    const dir = this.dirOfId(c.id);
    const s = readState(dir);
    if (!s || !alive(s)) return;
    try {
      process.kill(s.pid, 'SIGTERM'); // the shim passes it to the command
    } catch {
      /* gone */
    }
    const deadline = Date.now() + gracePeriod * 1000;
    while (alive(s) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (alive(s)) {
      try {
        process.kill(-s.pid, 'SIGKILL'); // its whole process group
      } catch {
        /* gone */
      }
      if (!existsSync(join(dir, 'exit'))) writeFileSync(join(dir, 'exit'), `137 ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}\n`);
    }
    if (s.cgroup) this.cgroups.killAll(s.cgroup); // what escaped the group (a daemon that called setsid)
    while (alive(s)) await new Promise((r) => setTimeout(r, 20));
  }

  async remove(c: RuntimeContainer): Promise<void> {
    const dir = this.dirOfId(c.id);
    const s = readState(dir);
    if (s?.cgroup) {
      this.cgroups.killAll(s.cgroup);
      await this.cgroups.remove(s.cgroup);
    }
    rmSync(dir, { recursive: true, force: true });
    try {
      rmdirSync(dirname(dir)); // the container's folder, once its last attempt is gone
    } catch {
      /* another attempt is kept */
    }
  }

  async removePod(podUid: string): Promise<void> {
    unmake(this.readCreated(podUid));
    rmSync(join(this.podsDir, podUid, 'containers'), { recursive: true, force: true });
    // empty on the host: the views were mounted in the pods' namespaces, gone with their processes
    rmSync(join(this.podsDir, podUid, 'view'), { recursive: true, force: true });
    rmSync(this.createdFile(podUid), { force: true });
  }

  async exec(c: RuntimeContainer, command: string[], timeoutMs: number, env: Record<string, string> = {}): Promise<number> {
    const s = readState(this.dirOfId(c.id));
    if (!s || !alive(s)) return 1;
    // into the pod's mount namespace and its root (its own view of /, when it has one)
    const [cmd, ...args] = s.namespaced ? ['nsenter', '-t', String(s.pid), '-m', '-r', '--', ...command] : command;
    return new Promise<number>((resolve) => {
      const child = spawn(cmd as string, args, { stdio: 'ignore', env: { PATH: DEFAULT_PATH, ...env }, cwd: '/' });
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', () => resolve(127));
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve(code ?? 1);
      });
    });
  }

  async interactive(c: RuntimeContainer, opts: ExecOptions, on: ExecHandlers): Promise<ExecSession> {
    const s = readState(this.dirOfId(c.id));
    if (!s || !alive(s)) throw new Error(`container ${c.name} is not running`);
    const env = { ...environOf(s.pid), ...(opts.tty ? { TERM: 'xterm', SHELL: '/bin/sh' } : {}) };
    const inner = s.namespaced ? ['nsenter', '-t', String(s.pid), '-m', '-r', '-w', '--', ...opts.command] : opts.command;
    // a terminal when asked for one: script(1) makes it (Node has no pty), and ends with the command's code
    const argv = opts.tty ? ['script', '-qfec', inner.map(shellQuote).join(' '), '/dev/null'] : inner;
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'], env, cwd: '/', detached: true });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    child.stdout?.on('data', (d: Buffer) => on.output(1, d));
    child.stderr?.on('data', (d: Buffer) => on.output(2, d));
    child.stdin?.on('error', () => undefined); // the command ended before reading all of it
    child.on('close', (code, signal) => on.exit(code ?? 128 + (signal ? (osConstants.signals as Record<string, number>)[signal] ?? 0 : 0)));
    return {
      write: (d) => void child.stdin?.write(d),
      end: () => void child.stdin?.end(),
      resize: () => undefined, // script(1) cannot be told a new size
      kill: () => {
        try {
          process.kill(-(child.pid as number), 'SIGKILL'); // its group: script and what it runs
        } catch {
          /* already gone */
        }
      },
    };
  }

  async usage(c: RuntimeContainer): Promise<{ cpuNanos?: number; memoryBytes?: number }> {
    const s = readState(this.dirOfId(c.id));
    if (!s || !alive(s)) return {};
    // its cgroup counts what its children did too; without one, its process tree as it is now
    const u = s.cgroup ? this.cgroups.usage(s.cgroup) : {};
    return u.cpuNanos !== undefined && u.memoryBytes !== undefined ? u : { ...treeUsage(s.pid), ...u };
  }

  async logs(c: RuntimeContainer, opts: LogOptions, write: (chunk: string) => void, signal: AbortSignal): Promise<void> {
    const dir = this.dirOfId(c.id);
    const s = readState(dir);
    await readLog(join(dir, 'log'), opts, write, () => (s ? alive(s) && !existsSync(join(dir, 'exit')) : false), signal);
  }

  onChange(l: () => void): void {
    this.listeners.push(l);
  }

  async close(): Promise<void> {
    if (this.rotateTimer) clearInterval(this.rotateTimer);
    this.rotateTimer = undefined;
  }
}
