/**
 * A small MQTT 3.1.1 client for the external broker (modes 1 and 2), on mqtt-packet, the codec the
 * embedded broker already brings. mqtt.js would add ~200 KiB to a bundle that must stay under
 * 1.5 MiB, and its offline queue and in-flight store are unbounded; this client keeps what
 * edgecore needs, bounded:
 * - a persistent session (a fixed client id, clean session off), so the broker keeps the QoS 1
 *   messages of edgecore's subscriptions while it restarts, and sends again those it delivered but
 *   never saw acknowledged; a PUBACK goes out only when the caller has taken the message;
 * - QoS 0/1 publishes; QoS 1 ones wait (at most MAX_INFLIGHT, also while the broker is away) until
 *   the broker acknowledges them, and are sent again, marked dup, after a reconnect;
 * - TLS (a CA, and a client certificate and key) and a user name and password, as KubeEdge's
 *   `eventBusTLS` and `mqttUsername`/`mqttPassword`; the password is never logged;
 * - a deadline for the broker's CONNACK, keepalive, and reconnection with backoff.
 */
import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import mqttPacket, { type IConnectPacket, type IPublishPacket, type Packet } from 'mqtt-packet';
import type { Logger } from '../../core/log.js';
import { createBackoff } from '../../core/backoff.js';

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
  /** a fixed id: the broker keeps its session (subscriptions, queued messages) under it */
  clientId: string;
  /** TLS, with the CA that signed the broker's certificate and, for mutual TLS, a client certificate */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  username?: string;
  password?: string;
  /** how long the broker has to answer CONNECT (ms) before the connection is given up and tried again */
  connackTimeoutMs?: number;
  /** topics subscribed at QoS 1 on every connect (more can be added and removed later) */
  topics: readonly string[];
  log: Logger;
  onMessage(msg: InboundMessage): void;
}

export interface MqttClient {
  /** false when the message was dropped (QoS 0 while the broker is away, or too many QoS 1 waiting) */
  publish(topic: string, payload: string | Buffer, qos: 0 | 1, retain?: boolean): boolean;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  close(): Promise<void>;
}

const KEEPALIVE_SEC = 30;
/** QoS 1 publishes the broker has not acknowledged yet; beyond it, publishes are dropped */
export const MAX_INFLIGHT = 1000;

const CONNACK_REASONS: Record<number, string> = {
  1: 'it does not take MQTT 3.1.1',
  2: 'it refused the client id',
  3: 'the server is unavailable',
  4: 'bad user name or password (modules.eventBus.mqttUsername, mqttPassword)',
  // mosquitto answers a wrong password with this one
  5: 'not authorized: check modules.eventBus.mqttUsername and mqttPassword, and the broker\'s ACL',
};

