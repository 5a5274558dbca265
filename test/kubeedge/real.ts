/** The real KubeEdge of ../shared/kubeedge (up.sh, down.sh), and kubectl, for the interoperability tests. */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ROOT } from '../peers/proc.js';

export const SHARED = resolve(ROOT, '..', 'shared', 'kubeedge');
export const BIN = process.env.KUBEEDGE_BIN ?? '/tmp/kubeedge-bin';

/** a KubeEdge binary, unpacked from ../shared/kubeedge/bin as up.sh does it when it is not there yet */
export function kubeedgeBinary(name: 'cloudcore' | 'edgecore'): string {
  const path = join(BIN, name);
  if (!existsSync(path)) {
    mkdirSync(BIN, { recursive: true });
    const r = spawnSync('sh', ['-c', `xz -dc "${join(SHARED, 'bin', `${name}.xz`)}" > "${path}.tmp" && chmod +x "${path}.tmp" && mv "${path}.tmp" "${path}"`]);
    if (r.status !== 0) throw new Error(`cannot unpack ${name}: ${String(r.stderr)}`);
  }
  return path;
}

/** for the bench, which says so and goes on without it */
export function kubeedgeAvailable(): boolean {
  return existsSync(join(SHARED, 'up.sh'));
}

/**
 * These suites need the real KubeEdge of ../shared/kubeedge: without it they fail saying so, rather
 * than vanish from the count (a skipped suite would let CI say "0 failed" having run nothing).
 */
export function requireKubeEdge(): void {
  if (!kubeedgeAvailable()) throw new Error(`the real KubeEdge these tests run against is missing: no ${join(SHARED, 'up.sh')} (../shared/kubeedge beside the repository)`);
}

export interface RealKubeEdge {
  dir: string;
  up(mode: 'cloud' | 'edge', env?: Record<string, string>): SpawnSyncReturns<string>;
  down(): void;
  kubectl(args: string[], input?: string): SpawnSyncReturns<string>;
  token(): string;
  edgeLog(): string;
  /** SIGKILLs the real cloudcore and starts it again with the same config */
  restartCloudcore(): void;
}

export function realKubeEdge(): RealKubeEdge {
  const dir = mkdtempSync(join(tmpdir(), 'ke-real-'));
  const env = (extra: Record<string, string> = {}) => ({ ...process.env, K: dir, B: BIN, ...extra });
  return {
    dir,
    up: (mode, extra = {}) => spawnSync('bash', [join(SHARED, 'up.sh'), mode], { env: env(extra), encoding: 'utf8', timeout: 150_000 }),
    down() {
      spawnSync('bash', [join(SHARED, 'down.sh')], { env: env(), encoding: 'utf8' });
      // and whatever else runs from this folder (our edgecore, joined into it)
      for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
        try {
          if (Number(pid) !== process.pid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* gone already */
        }
      }
      if (!process.env.KUBEEDGE_KEEP) rmSync(dir, { recursive: true, force: true });
    },
    kubectl: (args, input) => spawnSync('kubectl', ['--kubeconfig', join(dir, 'admin.kubeconfig'), ...args], { encoding: 'utf8', input, timeout: 60_000 }),
    token: () => readFileSync(join(dir, 'token'), 'utf8').trim(),
    edgeLog: () => (existsSync(join(dir, 'edge', 'edgecore.log')) ? readFileSync(join(dir, 'edge', 'edgecore.log'), 'utf8') : ''),
    restartCloudcore() {
      const pidFile = join(dir, 'cloudcore.pid');
      const pid = Number(readFileSync(pidFile, 'utf8'));
      process.kill(pid, 'SIGKILL');
      const gone = (): boolean => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      };
      for (let i = 0; i < 100 && !gone(); i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
      // as up.sh starts it; down.sh stops it by the pid file
      const child = spawn(join(BIN, 'cloudcore'), ['--config', join(dir, 'cloudcore.yaml'), process.env.CLOUDCORE_V ?? '-v=2'], { stdio: ['ignore', openSync(join(dir, 'cloudcore.log'), 'a'), openSync(join(dir, 'cloudcore.log'), 'a')], detached: true });
      child.unref();
      writeFileSync(pidFile, String(child.pid));
    },
  };
}

/** kubectl against a kubeconfig of ours */
export { kubectl } from '../peers/kubectl.js';
