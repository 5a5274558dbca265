/**
 * A real podman (Debian's) for Edged's tests: `podman system service` on a socket in a test folder,
 * with its storage there too (vfs: no overlay mounts left behind), runc and cgroupfs as these
 * machines need, and a `local/busybox` image imported offline from Debian's busybox-static.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, symlinkSync, copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';

export interface Podman {
  socket: string;
  endpoint: string;
  /** runs the podman CLI on the same storage */
  cli(args: string[]): { status: number | null; stdout: string; stderr: string };
  stop(): Promise<void>;
}

const APPLETS = ['sh', 'echo', 'cat', 'sleep', 'ls', 'env', 'httpd', 'wget', 'nc', 'kill', 'date', 'true', 'false', 'id', 'stat', 'wc', 'test', 'mkdir', 'ps'];

/** whether podman runs here (the benches say so and go on without it; tests fail, see requirePodman) */
export function podmanAvailable(): boolean {
  return spawnSync('podman', ['--version']).status === 0 && existsSync('/bin/busybox');
}

/** what the podman tests need, or an error naming it (a test that cannot run fails, never skips) */
function requirePodman(): void {
  if (spawnSync('podman', ['--version']).status !== 0) throw new Error('podman is not installed (apt-get install podman runc catatonit containernetworking-plugins; .ci/run does)');
  if (!existsSync('/bin/busybox')) throw new Error('/bin/busybox is missing: the test image is made from it (apt-get install busybox-static)');
}

function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path: '/_ping', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** podman's settings these machines need: ulimits it may set, runc, cgroupfs, events to a file */
export function writeContainersConf(path: string): void {
  writeFileSync(path, ['[containers]', 'default_ulimits = ["nofile=16384:16384", "nproc=16384:16384"]', '[engine]', 'runtime = "runc"', 'cgroup_manager = "cgroupfs"', 'events_logger = "file"', ''].join('\n'));
}

export async function startPodman(dir: string): Promise<Podman> {
  requirePodman();
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, 'containers.conf');
  writeContainersConf(conf);
  const base = ['--root', join(dir, 'root'), '--runroot', join(dir, 'runroot'), '--storage-driver', 'vfs', '--tmpdir', join(dir, 'tmp')];
  const env = { ...process.env, CONTAINERS_CONF: conf };
  const cli = (args: string[], input?: Buffer): { status: number | null; stdout: string; stderr: string } => {
    const r = spawnSync('podman', [...base, ...args], { env, input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const rootfs = join(dir, 'rootfs');
  mkdirSync(join(rootfs, 'bin'), { recursive: true });
  for (const d of ['tmp', 'etc', 'proc', 'sys', 'dev']) mkdirSync(join(rootfs, d), { recursive: true });
  copyFileSync('/bin/busybox', join(rootfs, 'bin', 'busybox'));
  for (const a of APPLETS) symlinkSync('busybox', join(rootfs, 'bin', a));
  const tar = spawnSync('tar', ['-C', rootfs, '-c', '.'], { maxBuffer: 64 * 1024 * 1024 });
  const imported = cli(['import', '--change', 'ENV PATH=/bin', '-', 'local/busybox'], tar.stdout);
  if (imported.status !== 0) throw new Error(`podman import failed: ${imported.stderr}`);
  const socket = join(dir, 'podman.sock');
  const service: ChildProcess = spawn('podman', [...base, 'system', 'service', '--time=0', `unix://${socket}`], { env, stdio: 'ignore' });
  for (let i = 0; i < 100 && !(await ping(socket)); i++) await new Promise((r) => setTimeout(r, 100));
  if (!(await ping(socket))) throw new Error('podman system service did not answer on its socket');
  return {
    socket,
    endpoint: `unix://${socket}`,
    cli: (args) => cli(args),
    async stop() {
      cli(['rm', '--all', '--force', '--time', '0']);
      service.kill('SIGTERM');
      await new Promise((r) => service.once('exit', r));
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
    },
  };
}
