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

/** a process and everything it started (/proc/<pid>/task/<tid>/children), parents first */
export function processTree(pid: number): number[] {
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
  return tree;
}

/** CPU time (ns, at USER_HZ 100 as Linux reports it to processes) and resident memory of a process tree */
export function treeUsage(pid: number): { cpuNanos: number; memoryBytes: number } {
  let cpuNanos = 0;
  let memoryBytes = 0;
  for (const p of processTree(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // fields 14, 15 (utime, stime) and 24 (rss, pages), counted from the state (field 3)
      cpuNanos += (Number(f[11]) + Number(f[12])) * 10_000_000;
      memoryBytes += Number(f[21]) * 4096;
    } catch {
      /* gone */
    }
  }
  return { cpuNanos, memoryBytes };
}

/** SIGKILL to a process and everything it started: all stopped first, so none starts another */
export function killTree(pid: number): void {
  const tree = processTree(pid);
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
