/**
 * EventBus: MQTT at the edge, as KubeEdge's. Mode 0 (the default) runs an embedded broker (aedes) on
 * `mqttServerInternal`, loopback only. Messages published to `$hw/events/upload/#` go to the cloud:
 * a QoS 1 publish is acknowledged to the app only once it is in the outbox on disk.
 * The twin topics arrive with DeviceTwin; modes 1 and 2 (an external broker) with them.
 */
import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import type { Module, ModuleContext } from '../core/module.js';
import { errorText } from '../core/errors.js';
import { Group, Operation, newMessage } from '../core/message.js';
import type { EdgeCoreConfig } from '../config.js';
import { boundPort, closeServer, isLoopback, listen } from '../core/net.js';
import { METAMANAGER } from '../metamanager/index.js';

export type EventBusConfig = EdgeCoreConfig['modules']['eventBus'];

export const UPLOAD_PREFIX = '$hw/events/upload/';
/** the largest upload payload taken (an MQTT message may be 256 MiB; a Pi cannot hold many) */
export const MAX_UPLOAD_BYTES = 64 * 1024;

export interface EventBus extends Module {
  port(): number;
}

export function parseMqttUrl(url: string): { host: string; port: number } {
  const m = /^(?:tcp|mqtt):\/\/([^:/]+|\[[^\]]+\]):(\d+)\/?$/.exec(url);
  if (!m) throw new Error(`${url} is not tcp://HOST:PORT`);
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

export function createEventBus(deps: { config: EventBusConfig }): EventBus {
  let ctx: ModuleContext | undefined;
  let broker: Aedes | undefined;
  let server: Server | undefined;

  const upload = (topic: string, payload: Buffer): Promise<void> => {
    if (payload.length > MAX_UPLOAD_BYTES) return Promise.reject(new Error(`upload of ${payload.length} bytes is over the ${MAX_UPLOAD_BYTES}-byte limit`));
    const msg = newMessage({ source: 'eventbus', group: Group.user, operation: Operation.upload, resource: topic }, payload.toString('utf8'));
    return (ctx as ModuleContext).bus.sendSync(METAMANAGER, msg, 10_000).then((reply) => {
      if (reply.content !== 'OK') throw new Error(`not stored: ${JSON.stringify(reply.content)}`);
    });
  };

  return {
    name: 'eventbus',
    group: Group.bus,
    port: () => boundPort(server),
    async start(c) {
      ctx = c;
      const cfg = deps.config;
      if (cfg.mqttMode === 2) throw new Error('modules.eventBus.mqttMode 2 (an external broker only) is not in this build yet; use 0');
      if (cfg.mqttMode === 1) c.log.warn('modules.eventBus.mqttMode 1: the external broker is not in this build yet; running the internal one only');
      const { host, port } = parseMqttUrl(cfg.mqttServerInternal);
      if (!isLoopback(host)) throw new Error(`modules.eventBus.mqttServerInternal must be a loopback address, not ${host}`);
      broker = await Aedes.createBroker({
        concurrency: 100,
        queueLimit: 1000,
        maxClientsIdLength: 128,
        authorizePublish: (_client, packet, done) => {
          if (!packet.topic.startsWith(UPLOAD_PREFIX)) return done(null);
          upload(packet.topic, Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload)).then(
            () => done(null),
            (err: unknown) => {
              c.log.warn(`refused an upload to ${packet.topic}: ${errorText(err)}`);
              done(err as Error);
            },
          );
        },
      });
      const b = broker;
      server = createServer((socket) => b.handle(socket));
      await listen(server, port, host);
      c.log.info(`MQTT broker on tcp://${host}:${this.port()}; ${UPLOAD_PREFIX}# goes to the cloud`);
    },
    async stop() {
      await closeServer(server);
      await new Promise<void>((resolve) => (broker ? broker.close(() => resolve()) : resolve()));
      server = undefined;
      broker = undefined;
    },
  } satisfies EventBus;
}
