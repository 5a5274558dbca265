/**
 * A TCP proxy that can cut a link or blackhole it: in blackhole mode both sockets stay open but
 * nothing is forwarded, which is how a half-open link (a dead NAT, a pulled cable) looks.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface Proxy {
  port: number;
  blackhole(on: boolean): void;
  cutAll(): void;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<Proxy> {
  let holed = false;
  const pairs = new Set<[Socket, Socket]>();
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, targetHost);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const forward = (from: Socket, to: Socket): void => {
      from.on('data', (d) => {
        if (!holed) to.write(d);
      });
    };
    forward(client, upstream);
    forward(upstream, client);
    // while blackholed a close is not passed on either: the far side must find out by itself
    const end = (other: Socket) => (): void => {
      if (holed) return;
      pairs.delete(pair);
      other.destroy();
    };
    client.on('error', () => undefined).on('close', end(upstream));
    upstream.on('error', () => undefined).on('close', end(client));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const proxy: Proxy = {
    port: typeof addr === 'object' && addr ? addr.port : 0,
    blackhole(on) {
      holed = on;
    },
    cutAll() {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      pairs.clear();
    },
    async close() {
      proxy.cutAll();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  return proxy;
}

export { freePort } from '../../core/net.js';
