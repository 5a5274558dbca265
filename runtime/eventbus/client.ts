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
  return new ExternalClient(opts);
}

class ExternalClient implements MqttClient {
  private readonly where: string;
  private readonly backoff = createBackoff(1000, 30_000);
  private socket: Socket | undefined;
  private up = false;
  private closed = false;
  private nextId = 0;
  private dropped = 0;
  private retry: NodeJS.Timeout | undefined;
  private lastSeen = Date.now();
  /** QoS 1 publishes not yet acknowledged, oldest first, and whether they went out once: sent again after a reconnect */
  private readonly inflight = new Map<number, { packet: IPublishPacket; sent: boolean }>();
  private readonly topics: Set<string>;
  private readonly ping: NodeJS.Timeout;

  constructor(private readonly opts: MqttClientOptions) {
    this.where = `${opts.tls ? 'tls' : 'tcp'}://${opts.host}:${opts.port}`;
    this.topics = new Set(opts.topics);
    this.ping = setInterval(() => this.keepalive(), (KEEPALIVE_SEC * 1000) / 2);
    this.ping.unref?.();
    this.open();
  }

  private id(): number {
    do this.nextId = this.nextId >= 65535 ? 1 : this.nextId + 1;
    while (this.inflight.has(this.nextId));
    return this.nextId;
  }

  private write(p: Packet): void {
    this.socket?.write(mqttPacket.generate(p));
  }

