/** The peer for uploads: mqtt.js publishing QoS 1 into mosquitto (which keeps nothing), over mutual TLS or plain TCP. */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { Cluster } from '../../test/e2e/cluster.js';
import { freePort } from '../../test/peers/proxy.js';

export async function mosquittoPeer(c: Cluster, n: number, window: number, tls = true): Promise<number> {
  const port = await freePort();
  const conf = join(c.dir, 'mosquitto.conf');
  const edge = c.pki.edge('mqtt-bench');
  const security = tls ? [`cafile ${c.pki.caFile}`, `certfile ${c.pki.serverCertFile}`, `keyfile ${c.pki.serverKeyFile}`, 'require_certificate true', 'use_identity_as_username true'] : ['allow_anonymous true'];
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, ...security, 'persistence false', 'user root', 'max_inflight_messages 0', 'max_queued_messages 0'].join('\n') + '\n');
  const broker = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 400));
    const client = tls
      ? await mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, { ca: c.pki.ca.cert, cert: edge.cert, key: edge.key, protocolVersion: 4, reconnectPeriod: 0 })
      : await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4, reconnectPeriod: 0 });
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
  } finally {
    broker.kill('SIGKILL');
  }
}
