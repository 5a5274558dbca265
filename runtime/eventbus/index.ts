/**
 * EventBus: MQTT at the edge, as KubeEdge's. Mode 0 (the default) runs an embedded broker (aedes)
 * on `mqttServerInternal`, loopback only; mode 2 uses an external broker (`mqttServerExternal`,
 * mosquitto for example); mode 1 both. It subscribes KubeEdge's twin, state and membership topics
 * and hands them to DeviceTwin, publishes what DeviceTwin answers, and sends `$hw/events/upload/#`
 * to the cloud: a QoS 1 upload is acknowledged to its publisher only once it is in the outbox on disk.
 * So are the topics of the router's rules with an eventbus source on this node (`<namespace>/<topic>`,
 * learnt from the cloud), which the cloud's router passes on to a REST endpoint; and the router's
 * rest → eventbus messages are published here, with a reply once they are.
 */
import { throttled } from '../../core/log.js';
import { createServer, type Server } from 'node:net';
import { Aedes, type AedesPublishPacket } from 'aedes';
import type { Module, ModuleContext } from '../../core/module.js';
import { errorText } from '../../core/errors.js';
import { counter, gauge, type Family } from '../../core/metrics.js';
import { Group, Operation, newMessage, responseTo, type Message, type ReplyPart } from '../../core/message.js';
import { isObj } from '../../core/guards.js';
import type { ObjectSource, ObjectChange } from '../metamanager/source.js';
import { EDGEHUB } from '../edgehub/index.js';
import type { EdgeCoreConfig } from '../../api/config/edgecore.js';
import { boundPort, closeServer, isLoopback, listen } from '../../core/net.js';
import type { OutboxRoute } from '../metamanager/index.js';
import { createMqttClient, type MqttClient, type MqttClientOptions } from './client.js';
import { RuleTopics } from './rule-topics.js';
import { readRequiredFile } from '../../core/configfile.js';

export type EventBusConfig = EdgeCoreConfig['modules']['eventBus'];

export const EVENTBUS = 'eventbus';
export const DEVICETWIN = 'devicetwin';
export const UPLOAD_PREFIX = '$hw/events/upload/';
/** the largest payload taken (an MQTT message may be 256 MiB; a Pi cannot hold many) */
export const MAX_PAYLOAD_BYTES = 64 * 1024;

/** The topics DeviceTwin answers (CONTRACT.md section 7). */
export const TWIN_TOPICS = [
  '$hw/events/device/+/+/twin/update',
  '$hw/events/device/+/+/twin/get',
  '$hw/events/device/+/+/twin/cloud_updated',
  '$hw/events/device/+/+/state/update',
  '$hw/events/node/+/membership/get',
] as const;

/** Operations between EventBus and DeviceTwin. */
export const BusOperation = {
  /** EventBus → DeviceTwin: a message arrived on `route.resource` (the topic); content is the payload text */
  message: 'message',
  /** DeviceTwin → EventBus: publish content on `route.resource` */
  publish: 'publish',
} as const;

export interface EventBus extends Module {
  /** the embedded broker's port (0 when it does not run) */
  port(): number;
  metrics(): Family[];
}

/** `tcp://HOST:PORT` (or mqtt://), or with TLS `ssl://`, `tls://`, `mqtts://`, `tcps://`, as paho takes them in KubeEdge */
export function parseMqttUrl(url: string): { host: string; port: number; tls: boolean } {
  const m = /^(tcp|mqtt|ssl|tls|mqtts|tcps):\/\/([^:/]+|\[[^\]]+\]):(\d+)\/?$/.exec(url);
  if (!m) throw new Error(`${url} is not tcp://HOST:PORT (or ssl://HOST:PORT for TLS)`);
  return { host: (m[2] as string).replace(/^\[|\]$/g, ''), port: Number(m[3]), tls: !['tcp', 'mqtt'].includes(m[1] as string) };
}

