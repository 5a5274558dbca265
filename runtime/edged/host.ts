/** Facts about this machine that a node reports: its address, architecture, OS. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { networkInterfaces, release } from 'node:os';

/** the first non-loopback IPv4 address (the node's InternalIP), else 127.0.0.1 */
export function hostIP(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/** Kubernetes' names for Node's architectures */
export function kubeArch(): string {
  return ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386' } as Record<string, string>)[process.arch] ?? process.arch;
}

export function osImage(): string {
  try {
    return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'Linux';
  } catch {
    return 'Linux';
  }
}

export function kernelVersion(): string {
  return release();
}

export function machineId(): string {
  for (const f of ['/etc/machine-id', '/var/lib/dbus/machine-id']) if (existsSync(f)) return readFileSync(f, 'utf8').trim();
  return '';
}

/** SIGKILL to a process and everything it started (/proc/<pid>/task/<tid>/children), children first seen, then it */
export function killTree(pid: number): void {
  const tree: number[] = [];
  const walk = (p: number, depth: number): void => {
    tree.push(p);
    if (depth > 32) return;
    try {
      for (const task of readdirSync(`/proc/${p}/task`)) {
        for (const child of readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').split(' ').filter(Boolean)) walk(Number(child), depth + 1);
      }
    } catch {
      /* gone already */
    }
  };
  walk(pid, 0);
  // stop them all before any can start another
  for (const p of tree) {
    try {
      process.kill(p, 'SIGSTOP');
    } catch {
      /* gone */
    }
  }
  for (const p of tree) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}
