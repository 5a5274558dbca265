/** Small network helpers shared by the local servers. */
import { connect, createServer, isIP, type AddressInfo, type Server } from 'node:net';

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

/** Listens, resolving once bound, rejecting with the bind error said plainly (in use, not allowed, ...). */
export function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException): void => {
      const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
      if (err.code === 'EADDRINUSE') reject(new Error(`${where} is in use by another process (is one already running here?); stop it or set another port in the config`));
      else if (err.code === 'EACCES') reject(new Error(`${where}: not allowed to listen there (a port below 1024 needs root)`));
      else if (err.code === 'EADDRNOTAVAIL') reject(new Error(`${where}: no such address on this host`));
      else reject(err);
    };
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve();
    });
  });
}

/** Stops listening and ends open connections at once (an idle keep-alive client would else hold the stop). */
export function closeServer(server: Server | undefined): Promise<void> {
  if (!server) return Promise.resolve();
  const done = new Promise<void>((resolve) => server.close(() => resolve()));
  (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
  return done;
}

/** A port free on loopback right now (for the quick start and tests). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await listen(s, 0, '127.0.0.1');
  const port = boundPort(s);
  await closeServer(s);
  return port;
}

/** Opens and closes a TCP connection: undefined when something listens there, else why not. */
export function tcpReachable(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: timeoutMs });
    s.once('connect', () => {
      s.destroy();
      resolve(undefined);
    });
    s.once('timeout', () => {
      s.destroy();
      resolve('no answer');
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED' ? 'connection refused' : err.message));
  });
}