export interface EventBusDeps {
  config: EventBusConfig;
  /** this node: the external broker's session is kept under edgecore-<node> unless the config names one */
  nodeName: string;
  /** MetaManager's outbox: an upload is acknowledged to its app once this resolves */
  outbox: (route: OutboxRoute, content: string) => Promise<void>;
  /** the router's rules whose source is this node's eventbus (none standalone) */
  rules?: ObjectSource;
}

/** the source of the router's messages to the edge's broker */
export const ROUTER = 'router';

export function createEventBus(deps: EventBusDeps): EventBus {
  return new EventBusModule(deps);
}

/** the external broker's TLS and credentials, from KubeEdge's keys */
/** the client certificate, key and CA of modules.eventBus.eventBusTLS, when it is enabled */
export function eventBusTlsFiles(cfg: EventBusConfig): MqttClientOptions['tls'] | undefined {
  const files = cfg.eventBusTLS;
  if (!files.enable) return undefined;
  return { ca: readRequiredFile(files.tlsMqttCAFile, 'MQTT CA (modules.eventBus.eventBusTLS.tlsMqttCAFile)'), cert: readRequiredFile(files.tlsMqttCertFile, 'MQTT client certificate (eventBusTLS.tlsMqttCertFile)'), key: readRequiredFile(files.tlsMqttPrivateKeyFile, 'MQTT client key (eventBusTLS.tlsMqttPrivateKeyFile)') };
}

function externalCredentials(cfg: EventBusConfig, tlsUrl: boolean): Pick<MqttClientOptions, 'tls' | 'username' | 'password' | 'connackTimeoutMs'> {
  const tls = tlsUrl || cfg.eventBusTLS.enable ? (eventBusTlsFiles(cfg) ?? {}) : undefined;
  return { ...(tls ? { tls } : {}), ...(cfg.mqttUsername ? { username: cfg.mqttUsername } : {}), ...(cfg.mqttPassword ? { password: cfg.mqttPassword } : {}), connackTimeoutMs: cfg.mqttConnectTimeout * 1000 };
}

class EventBusModule implements EventBus {
  readonly name = EVENTBUS;
  readonly group = Group.bus;
  private ctx: ModuleContext | undefined;
  private broker: Aedes | undefined;
  private server: Server | undefined;
  private external: MqttClient | undefined;
  /** a second connection for publishing, when mqttPubClientID names one (KubeEdge keeps two) */
  private externalPub: MqttClient | undefined;
  private dropped = 0;
  private readonly qos: 0 | 1;
  private readonly ruleTopics = new RuleTopics();
  /** MQTT messages: from apps (through the embedded broker or the external one), published by edgecore, and uploads taken into the outbox */
  private readonly counted = { received: 0, published: 0, uploads: 0, refused: 0 };
  private warnRefused = (m: string): void => this.ctx?.log.warn(m);

  constructor(private readonly deps: EventBusDeps) {
    this.qos = Math.min(deps.config.mqttQOS, 1) as 0 | 1;
  }

  port(): number {
    return boundPort(this.server);
  }

  metrics(): Family[] {
    const { counted, broker } = this;
    return [
      ...(broker ? [gauge('edgecore_mqtt_clients', 'MQTT clients connected to the embedded broker.', broker.connectedClients)] : []),
      counter('edgecore_mqtt_messages_received_total', 'MQTT messages published by apps that edgecore took.', counted.received),
      counter('edgecore_mqtt_messages_published_total', 'MQTT messages edgecore published (twin answers, deltas, the router).', counted.published),
      counter('edgecore_mqtt_uploads_total', 'Uploads from apps taken into the outbox for the cloud (on disk, acknowledged to the app).', counted.uploads),
      counter('edgecore_mqtt_uploads_refused_total', 'Uploads refused (a payload that is not what the topic takes, or the outbox failing).', counted.refused),
    ];
  }