export function createMqttClient(opts: MqttClientOptions): MqttClient {
  const where = `${opts.tls ? 'tls' : 'tcp'}://${opts.host}:${opts.port}`;
  const keepalive = KEEPALIVE_SEC;
  const backoff = createBackoff(1000, 30_000);
  let socket: Socket | undefined;
  let up = false;
  let closed = false;
  let nextId = 0;
  let dropped = 0;
  let retry: NodeJS.Timeout | undefined;
  let lastSeen = Date.now();
  /** QoS 1 publishes not yet acknowledged, oldest first, and whether they went out once: sent again after a reconnect */
  const inflight = new Map<number, { packet: IPublishPacket; sent: boolean }>();
  const topics = new Set(opts.topics);

  const id = (): number => {
    do nextId = nextId >= 65535 ? 1 : nextId + 1;
    while (inflight.has(nextId));
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

  const onConnack = (p: Packet & { cmd: 'connack' }): void => {
    if (p.returnCode !== 0) {
      opts.log.warn(`external MQTT broker ${where} refused the connection: ${CONNACK_REASONS[p.returnCode ?? 0] ?? `return code ${p.returnCode ?? '?'}`}`);
      socket?.destroy();
      return;
    }
    up = true;
    backoff.reset();
    opts.log.info(`connected to the external MQTT broker ${where} as ${opts.clientId}${p.sessionPresent ? ' (its session was kept)' : ''}`);
    if (topics.size) write({ cmd: 'subscribe', messageId: id(), subscriptions: [...topics].map((topic) => ({ topic, qos: 1 as const })) });
    // MQTT 3.1.1, 4.4: what was not acknowledged goes again, in order, marked as a duplicate
    for (const f of inflight.values()) {
      write(f.sent ? { ...f.packet, dup: true } : f.packet);
      f.sent = true;
    }
  };

  const onPacket = (p: Packet): void => {
    lastSeen = Date.now();
    switch (p.cmd) {
      case 'connack':
        return onConnack(p);
      case 'publish': {
        const pub = p as IPublishPacket;
        const payload = Buffer.isBuffer(pub.payload) ? pub.payload : Buffer.from(pub.payload);
        const s = socket;
        // unacknowledged on a connection that is gone, it comes again on the next (a persistent session)
        const ack = (): void => {
          if (pub.qos === 1 && pub.messageId !== undefined && s === socket && up) write({ cmd: 'puback', messageId: pub.messageId });
        };
        try {
          opts.onMessage({ topic: pub.topic, payload, qos: pub.qos, ack });
        } catch (err) {
          opts.log.warn(`message on ${pub.topic} not taken: ${err instanceof Error ? err.message : String(err)}`);
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
    const tls = opts.tls;
    const s = tls
      ? tlsConnect({ host: opts.host, port: opts.port, ca: tls.ca, cert: tls.cert, key: tls.key, ...(isIP(opts.host) ? {} : { servername: opts.host }) })
      : tcpConnect({ host: opts.host, port: opts.port });
    socket = s;
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', onPacket);
    parser.on('error', (err: Error) => {
      opts.log.warn(`bad packet from the external MQTT broker: ${err.message}`);
      s.destroy();
    });
    s.setNoDelay(true);
    let connack: NodeJS.Timeout | undefined;
    s.once(tls ? 'secureConnect' : 'connect', () => {
      lastSeen = Date.now();
      const hello: IConnectPacket = { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: false, clientId: opts.clientId, keepalive };
      if (opts.username) hello.username = opts.username;
      if (opts.password) hello.password = Buffer.from(opts.password);
      write(hello);
      const waitMs = opts.connackTimeoutMs ?? 10_000;
      connack = setTimeout(() => {
        if (up || socket !== s) return;
        opts.log.warn(`external MQTT broker ${where} sent no CONNACK within ${waitMs / 1000} s; trying again`);
        s.destroy();
      }, waitMs);
      connack.unref?.();
    });
    s.on('data', (d: Buffer) => parser.parse(d));
    s.on('error', (err) => opts.log.debug(`external MQTT broker ${where}: ${err.message}`));
    s.on('close', () => {
      clearTimeout(connack);
      if (socket !== s) return;
      if (up) opts.log.warn(`lost the external MQTT broker ${where}; reconnecting`);
      up = false;
      socket = undefined;
      scheduleReconnect();
    });
  };

  const ping = setInterval(() => {
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

  const drop = (topic: string): false => {
    dropped++;
    if (dropped === 1 || dropped % 1000 === 0) opts.log.warn(`external MQTT broker ${where} unavailable or slow: dropped a message to ${topic} (${dropped} so far)`);
    return false;
  };

  return {
    publish(topic, payload, qos, retain = false) {
      if (qos === 0) {
        if (!up || !socket || socket.writableLength > 1024 * 1024) return drop(topic);
        write({ cmd: 'publish', topic, payload, qos: 0, retain, dup: false });
        return true;
      }
      if (inflight.size >= MAX_INFLIGHT) return drop(topic);
      const packet: IPublishPacket = { cmd: 'publish', topic, payload, qos: 1, retain, dup: false, messageId: id() };
      // while the broker is away it waits, and goes at the next CONNACK
      const sent = up && socket !== undefined;
      inflight.set(packet.messageId as number, { packet, sent });
      if (sent) write(packet);
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
