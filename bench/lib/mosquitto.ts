/**
 * The peers for uploads: mqtt.js publishing QoS 1 into mosquitto (which keeps nothing), over mutual
 * TLS or plain TCP, and into aedes alone (our embedded broker, without edgecore around it: no
 * outbox, no link), in a process of its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type IClientOptions } from 'mqtt';
import type { Cluster } from '../../test/e2e/cluster.js';
import { freePort } from '../../test/peers/proxy.js';

/** n QoS 1 publishes, `window` at a time, from mqtt.js to `url`: messages per second */
async function publishRate(url: string, opts: IClientOptions, n: number, window: number): Promise<number> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, ...opts });
  const t0 = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      await client.publishAsync(`$hw/events/upload/bench/${i % 16}`, JSON.stringify({ value: String(20 + (i % 10) / 10), seq: i }), { qos: 1 });
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  const rate = n / ((performance.now() - t0) / 1000);
  await client.endAsync();
  return rate;
}

export async function mosquittoPeer(c: Cluster, n: number, window: number, tls = true): Promise<number> {
  const port = await freePort();
  const conf = join(c.dir, 'mosquitto.conf');
  const edge = c.pki.edge('mqtt-bench');
  const security = tls ? [`cafile ${c.pki.caFile}`, `certfile ${c.pki.serverCertFile}`, `keyfile ${c.pki.serverKeyFile}`, 'require_certificate true', 'use_identity_as_username true'] : ['allow_anonymous true'];
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, ...security, 'persistence false', 'user root', 'max_inflight_messages 0', 'max_queued_messages 0'].join('\n') + '\n');
  const broker = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 400));
    return tls ? await publishRate(`mqtts://127.0.0.1:${port}`, { ca: c.pki.ca.cert, cert: edge.cert, key: edge.key }, n, window) : await publishRate(`mqtt://127.0.0.1:${port}`, {}, n, window);
  } finally {
    broker.kill('SIGKILL');
  }
}

/** aedes as EventBus runs it (the same options), alone in a node process, over plain TCP */
export async function aedesPeer(n: number, window: number): Promise<number> {
  const port = await freePort();
  const code = `import { Aedes } from 'aedes'; import { createServer } from 'node:net';
const b = await Aedes.createBroker({ concurrency: 100, queueLimit: 1000, maxClientsIdLength: 128 });
createServer((s) => b.handle(s)).listen(${port}, '127.0.0.1', () => console.log('ready'));`;
  // an eval'd module resolves 'aedes' from the working directory: the repository's node_modules
  const broker: ChildProcess = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'], cwd: process.cwd() });
  try {
    await new Promise<void>((resolve, reject) => {
      broker.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      broker.once('exit', (code) => reject(new Error(`aedes exited (${code ?? '?'}) before it listened`)));
    });
    return await publishRate(`mqtt://127.0.0.1:${port}`, {}, n, window);
  } finally {
    broker.kill('SIGKILL');
  }
}