  private goesUp(topic: string): boolean {
    return topic.startsWith(UPLOAD_PREFIX) || this.ruleTopics.has(topic);
  }

  private onRule(c: ObjectChange): void {
    const { gone, added } = this.ruleTopics.change(c);
    const external = this.deps.config.mqttMode === 2 ? this.external : undefined;
    if (gone !== undefined) external?.unsubscribe(gone);
    if (added === undefined) return;
    external?.subscribe(added);
    this.ctx?.log.info(`rule ${c.namespace}/${c.name}: messages on ${added} go to the cloud`);
  }

  /** an upload into the outbox; resolves once it is on disk, which is when its publisher is acknowledged */
  private upload(topic: string, payload: Buffer): Promise<void> {
    const taken =
      payload.length > MAX_PAYLOAD_BYTES
        ? Promise.reject(new Error(`upload of ${payload.length} bytes is over the ${MAX_PAYLOAD_BYTES}-byte limit`))
        : this.deps.outbox({ group: Group.user, operation: Operation.upload, resource: topic }, payload.toString('utf8'));
    return taken.then(
      () => void this.counted.uploads++,
      (err: unknown) => {
        this.counted.refused++;
        this.warnRefused(`refused an upload to ${topic}: ${errorText(err)}`);
        throw err;
      },
    );
  }

  /** a twin, state or membership message for DeviceTwin (which checks its size); its inbox is bounded, so a flood is shed here */
  private toTwin(topic: string, payload: Buffer): void {
    try {
      this.ctx?.bus.send(DEVICETWIN, newMessage({ source: EVENTBUS, group: Group.twin, operation: BusOperation.message, resource: topic }, payload));
    } catch (err) {
      this.dropped++;
      if (this.dropped === 1 || this.dropped % 1000 === 0) this.ctx?.log.warn(`dropped a message on ${topic}: ${errorText(err)} (${this.dropped} so far)`);
    }
  }

  private publish(topic: string, payload: Buffer, done: () => void = () => undefined): void {
    this.counted.published++;
    if (this.broker) this.broker.publish({ cmd: 'publish', topic, payload, qos: this.qos, retain: false, dup: false }, done);
    else done();
    (this.externalPub ?? this.external)?.publish(topic, payload, this.qos, this.deps.config.mqttRetain);
  }

