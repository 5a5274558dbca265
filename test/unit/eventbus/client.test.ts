/**
 * The external broker's client against a real mosquitto, through a proxy that cuts or blackholes the
 * link: what it published and the broker never acknowledged goes again after the reconnect (marked a
 * duplicate), what it published while the broker was away goes once it is back, in order.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../core/log.js';
import { createMqttClient, type MqttClient } from '../../../runtime/eventbus/client.js';
import { mqttApp, startMosquitto, type App } from '../../peers/mqtt.js';
import { startProxy, type Proxy } from '../../peers/proxy.js';
import { eventually } from '../../e2e/cluster.js';

describe('the external broker client keeps what the broker has not acknowledged', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ke-mqttc-'));
  let broker: Awaited<ReturnType<typeof startMosquitto>>;
  let proxy: Proxy;
  let client: MqttClient;
  let app: App;
  const lines: string[] = [];

  beforeAll(async () => {
    broker = await startMosquitto(dir);
    proxy = await startProxy(broker.port);
    app = await mqttApp(broker.port, ['t/#']);
    client = createMqttClient({
      host: '127.0.0.1',
      port: proxy.port,
      clientId: 'unit-client',
      topics: [],
      log: createLogger({ level: 'debug', sink: { write: (_level, line) => void lines.push(line) } }),
      onMessage: () => undefined,
    });
    await eventually(async () => lines.some((l) => l.includes('connected to the external MQTT broker')), 10_000, 'connected');
  });
  afterAll(async () => {
    await client?.close();
    await app?.close();
    await proxy?.close();
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends again, after a reconnect, a QoS 1 publish lost on a dead link, and the ones made while away, in order', async () => {
    expect(client.publish('t/x', 'm0', 1)).toBe(true);
    await app.next('t/x', (b) => b === 'm0');
    await new Promise((r) => setTimeout(r, 200)); // its PUBACK back
    proxy.blackhole(true);
    expect(client.publish('t/x', 'm1', 1)).toBe(true); // written to a link that passes nothing on
    await new Promise((r) => setTimeout(r, 200));
    proxy.cutAll();
    proxy.blackhole(false);
    await eventually(async () => lines.some((l) => l.includes('lost the external MQTT broker')), 5000, 'the loss noticed');
    expect(client.publish('t/x', 'm2', 1)).toBe(true); // while disconnected: waits
    expect(client.publish('t/x', 'q0', 0)).toBe(false); // QoS 0 while away is dropped, and says so
    await app.next('t/x', (b) => b === 'm2', 15_000);
    const got = app.received.filter((m) => m.topic === 't/x').map((m) => m.body);
    expect(got).toEqual(['m0', 'm1', 'm2']);
    expect(lines.filter((l) => l.includes('connected to the external MQTT broker'))).toHaveLength(2);
  });
});
