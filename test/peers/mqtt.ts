/** MQTT apps for tests: mqtt.js (an independent client) and mosquitto (a real external broker). */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { freePort } from './proxy.js';

export interface App {
  client: MqttClient;
  /** every message received so far, in order */
  received: { topic: string; body: any }[];
  /** the first message on `topic` (received from now on, or already) that satisfies `pred` */
  next(topic: string, pred?: (body: any) => boolean, timeoutMs?: number): Promise<any>;
  publish(topic: string, body: unknown): Promise<void>;
  /** publishes `body` with a fresh event_id on `topic` and resolves with the answer on `<topic>/result` */
  request(topic: string, body?: Record<string, unknown>, timeoutMs?: number): Promise<any>;
  close(): Promise<void>;
}

/** an app on the broker at `target` (a loopback port, or a URL with `options`: TLS, credentials) */
export async function mqttApp(target: number | string, subscribe: string[] = ['$hw/events/#'], options: IClientOptions = {}): Promise<App> {
  const client = await mqtt.connectAsync(typeof target === 'number' ? `mqtt://127.0.0.1:${target}` : target, { reconnectPeriod: 0, protocolVersion: 4, ...options });
  const received: App['received'] = [];
  const waiters = new Set<() => void>();
  let requests = 0;
  client.on('message', (topic, payload) => {
    let body: unknown = payload.toString();
    try {
      body = JSON.parse(payload.toString());
    } catch {
      /* keep the text */
    }
    received.push({ topic, body });
    for (const w of waiters) w();
  });
  if (subscribe.length > 0) await client.subscribeAsync(subscribe, { qos: 1 });
  const app: App = {
    client,
    received,
    next(topic, pred = () => true, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const hit = received.find((m) => m.topic === topic && pred(m.body));
          if (hit) resolve(hit.body);
          return hit !== undefined;
        };
        if (check()) return;
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`no message on ${topic} within ${timeoutMs} ms; got: ${JSON.stringify(received.slice(-5))}`));
        }, timeoutMs);
        const w = (): void => {
          if (check()) {
            clearTimeout(timer);
            waiters.delete(w);
          }
        };
        waiters.add(w);
      });
    },
    async publish(topic, body) {
      await client.publishAsync(topic, typeof body === 'string' ? body : JSON.stringify(body), { qos: 1 });
    },
    async request(topic, body = {}, timeoutMs) {
      const eventId = `req-${++requests}`;
      await app.publish(topic, { event_id: eventId, ...body });
      return app.next(`${topic}/result`, (b) => b?.event_id === eventId, timeoutMs);
    },
    close: () => client.endAsync(),
  };
  return app;
}

/** A plain mosquitto on a free loopback port (no TLS: it is the edge's local broker). */
export async function startMosquitto(dir: string, port?: number): Promise<{ port: number; proc: ChildProcess; stop(): Promise<void> }> {
  port ??= await freePort();
  const conf = join(dir, `mosquitto-${port}.conf`);
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'user root'].join('\n') + '\n');
  const proc = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
  for (let i = 0; i < 50; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        r(true);
      }).on('error', () => r(false));
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    proc,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
    },
  };
}
