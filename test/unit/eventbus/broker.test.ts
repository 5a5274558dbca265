import { afterEach, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { createBus } from '../../../core/bus.js';
import { systemClock } from '../../../core/clock.js';
import { createLogger } from '../../../core/log.js';
import type { Message } from '../../../core/message.js';
import { startModules } from '../../../core/module.js';
import { createMetaManager } from '../../../runtime/metamanager/index.js';
import { createEventBus, MAX_PAYLOAD_BYTES } from '../../../runtime/eventbus/index.js';
import { freePort } from '../../peers/proxy.js';
import { defaults } from '../../../core/schema.js';
import { edgeCoreSchema } from '../../../api/config/edgecore.js';

const log = createLogger({ level: 'error' });
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

/** the real broker and the real MetaManager (in memory, no cloud): uploads land in its outbox */
async function broker(): Promise<{ port: number; uploads: () => Message[] }> {
  const port = await freePort();
  const bus = createBus(log);
  const meta = createMetaManager({ config: { enable: true, outboxLimit: 100, metaServer: { enable: false, server: '127.0.0.1:0' } }, dataSource: ':memory:' });
  const eb = createEventBus({ config: { ...defaults(edgeCoreSchema).modules.eventBus, mqttServerInternal: `tcp://127.0.0.1:${port}` }, nodeName: 'unit', outbox: (route, content) => meta.enqueue(route, content) });
  const stop = await startModules([{ module: meta, enabled: true }, { module: eb, enabled: true }], { bus, log, clock: systemClock });
  stops.push(stop);
  return { port, uploads: () => (meta.outbox()?.next(0, 100) ?? []).map((e) => e.msg) };
}

describe('EventBus: the embedded broker', () => {
  it('carries local apps’ own topics, and hands uploads to MetaManager before acknowledging them', async () => {
    const { port, uploads } = await broker();
    const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
    const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
    const got = new Promise<string>((r) => sub.on('message', (_t, p) => r(p.toString())));
    await sub.subscribeAsync('plant/line-1/#', { qos: 1 });
    await pub.publishAsync('plant/line-1/speed', '42', { qos: 1 });
    expect(await got).toBe('42');
    await pub.publishAsync('$hw/events/upload/meter-1', '{"kwh":"1"}', { qos: 1 });
    expect(uploads().map((m) => [m.route.resource, m.content])).toEqual([['$hw/events/upload/meter-1', '{"kwh":"1"}']]);
    await sub.endAsync();
    await pub.endAsync();
  });

  it('refuses an oversized upload, stores nothing, and keeps serving', async () => {
    const { port, uploads } = await broker();
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    c.publish('$hw/events/upload/big', Buffer.alloc(MAX_PAYLOAD_BYTES + 1, 65), { qos: 1 });
    await closed; // MQTT 3.1.1 has no negative PUBACK: the broker drops that client
    expect(uploads()).toEqual([]);
    const again = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
    await again.publishAsync('$hw/events/upload/small', 'ok', { qos: 1 });
    expect(uploads()).toHaveLength(1);
    await again.endAsync();
  });

  it('will not listen on anything but loopback', async () => {
    const bus = createBus(log);
    const eb = createEventBus({ config: { ...defaults(edgeCoreSchema).modules.eventBus, mqttServerInternal: 'tcp://0.0.0.0:1884' }, nodeName: 'unit', outbox: () => Promise.resolve() });
    await expect(eb.start({ bus, log, clock: systemClock })).rejects.toThrow(/must be a loopback address, not 0.0.0.0/);
  });
});