  private keepalive(): void {
    if (!this.up || !this.socket) return;
    if (Date.now() - this.lastSeen > KEEPALIVE_SEC * 1500) {
      this.opts.log.warn(`external MQTT broker silent for ${KEEPALIVE_SEC * 1.5} s; reconnecting`);
      this.socket.destroy();
      return;
    }
    this.write({ cmd: 'pingreq' });
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.open();
    }, this.backoff.next());
    this.retry.unref?.();
  }

  private onConnack(p: Packet & { cmd: 'connack' }): void {
    if (p.returnCode !== 0) {
      this.opts.log.warn(`external MQTT broker ${this.where} refused the connection: ${CONNACK_REASONS[p.returnCode ?? 0] ?? `return code ${p.returnCode ?? '?'}`}`);
      this.socket?.destroy();
      return;
    }
    this.up = true;
    this.backoff.reset();
    this.opts.log.info(`connected to the external MQTT broker ${this.where} as ${this.opts.clientId}${p.sessionPresent ? ' (its session was kept)' : ''}`);
    if (this.topics.size) this.write({ cmd: 'subscribe', messageId: this.id(), subscriptions: [...this.topics].map((topic) => ({ topic, qos: 1 as const })) });
    // MQTT 3.1.1, 4.4: what was not acknowledged goes again, in order, marked as a duplicate
    for (const f of this.inflight.values()) {
      this.write(f.sent ? { ...f.packet, dup: true } : f.packet);
      f.sent = true;
    }
  }

  private onPublish(pub: IPublishPacket): void {
    const payload = Buffer.isBuffer(pub.payload) ? pub.payload : Buffer.from(pub.payload);
    const s = this.socket;
    // unacknowledged on a connection that is gone, it comes again on the next (a persistent session)
    const ack = (): void => {
      if (pub.qos === 1 && pub.messageId !== undefined && s === this.socket && this.up) this.write({ cmd: 'puback', messageId: pub.messageId });
    };
    try {
      this.opts.onMessage({ topic: pub.topic, payload, qos: pub.qos, ack });
    } catch (err) {
      this.opts.log.warn(`message on ${pub.topic} not taken: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private onPacket(p: Packet): void {
    this.lastSeen = Date.now();
    if (p.cmd === 'connack') this.onConnack(p);
    else if (p.cmd === 'publish') this.onPublish(p as IPublishPacket);
    else if (p.cmd === 'puback' && p.messageId !== undefined) this.inflight.delete(p.messageId);
    // suback, pingresp: lastSeen is enough
  }

  /** CONNECT with a persistent session, and a CONNACK awaited for connackTimeoutMs */
  private hello(s: Socket): NodeJS.Timeout {
    this.lastSeen = Date.now();
    const hello: IConnectPacket = { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: false, clientId: this.opts.clientId, keepalive: KEEPALIVE_SEC };
    if (this.opts.username) hello.username = this.opts.username;
    if (this.opts.password) hello.password = Buffer.from(this.opts.password);
    this.write(hello);
    const waitMs = this.opts.connackTimeoutMs ?? 10_000;
    const connack = setTimeout(() => {
      if (this.up || this.socket !== s) return;
      this.opts.log.warn(`external MQTT broker ${this.where} sent no CONNACK within ${waitMs / 1000} s; trying again`);
      s.destroy();
    }, waitMs);
    connack.unref?.();
    return connack;
  }

  private open(): void {
    if (this.closed) return;
    const { tls, host, port } = this.opts;
    const s = tls ? tlsConnect({ host, port, ca: tls.ca, cert: tls.cert, key: tls.key, ...(isIP(host) ? {} : { servername: host }) }) : tcpConnect({ host, port });
    this.socket = s;
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p: Packet) => this.onPacket(p));
    parser.on('error', (err: Error) => {
      this.opts.log.warn(`bad packet from the external MQTT broker: ${err.message}`);
      s.destroy();
    });
    s.setNoDelay(true);
    let connack: NodeJS.Timeout | undefined;
    s.once(tls ? 'secureConnect' : 'connect', () => (connack = this.hello(s)));
    s.on('data', (d: Buffer) => parser.parse(d));
    s.on('error', (err) => this.opts.log.debug(`external MQTT broker ${this.where}: ${err.message}`));
    s.on('close', () => {
      clearTimeout(connack);
      if (this.socket !== s) return;
      if (this.up) this.opts.log.warn(`lost the external MQTT broker ${this.where}; reconnecting`);
      this.up = false;
      this.socket = undefined;
      this.scheduleReconnect();
    });
  }

  private drop(topic: string): false {
    this.dropped++;
    if (this.dropped === 1 || this.dropped % 1000 === 0) this.opts.log.warn(`external MQTT broker ${this.where} unavailable or slow: dropped a message to ${topic} (${this.dropped} so far)`);
    return false;
  }

  publish(topic: string, payload: string | Buffer, qos: 0 | 1, retain = false): boolean {
    if (qos === 0) {
      if (!this.up || !this.socket || this.socket.writableLength > 1024 * 1024) return this.drop(topic);
      this.write({ cmd: 'publish', topic, payload, qos: 0, retain, dup: false });
      return true;
    }
    if (this.inflight.size >= MAX_INFLIGHT) return this.drop(topic);
    const packet: IPublishPacket = { cmd: 'publish', topic, payload, qos: 1, retain, dup: false, messageId: this.id() };
    // while the broker is away it waits, and goes at the next CONNACK
    const sent = this.up && this.socket !== undefined;
    this.inflight.set(packet.messageId as number, { packet, sent });
    if (sent) this.write(packet);
    return true;
  }

  subscribe(topic: string): void {
    if (this.topics.has(topic)) return;
    this.topics.add(topic);
    if (this.up) this.write({ cmd: 'subscribe', messageId: this.id(), subscriptions: [{ topic, qos: 1 }] });
  }

  unsubscribe(topic: string): void {
    if (!this.topics.delete(topic)) return;
    if (this.up) this.write({ cmd: 'unsubscribe', messageId: this.id(), unsubscriptions: [topic] });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    clearInterval(this.ping);
    const s = this.socket;
    if (!s) return;
    if (this.up) this.write({ cmd: 'disconnect' });
    await new Promise<void>((resolve) => {
      s.once('close', () => resolve());
      s.end();
      setTimeout(() => s.destroy(), 500).unref();
    });
  }
}
