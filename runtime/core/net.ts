/** Small network helpers shared by the local servers. */
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';

/** The port a listening server is bound to (the config may ask for port 0), or 0 before it listens. */
export function boundPort(server: { address(): AddressInfo | string | null } | undefined): number {
  const a = server?.address();
  return typeof a === 'object' && a ? a.port : 0;
}

export function splitHostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[|\]$/g, '') || '127.0.0.1';
  return { host, port: Number(address.slice(i + 1)) };
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}
