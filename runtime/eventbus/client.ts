/**
 * A small MQTT 3.1.1 client for the external broker (modes 1 and 2), on mqtt-packet, the codec the
 * embedded broker already brings. mqtt.js would add ~200 KiB to a bundle that must stay under
 * 1.5 MiB, and its offline queue and in-flight store are unbounded; this client keeps what
 * edgecore needs: subscribe, QoS 0/1 publish, a PUBACK the caller sends when it has taken the
 * message, keepalive, and reconnection with backoff. While disconnected a publish is dropped and
 * counted, as a QoS 0 message would be.
 */
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';
import type { Logger } from '../core/log.js';
import { errorText } from '../core/errors.js';
import { createBackoff } from '../core/backoff.js';

export interface InboundMessage {
  topic: string;
  payload: Buffer;
  qos: number;
  /** tells the broker the message is taken (a PUBACK for QoS 1; nothing for QoS 0) */
  ack(): void;
}

export interface MqttClientOptions {
  host: string;
  port: number;
  /** topics subscribed at QoS 1 on every connect (more can be added and removed later) */
  topics: readonly string[];
  log: Logger;
  onMessage(msg: InboundMessage): void;
}

export interface MqttClient {
  publish(topic: string, payload: string | Buffer, qos: 0 | 1): boolean;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  close(): Promise<void>;
}

const KEEPALIVE_SEC = 30;
/** in-flight QoS 1 publishes not yet acknowledged by the broker; beyond it, publishes are dropped */
const MAX_INFLIGHT = 1000;

export function createMqttClient(opts: MqttClientOptions): MqttClient {
  const clientId = `edgecore-${randomBytes(4).toString('hex')}`;
  const keepalive = KEEPALIVE_SEC;
  const backoff = createBackoff(1000, 30_000);
  let socket: Socket | undefined;
  let up = false;
  let closed = false;
  let nextId = 1;
  let dropped = 0;
  let retry: NodeJS.Timeout | undefined;
  let ping: NodeJS.Timeout | undefined;
  let lastSeen = Date.now();
  const inflight = new Set<number>();
  const topics = new Set(opts.topics);

  const id = (): number => {
    nextId = nextId >= 65535 ? 1 : nextId + 1;
    return nextId;
  };
  const write = (p: Packet): void => {
    socket?.write(mqttPacket.generate(p));
  };

  const scheduleReconnect = (): void => {
    if (closed || retry) return;
    const delay = backoff.next();
    retry = setTimeout(() => {
      retry = undefined;
      open();
    }, delay);
    retry.unref?.();
  };

  const onPacket = (p: Packet): void => {
    lastSeen = Date.now();
    switch (p.cmd) {
      case 'connack':
        if (p.returnCode !== 0) {
          opts.log.warn(`external MQTT broker ${opts.host}:${opts.port} refused the connection (return code ${p.returnCode ?? '?'})`);
          socket?.destroy();
          return;
        }
        up = true;
        backoff.reset();
        inflight.clear();
        opts.log.info(`connected to the external MQTT broker ${opts.host}:${opts.port}`);
        if (topics.size) write({ cmd: 'subscribe', messageId: id(), subscriptions: [...topics].map((topic) => ({ topic, qos: 1 as const })) });
        return;
      case 'publish': {
        const pub = p as IPublishPacket;
        const payload = Buffer.isBuffer(pub.payload) ? pub.payload : Buffer.from(pub.payload);
        const s = socket;
        const ack = (): void => {
          if (pub.qos === 1 && pub.messageId !== undefined && s === socket && up) write({ cmd: 'puback', messageId: pub.messageId });
        };
        try {
          opts.onMessage({ topic: pub.topic, payload, qos: pub.qos, ack });
        } catch (err) {
          opts.log.warn(`message on ${pub.topic} not taken: ${errorText(err)}`);
        }
        return;
      }
      case 'puback':
        if (p.messageId !== undefined) inflight.delete(p.messageId);
        return;
      default:
        return; // suback, pingresp: lastSeen is enough
    }
  };

  const open = (): void => {
    if (closed) return;
    const s = connect({ host: opts.host, port: opts.port });
    socket = s;
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', onPacket);
    parser.on('error', (err: Error) => {
      opts.log.warn(`bad packet from the external MQTT broker: ${err.message}`);
      s.destroy();
    });
    s.setNoDelay(true);
    s.on('connect', () => {
      lastSeen = Date.now();
      write({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive });
    });
    s.on('data', (d: Buffer) => parser.parse(d));
    s.on('error', (err) => opts.log.debug(`external MQTT broker ${opts.host}:${opts.port}: ${err.message}`));
    s.on('close', () => {
      if (socket !== s) return;
      if (up) opts.log.warn(`lost the external MQTT broker ${opts.host}:${opts.port}; reconnecting`);
      up = false;
      socket = undefined;
      scheduleReconnect();
    });
  };

  ping = setInterval(() => {
    if (!up || !socket) return;
    if (Date.now() - lastSeen > keepalive * 1500) {
      opts.log.warn(`external MQTT broker silent for ${keepalive * 1.5} s; reconnecting`);
      socket.destroy();
      return;
    }
    write({ cmd: 'pingreq' });
  }, (keepalive * 1000) / 2);
  ping.unref?.();
  open();

  return {
    publish(topic, payload, qos) {
      if (!up || !socket || (qos === 1 && inflight.size >= MAX_INFLIGHT) || socket.writableLength > 1024 * 1024) {
        dropped++;
        if (dropped === 1 || dropped % 1000 === 0) opts.log.warn(`external MQTT broker unavailable or slow: dropped a message to ${topic} (${dropped} so far)`);
        return false;
      }
      const p: IPublishPacket = { cmd: 'publish', topic, payload, qos, retain: false, dup: false };
      if (qos === 1) {
        p.messageId = id();
        inflight.add(p.messageId);
      }
      write(p);
      return true;
    },
    subscribe(topic) {
      if (topics.has(topic)) return;
      topics.add(topic);
      if (up) write({ cmd: 'subscribe', messageId: id(), subscriptions: [{ topic, qos: 1 }] });
    },
    unsubscribe(topic) {
      if (!topics.delete(topic)) return;
      if (up) write({ cmd: 'unsubscribe', messageId: id(), unsubscriptions: [topic] });
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      clearInterval(ping);
      const s = socket;
      if (!s) return;
      if (up) write({ cmd: 'disconnect' });
      await new Promise<void>((resolve) => {
        s.once('close', () => resolve());
        s.end();
        setTimeout(() => s.destroy(), 500).unref();
      });
    },
  };
}
