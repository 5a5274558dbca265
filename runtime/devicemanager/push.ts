/**
 * pushMethod: a property's readings sent, beside its twin, to the user's own broker or HTTP
 * endpoint, as KubeEdge's mapper-framework does (`mqtt`: address, topic, qos, retained; `http`:
 * hostName, port, requestPath, timeout). Each reading is one JSON object:
 * `{deviceName, namespace, propertyName, value, type, timestamp}` (ms).
 *
 * Pushing never waits on the device: readings go into a small queue per destination, sent one
 * at a time; one that fails is tried again with back-off, and while a destination is away only its
 * newest PUSH_QUEUE readings are kept. MQTT destinations share one client per broker (our bounded
 * client: QoS 1 ones wait for their PUBACK across reconnects). Every outcome is counted for /metrics.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Logger } from '../../core/log.js';
import { errorText } from '../../core/errors.js';
import { createBackoff, type Backoff } from '../../core/backoff.js';
import { counter, type Family } from '../../core/metrics.js';
import { createMqttClient, type MqttClient, type MqttClientOptions } from '../eventbus/client.js';

export interface PushMethodSpec {
  mqtt?: { address?: string; topic?: string; qos?: number; retained?: boolean };
  http?: { hostName?: string; port?: number; requestPath?: string; timeout?: number };
}

export interface Reading {
  deviceName: string;
  namespace: string;
  propertyName: string;
  value: string;
  type: string;
  timestamp: number;
}

/** readings kept per destination while it cannot be reached: the newest ones */
export const PUSH_QUEUE = 100;
const HTTP_TIMEOUT_MS = 5_000;

type Outcome = 'ok' | 'failed' | 'dropped';

interface Destination {
  method: 'mqtt' | 'http';
  key: string;
  send(r: Reading): Promise<void>;
}

/** one destination's queue: sent in order, one at a time, the failed one again after a back-off */
class Lane {
  readonly queue: Reading[] = [];
  busy = false;
  readonly backoff: Backoff = createBackoff(1000, 30_000);
  constructor(readonly dest: Destination) {}
}

export interface PusherOptions {
  log: Logger;
  /** the client id prefix for MQTT destinations (edgecore-<node>) */
  clientId: string;
  /** TLS for brokers with a TLS scheme (the EventBus's eventBusTLS files when enabled) */
  mqttTls?: () => MqttClientOptions['tls'];
}

export class Pusher {
  private readonly lanes = new Map<string, Lane>();
  private readonly brokers = new Map<string, MqttClient>();
  private readonly counts = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** when each device's property (`<ns>/<name>/<property>`) was last pushed */
  private readonly pushedAt = new Map<string, number>();
  private closed = false;

  constructor(private readonly opts: PusherOptions) {}

