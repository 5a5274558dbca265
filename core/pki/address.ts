import { networkInterfaces } from 'node:os';

/** The host's first non-loopback IPv4 address: the default advertise address, as KubeEdge's. */
export function hostAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}