  /** the router's rest → eventbus: `{payload}` (base64) published on the topic, then a reply */
  private fromRouter(msg: Message): void {
    const reply = (part: ReplyPart): void => {
      try {
        this.ctx?.bus.send(EDGEHUB, responseTo(msg, EVENTBUS, part));
      } catch {
        /* the link is gone: the router answers its caller itself */
      }
    };
    const payload = isObj(msg.content) && typeof msg.content.payload === 'string' ? msg.content.payload : undefined;
    const topic = msg.route.resource;
    if (payload === undefined || topic === '' || /[#+]/.test(topic)) return reply({ error: 'a publish needs a topic without wildcards and {payload} in base64', code: 400 });
    const bytes = Buffer.from(payload, 'base64');
    if (bytes.length > MAX_PAYLOAD_BYTES) return reply({ error: `payload of ${bytes.length} bytes is over the ${MAX_PAYLOAD_BYTES}-byte limit`, code: 413 });
    this.publish(topic, bytes, () => reply({ end: true }));
  }

  private async startInternal(c: ModuleContext): Promise<void> {
    const { host, port } = parseMqttUrl(this.deps.config.mqttServerInternal);
    if (!isLoopback(host)) throw new Error(`modules.eventBus.mqttServerInternal must be a loopback address, not ${host}`);
    const bytes = (p: { payload: Buffer | string }): Buffer => (Buffer.isBuffer(p.payload) ? p.payload : Buffer.from(p.payload));
    const b = (this.broker = await Aedes.createBroker({
      concurrency: 100,
      queueLimit: 1000,
      maxClientsIdLength: 128,
      authorizePublish: (_client, packet, done) => {
        this.counted.received++;
        if (!this.goesUp(packet.topic)) return done(null);
        this.upload(packet.topic, bytes(packet)).then(() => done(null), (err: unknown) => done(err as Error));
      },
    }));
    const deliver = (packet: AedesPublishPacket, cb: () => void): void => {
      this.toTwin(packet.topic, bytes(packet));
      cb();
    };
    await Promise.all(TWIN_TOPICS.map((t) => new Promise<void>((resolve) => b.subscribe(t, deliver, resolve))));
    this.server = createServer((socket) => {
      // small messages go out at once: with Nagle's algorithm a delta written right after a
      // document waited for the app's delayed ACK (~40 ms; bench twin, under uploads)
      socket.setNoDelay(true);
      b.handle(socket);
    });
    await listen(this.server, port, host);
    c.log.info(`MQTT broker on tcp://${host}:${boundPort(this.server)}; ${UPLOAD_PREFIX}# goes to the cloud`);
  }

  private startExternal(c: ModuleContext): void {
    const cfg = this.deps.config;
    const { host, port, tls } = parseMqttUrl(cfg.mqttServerExternal);
    const credentials = externalCredentials(cfg, tls);
    // with both brokers, apps upload through the internal one (stored before its PUBACK)
    const topics = cfg.mqttMode === 2 ? [...TWIN_TOPICS, `${UPLOAD_PREFIX}#`, ...this.ruleTopics.topics()] : [...TWIN_TOPICS];
    const subId = cfg.mqttSubClientID || `edgecore-${this.deps.nodeName}`;
    const onMessage = (m: { topic: string; payload: Buffer; ack(): void }): void => {
      this.counted.received++;
      if (!this.goesUp(m.topic)) {
        this.toTwin(m.topic, m.payload);
        return m.ack();
      }
      // the broker's message is acknowledged once stored: unacknowledged, a QoS 1 one comes again
      this.upload(m.topic, m.payload).then(() => m.ack(), () => undefined);
    };
    this.external = createMqttClient({ host, port, clientId: subId, ...credentials, topics, log: c.log.child('mqtt'), onMessage });
    if (cfg.mqttPubClientID && cfg.mqttPubClientID !== subId) {
      this.externalPub = createMqttClient({ host, port, clientId: cfg.mqttPubClientID, ...credentials, topics: [], log: c.log.child('mqtt-pub'), onMessage: () => undefined });
    }
    c.log.info(`using the external MQTT broker ${credentials.tls ? 'tls' : 'tcp'}://${host}:${port}${cfg.mqttUsername ? ` as user ${cfg.mqttUsername}` : ''}`);
  }

  async start(c: ModuleContext): Promise<void> {
    this.ctx = c;
    this.warnRefused = throttled((m) => c.log.warn(m));
    c.bus.register(EVENTBUS, Group.bus, (msg) => {
      if (msg.route.operation !== BusOperation.publish) return;
      if (msg.route.source === ROUTER) return this.fromRouter(msg);
      this.publish(msg.route.resource, Buffer.from(typeof msg.content === 'string' ? msg.content : JSON.stringify(msg.content)));
    }, { queueLimit: 10_000 });
    for (const ch of this.deps.rules?.replay() ?? []) this.onRule(ch);
    this.deps.rules?.subscribe((ch) => this.onRule(ch));
    if (this.deps.config.mqttMode <= 1) await this.startInternal(c);
    if (this.deps.config.mqttMode >= 1) this.startExternal(c);
  }

  async stop(): Promise<void> {
    this.ctx?.bus.unregister(EVENTBUS);
    await this.external?.close();
    await this.externalPub?.close();
    await closeServer(this.server);
    const broker = this.broker;
    await new Promise<void>((resolve) => (broker ? broker.close(() => resolve()) : resolve()));
    this.server = undefined;
    this.broker = undefined;
    this.external = undefined;
    this.externalPub = undefined;
  }
}
