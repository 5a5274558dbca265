/** Facts about this machine that a node reports: its address, architecture, OS. */
import { existsSync, readFileSync } from 'node:fs';
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
