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
import { createMqttClient, type MqttClient } from './client.js';
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
  let ctx: ModuleContext | undefined;
  let broker: Aedes | undefined;
  let server: Server | undefined;
  let external: MqttClient | undefined;
  /** a second connection for publishing, when mqttPubClientID names one (KubeEdge keeps two) */
  let externalPub: MqttClient | undefined;
  let dropped = 0;
  const qos = Math.min(deps.config.mqttQOS, 1) as 0 | 1;
  /** rule → the topic apps publish on for it (`<namespace>/<topic>`), and how many rules use each topic */
  const ruleTopics = new Map<string, string>();
  const topicRules = new Map<string, number>();
  const goesUp = (topic: string): boolean => topic.startsWith(UPLOAD_PREFIX) || topicRules.has(topic);

  const onRule = (c: ObjectChange): void => {
    if (c.kind !== 'rule') return;
    const key = `${c.namespace}/${c.name}`;
    const before = ruleTopics.get(key);
    const res = (c.object as { spec?: { sourceResource?: { topic?: unknown } } } | undefined)?.spec?.sourceResource;
    const after = c.operation !== 'delete' && typeof res?.topic === 'string' ? `${c.namespace}/${res.topic}` : undefined;
    if (before === after) return;
    if (before !== undefined) {
      const n = (topicRules.get(before) ?? 1) - 1;
      if (n > 0) topicRules.set(before, n);
      else {
        topicRules.delete(before);
        if (deps.config.mqttMode === 2) external?.unsubscribe(before);
      }
      ruleTopics.delete(key);
    }
    if (after !== undefined) {
      ruleTopics.set(key, after);
      topicRules.set(after, (topicRules.get(after) ?? 0) + 1);
      if (deps.config.mqttMode === 2) external?.subscribe(after);
      ctx?.log.info(`rule ${key}: messages on ${after} go to the cloud`);
    }
  };

  /** MQTT messages: from apps (through the embedded broker or the external one), published by edgecore, and uploads taken into the outbox */
  const counted = { received: 0, published: 0, uploads: 0, refused: 0 };
  const upload = (topic: string, payload: Buffer): Promise<void> => {
    if (payload.length > MAX_PAYLOAD_BYTES) return Promise.reject(new Error(`upload of ${payload.length} bytes is over the ${MAX_PAYLOAD_BYTES}-byte limit`));
    return deps.outbox({ group: Group.user, operation: Operation.upload, resource: topic }, payload.toString('utf8'));
  };

  /** a twin, state or membership message for DeviceTwin (which checks its size); its inbox is bounded, so a flood is shed here */
  const toTwin = (topic: string, payload: Buffer): void => {
    try {
      ctx?.bus.send(DEVICETWIN, newMessage({ source: EVENTBUS, group: Group.twin, operation: BusOperation.message, resource: topic }, payload));
    } catch (err) {
      dropped++;
      if (dropped === 1 || dropped % 1000 === 0) ctx?.log.warn(`dropped a message on ${topic}: ${errorText(err)} (${dropped} so far)`);
    }
  };

  const publish = (topic: string, payload: Buffer, done: () => void = () => undefined): void => {
    counted.published++;
    if (broker) broker.publish({ cmd: 'publish', topic, payload, qos, retain: false, dup: false }, done);
    else done();
    (externalPub ?? external)?.publish(topic, payload, qos, deps.config.mqttRetain);
  };

  /** the router's rest → eventbus: `{payload}` (base64) published on the topic, then a reply */
  const fromRouter = (msg: Message): void => {
    const reply = (part: ReplyPart): void => {
      try {
        ctx?.bus.send(EDGEHUB, responseTo(msg, EVENTBUS, part));
      } catch {
        /* the link is gone: the router answers its caller itself */
      }
    };
    const payload = isObj(msg.content) && typeof msg.content.payload === 'string' ? msg.content.payload : undefined;
    const topic = msg.route.resource;
    if (payload === undefined || topic === '' || /[#+]/.test(topic)) return reply({ error: 'a publish needs a topic without wildcards and {payload} in base64', code: 400 });
    const bytes = Buffer.from(payload, 'base64');
    if (bytes.length > MAX_PAYLOAD_BYTES) return reply({ error: `payload of ${bytes.length} bytes is over the ${MAX_PAYLOAD_BYTES}-byte limit`, code: 413 });
    publish(topic, bytes, () => reply({ end: true }));
  };

  const startInternal = async (c: ModuleContext): Promise<void> => {
    const warnRefused = throttled((m) => c.log.warn(m));
    const { host, port } = parseMqttUrl(deps.config.mqttServerInternal);
    if (!isLoopback(host)) throw new Error(`modules.eventBus.mqttServerInternal must be a loopback address, not ${host}`);
    broker = await Aedes.createBroker({
      concurrency: 100,
      queueLimit: 1000,
      maxClientsIdLength: 128,
      authorizePublish: (_client, packet, done) => {
        counted.received++;
        if (!goesUp(packet.topic)) return done(null);
        upload(packet.topic, Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload)).then(
          () => {
            counted.uploads++;
            done(null);
          },
          (err: unknown) => {
            counted.refused++;
            warnRefused(`refused an upload to ${packet.topic}: ${errorText(err)}`);
            done(err as Error);
          },
        );
      },
    });
    const b = broker;
    const deliver = (packet: AedesPublishPacket, cb: () => void): void => {
      toTwin(packet.topic, Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload));
      cb();
    };
    await Promise.all(TWIN_TOPICS.map((t) => new Promise<void>((resolve) => b.subscribe(t, deliver, resolve))));
    server = createServer((socket) => b.handle(socket));
    await listen(server, port, host);
    c.log.info(`MQTT broker on tcp://${host}:${boundPort(server)}; ${UPLOAD_PREFIX}# goes to the cloud`);
  };

  const startExternal = (c: ModuleContext): void => {
    const warnRefused = throttled((m) => c.log.warn(m));
    const cfg = deps.config;
    const { host, port, tls } = parseMqttUrl(cfg.mqttServerExternal);
    const secure = tls || cfg.eventBusTLS.enable;
    const files = cfg.eventBusTLS;
    const credentials = {
      ...(secure
        ? {
            tls: cfg.eventBusTLS.enable
              ? { ca: readRequiredFile(files.tlsMqttCAFile, 'MQTT CA (modules.eventBus.eventBusTLS.tlsMqttCAFile)'), cert: readRequiredFile(files.tlsMqttCertFile, 'MQTT client certificate (eventBusTLS.tlsMqttCertFile)'), key: readRequiredFile(files.tlsMqttPrivateKeyFile, 'MQTT client key (eventBusTLS.tlsMqttPrivateKeyFile)') }
              : {},
          }
        : {}),
      ...(cfg.mqttUsername ? { username: cfg.mqttUsername } : {}),
      ...(cfg.mqttPassword ? { password: cfg.mqttPassword } : {}),
      connackTimeoutMs: cfg.mqttConnectTimeout * 1000,
    };
    // with both brokers, apps upload through the internal one (stored before its PUBACK)
    const topics = cfg.mqttMode === 2 ? [...TWIN_TOPICS, `${UPLOAD_PREFIX}#`, ...topicRules.keys()] : [...TWIN_TOPICS];
    const subId = cfg.mqttSubClientID || `edgecore-${deps.nodeName}`;
    external = createMqttClient({
      host,
      port,
      clientId: subId,
      ...credentials,
      topics,
      log: c.log.child('mqtt'),
      onMessage: (m) => {
        counted.received++;
        if (!goesUp(m.topic)) {
          toTwin(m.topic, m.payload);
          return m.ack();
        }
        // the broker's message is acknowledged once stored: unacknowledged, a QoS 1 one comes again
        upload(m.topic, m.payload).then(() => {
          counted.uploads++;
          m.ack();
        }, (err: unknown) => {
          counted.refused++;
          warnRefused(`refused an upload to ${m.topic}: ${errorText(err)}`);
        });
      },
    });
    if (cfg.mqttPubClientID && cfg.mqttPubClientID !== subId) {
      externalPub = createMqttClient({ host, port, clientId: cfg.mqttPubClientID, ...credentials, topics: [], log: c.log.child('mqtt-pub'), onMessage: () => undefined });
    }
    c.log.info(`using the external MQTT broker ${secure ? 'tls' : 'tcp'}://${host}:${port}${cfg.mqttUsername ? ` as user ${cfg.mqttUsername}` : ''}`);
  };

  return {
    name: EVENTBUS,
    group: Group.bus,
    port: () => boundPort(server),
    metrics: () => [
      ...(broker ? [gauge('edgecore_mqtt_clients', 'MQTT clients connected to the embedded broker.', broker.connectedClients)] : []),
      counter('edgecore_mqtt_messages_received_total', 'MQTT messages published by apps that edgecore took.', counted.received),
      counter('edgecore_mqtt_messages_published_total', 'MQTT messages edgecore published (twin answers, deltas, the router).', counted.published),
      counter('edgecore_mqtt_uploads_total', 'Uploads from apps taken into the outbox for the cloud (on disk, acknowledged to the app).', counted.uploads),
      counter('edgecore_mqtt_uploads_refused_total', 'Uploads refused (a payload that is not what the topic takes, or the outbox failing).', counted.refused),
    ],
    async start(c) {
      ctx = c;
      c.bus.register(EVENTBUS, Group.bus, (msg) => {
        if (msg.route.operation !== BusOperation.publish) return;
        if (msg.route.source === ROUTER) return fromRouter(msg);
        publish(msg.route.resource, Buffer.from(typeof msg.content === 'string' ? msg.content : JSON.stringify(msg.content)));
      }, { queueLimit: 10_000 });
      for (const ch of deps.rules?.replay() ?? []) onRule(ch);
      deps.rules?.subscribe(onRule);
      if (deps.config.mqttMode <= 1) await startInternal(c);
      if (deps.config.mqttMode >= 1) startExternal(c);
    },
    async stop() {
      ctx?.bus.unregister(EVENTBUS);
      await external?.close();
      await externalPub?.close();
      await closeServer(server);
      await new Promise<void>((resolve) => (broker ? broker.close(() => resolve()) : resolve()));
      server = undefined;
      broker = undefined;
      external = undefined;
      externalPub = undefined;
    },
  } satisfies EventBus;
}