  private count(r: Reading, method: string, outcome: Outcome): void {
    const key = JSON.stringify([`${r.namespace}/${r.deviceName}`, r.propertyName, method, outcome]);
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  /** a value read of device `id` (`<ns>/<name>`): pushed by `spec`, at most once per `everyMs` */
  offer(id: string, property: string, value: string, type: string, spec: PushMethodSpec, everyMs: number): void {
    const key = `${id}/${property}`;
    const now = Date.now();
    if (now - (this.pushedAt.get(key) ?? 0) < everyMs) return;
    this.pushedAt.set(key, now);
    const [namespace, deviceName] = id.split('/') as [string, string];
    this.push(spec, { deviceName, namespace, propertyName: property, value, type, timestamp: now });
  }

  /** a device that is gone: its pacing is forgotten */
  forget(id: string): void {
    for (const key of this.pushedAt.keys()) if (key.startsWith(`${id}/`)) this.pushedAt.delete(key);
  }

  /** queues a reading for each destination of `spec`; returns at once */
  push(spec: PushMethodSpec, r: Reading): void {
    for (const dest of this.destinations(spec)) {
      let lane = this.lanes.get(dest.key);
      if (!lane) this.lanes.set(dest.key, (lane = new Lane(dest)));
      if (lane.queue.length >= PUSH_QUEUE) {
        const old = lane.queue.shift() as Reading;
        this.count(old, dest.method, 'dropped');
      }
      lane.queue.push(r);
      this.drain(lane);
    }
  }

  private drain(lane: Lane): void {
    const r = lane.queue[0];
    if (lane.busy || !r || this.closed) return;
    lane.busy = true;
    lane.dest.send(r).then(
      () => {
        lane.queue.shift();
        lane.busy = false;
        lane.backoff.reset();
        this.count(r, lane.dest.method, 'ok');
        this.drain(lane);
      },
      (err: unknown) => {
        this.count(r, lane.dest.method, 'failed');
        const delay = lane.backoff.next();
        this.opts.log.debug(`push of ${r.namespace}/${r.deviceName} ${r.propertyName} to ${lane.dest.key} failed (${errorText(err)}); again in ${delay} ms`);
        const t = setTimeout(() => {
          this.timers.delete(t);
          lane.busy = false;
          this.drain(lane);
        }, delay);
        this.timers.add(t);
      },
    );
  }

  private destinations(spec: PushMethodSpec): Destination[] {
    const out: Destination[] = [];
    const h = spec.http;
    if (h?.hostName) {
      const base = /^https?:\/\//.test(h.hostName) ? h.hostName : `http://${h.hostName}`;
      const url = new URL(`${base.replace(/\/$/, '')}${h.port ? `:${h.port}` : ''}${h.requestPath ?? '/'}`);
      const timeout = h.timeout && h.timeout > 0 ? h.timeout : HTTP_TIMEOUT_MS;
      out.push({ method: 'http', key: `http ${url.href}`, send: (r) => postJson(url, r, timeout) });
    }
    const m = spec.mqtt;
    if (m?.address && m.topic) {
      const client = this.broker(m.address);
      const qos = m.qos === 1 || m.qos === 2 ? 1 : 0; // QoS 2 is sent as 1: our client speaks 0 and 1
      const topic = m.topic;
      out.push({ method: 'mqtt', key: `mqtt ${m.address} ${topic}`, send: async (r) => (client.publish(topic, JSON.stringify(r), qos, m.retained ?? false) ? undefined : Promise.reject(new Error(`the broker ${m.address} is not connected`))) });
    }
    return out;
  }

  /** one client per broker address, made on first use; `mqtt://user:password@host:port` gives credentials */
  private broker(address: string): MqttClient {
    const have = this.brokers.get(address);
    if (have) return have;
    const u = new URL(address.replace(/^tcp:/, 'mqtt:'));
    const tls = /^(ssl|tls|mqtts|tcps):$/.test(u.protocol);
    const client = createMqttClient({
      host: u.hostname.replace(/^\[|\]$/g, ''),
      port: Number(u.port) || (tls ? 8883 : 1883),
      clientId: `${this.opts.clientId}-push-${this.brokers.size}`,
      ...(tls ? { tls: this.opts.mqttTls?.() ?? {} } : {}),
      ...(u.username ? { username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) } : {}),
      topics: [],
      log: this.opts.log.child('push-mqtt'),
      onMessage: () => undefined,
    });
    this.brokers.set(address, client);
    return client;
  }

  metrics(): Family[] {
    const samples = [...this.counts].map(([key, value]) => {
      const [device, property, method, outcome] = JSON.parse(key) as string[];
      return { labels: { device: device as string, property: property as string, method: method as string, outcome: outcome as string }, value };
    });
    return [counter('edgecore_device_pushes_total', 'Readings pushed by a property\'s pushMethod, by device, property, method and outcome (ok, failed: tried again later, dropped: the destination stayed away while newer readings came).', samples)];
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    await Promise.all([...this.brokers.values()].map((b) => b.close()));
  }
}

function postJson(url: URL, body: unknown, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) }, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => ((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300 ? resolve() : reject(new Error(`HTTP ${res.statusCode ?? 0}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(data);
  });
}
