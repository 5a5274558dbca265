/**
 * A Debian machine with systemd as PID 1, for the package and image tests: a podman container
 * (runc, cgroupfs, storage in the test's folder) of a root folder, sharing the test's network
 * namespace, so a cloudcore run by the test is at 127.0.0.1.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '../e2e/cluster.js';
import { writeContainersConf } from '../peers/podman.js';

export interface Machine {
  podman(args: string[]): { status: number | null; out: string };
  /** a shell command on the machine; its output, or an error with what it said */
  sh(cmd: string): string;
  /** copies a file of this machine into the container */
  copyIn(path: string, dest: string): void;
  /** a property of a unit (`systemctl show -p`) */
  show(unit: string, prop: string): string;
  /** waits for `fn`; on a timeout, the error carries the unit's status and journal */
  until(fn: () => Promise<boolean>, ms: number, what: string, unit?: string): Promise<void>;
  remove(): void;
}

export async function bootMachine(dir: string, root: string, opts: { hostname: string; volumes?: string[] }): Promise<Machine> {
  const conf = join(dir, 'containers.conf');
  const name = `ke-machine-${process.pid}-${opts.hostname}`;
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  writeContainersConf(conf);
  const podman = (args: string[]) => {
    const r = spawnSync('podman', ['--root', join(dir, 'storage'), '--runroot', join(dir, 'run'), '--storage-driver', 'vfs', '--tmpdir', join(dir, 'tmp'), ...args], { encoding: 'utf8', env: { ...process.env, CONTAINERS_CONF: conf }, timeout: 180_000 });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  };
  const sh = (cmd: string): string => {
    const r = podman(['exec', name, 'sh', '-c', cmd]);
    if (r.status !== 0) throw new Error(`${cmd}: exit ${r.status}: ${r.out}`);
    return r.out;
  };
  // privileged, as root on a gateway is: systemd then sets up each unit's sandbox for real (ProtectSystem,
  // ReadWritePaths…: without CAP_SYS_ADMIN it silently skips them), and edgecore can make process pods'
  // mount namespaces and cgroups (a writable tree)
  const run = podman(['run', '-d', '--name', name, '--hostname', opts.hostname, '--systemd=always', '--privileged', '--network', 'host', ...(opts.volumes ?? []).flatMap((v) => ['-v', v]), '--rootfs', root, '/sbin/init']);
  if (run.status !== 0) throw new Error(`podman run: ${run.out}`);
  await eventually(async () => /^(running|degraded)/.test(podman(['exec', name, 'systemctl', 'is-system-running']).out), 60_000, 'systemd up');
  return {
    podman,
    sh,
    copyIn(path, dest) {
      const r = podman(['cp', path, `${name}:${dest}`]);
      if (r.status !== 0) throw new Error(`podman cp ${path}: ${r.out}`);
    },
    show: (unit, prop) => sh(`systemctl show -p ${prop} --value ${unit}`).trim(),
    async until(fn, ms, what, unit = 'edgecore') {
      try {
        await eventually(async () => fn(), ms, what);
      } catch (err) {
        throw new Error(`${(err as Error).message}\n${podman(['exec', name, 'sh', '-c', `systemctl status ${unit} --no-pager; journalctl -u ${unit} -o cat --no-pager -n 25`]).out}`);
      }
    },
    remove: () => void podman(['rm', '-f', '-t', '0', name]),
  };
}
