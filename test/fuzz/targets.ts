/**
 * Fuzz campaigns against the real programs, shared by the short runs in `npm test`
 * (test/e2e/fuzz.test.ts) and the long ones in `npm run bench -- fuzz`.
 *
 * The corpus is captured, not written: a relay between a real edgecore and a real cloudcore
 * records the frames of a real session (join, devices, twins, uploads, status) both ways. Then:
 * - CloudHub: a client with a valid node certificate sends mutations of the edge's frames;
 * - EdgeHub: the relay stops forwarding and sends the edge mutations of the cloud's frames;
 * - EventBus and DeviceTwin: mutated MQTT payloads on the twin and upload topics;
 * - the resource API: mutated manifests, POSTed, PUT and PATCHed.
 * Each returns what was sent and what the target counted (accepted and refused, from its own
 * /metrics), so a test can check that every input was either taken or refused and counted.
 */
import { readFileSync } from 'node:fs';
import { Agent, createServer, request, type Server } from 'node:https';
import mqtt from 'mqtt';
import WebSocket, { WebSocketServer } from 'ws';
import type { Cluster, Edge } from '../e2e/cluster.js';
import { sample } from '../peers/metrics.js';
import { mutateBytes, mutateText, mutateValue, rng, type Rng } from './mutate.js';
import { Encoder } from 'cbor-x';
import { cborCodec, decodeFrame } from '../../core/codec.js';

// the codec's settings (LIBRARIES.md), for values that are not messages any more
const cborEncoder = new Encoder({ useRecords: false, variableMapSize: true, tagUint8Array: false, pack: false });

export interface Frame {
  data: Buffer;
  binary: boolean;
}

const PROJECT = 'e632aba927ea4ac2b575ec1603d56f10';
const CAPTURE_LIMIT = 2000;

/** A WebSocket relay between an edge and the cloud that records what passes, and can stop passing it. */
export interface Relay {
  port: number;
  up: Frame[];
  down: Frame[];
  /** stop forwarding; the edge's socket is then the fuzzer's (edge frames are counted and dropped) */
  takeOver(): WebSocket;
  close(): Promise<void>;
}

export async function startRelay(c: Cluster, node: string): Promise<Relay> {
  const certs = c.pki.edge(node);
  const up: Frame[] = [];
  const down: Frame[] = [];
  let forwarding = true;
  let edgeSide: WebSocket | undefined;
  const cloudSides = new Set<WebSocket>();
  const server: Server = createServer({ ca: c.pki.ca.cert, cert: readFileSync(c.pki.serverCertFile), key: readFileSync(c.pki.serverKeyFile), requestCert: true, rejectUnauthorized: true });
  const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
  wss.on('connection', (edge) => {
    edgeSide = edge;
    const cloud = new WebSocket(`wss://127.0.0.1:${c.hubPort}/${PROJECT}/${node}/events`, { ca: c.pki.ca.cert, cert: certs.cert, key: certs.key, headers: { node_id: node, project_id: PROJECT }, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
    cloudSides.add(cloud);
    const pending: Frame[] = [];
    cloud.on('open', () => pending.splice(0).forEach((f) => cloud.send(f.data, { binary: f.binary })));
    edge.on('message', (data: Buffer, binary: boolean) => {
      if (!forwarding) return;
      if (up.length < CAPTURE_LIMIT) up.push({ data, binary });
      if (cloud.readyState === WebSocket.OPEN) cloud.send(data, { binary });
      else pending.push({ data, binary });
    });
    cloud.on('message', (data: Buffer, binary: boolean) => {
      if (!forwarding) return;
      if (down.length < CAPTURE_LIMIT) down.push({ data, binary });
      edge.send(data, { binary });
    });
    edge.on('close', () => cloud.close());
    cloud.on('close', () => forwarding && edge.close());
    cloud.on('error', () => edge.terminate());
    edge.on('error', () => cloud.terminate());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    up,
    down,
    takeOver() {
      if (!edgeSide) throw new Error('no edge connected to the relay');
      forwarding = false;
      for (const s of cloudSides) s.terminate();
      return edgeSide;
    },
    async close() {
      for (const s of cloudSides) s.terminate();
      for (const s of wss.clients) s.terminate();
      wss.close();
      await new Promise((r) => server.close(r));
    },
  };
}

/** one mutation of a captured frame: of its bytes or text, or of its decoded value re-encoded (which gets past the decoder to the handlers) */
export function mutateFrame(r: Rng, corpus: readonly Frame[]): Frame {
  const f = corpus[Math.floor(r() * corpus.length)] as Frame;
  const structural = r() < 0.5;
  if (f.binary) {
    if (structural) {
      try {
        return { data: Buffer.from(cborEncoder.encode(mutateValue(r, cborCodec.decode(f.data)))), binary: true };
      } catch {
        /* not decodable: mutate its bytes */
      }
    }
    return { data: mutateBytes(r, f.data, corpus.map((x) => x.data)), binary: true };
  }
  const text = f.data.toString('utf8');
  if (structural) {
    try {
      return { data: Buffer.from(JSON.stringify(mutateValue(r, JSON.parse(text)))), binary: false };
    } catch {
      /* fall through */
    }
  }
  return { data: Buffer.from(mutateText(r, text)), binary: false };
}

/** a frame the link's decoder refuses (the same check both ends make) */
function invalid(f: Frame): boolean {
  try {
    decodeFrame(f.data, f.binary);
    return false;
  } catch {
    return true;
  }
}

/** sends frames without letting the socket's buffer grow: waits for each batch to be written */
async function sendAll(ws: WebSocket, n: number, next: () => Frame): Promise<{ sent: number; invalid: number }> {
  let sent = 0;
  let bad = 0;
  while (sent < n && ws.readyState === WebSocket.OPEN) {
    const batch = Math.min(200, n - sent);
    await new Promise<void>((resolve) => {
      let left = batch;
      for (let i = 0; i < batch; i++) {
        const f = next();
        if (invalid(f)) bad++;
        ws.send(f.data, { binary: f.binary }, () => --left === 0 && resolve());
      }
    });
    sent += batch;
  }
  return { sent, invalid: bad };
}

async function until<T>(fn: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface FuzzResult {
  sent: number;
  /** of those, how many the codec itself refuses (decoded here): what the target must count as refused */
  invalid: number;
  /** taken by the target (decoded, handled) */
  accepted: number;
  /** refused and counted by the target */
  refused: number;
  /** connections the target closed during the run */
  closes: number;
  /** the target's resident memory before and after, MiB */
  rssBefore: number;
  rssAfter: number;
}

async function cloudMetrics(c: Cluster): Promise<string> {
  const r = await c.api.call('GET', '/metrics');
  if (r.status !== 200) throw new Error(`cloudcore /metrics: HTTP ${r.status}`);
  return r.body as string;
}

/** Mutated edge frames at CloudHub, from a client holding a valid certificate for `node`. */
export async function fuzzCloudHub(c: Cluster, corpus: readonly Frame[], n: number, seed: number, node = 'fuzz-raw'): Promise<FuzzResult> {
  const r = rng(seed);
  const before = await cloudMetrics(c);
  const counts = (t: string): { accepted: number; refused: number } => ({ accepted: sample(t, 'cloudcore_frames_total', { direction: 'in' }) ?? 0, refused: sample(t, 'cloudcore_bad_frames_total') ?? 0 });
  const b = counts(before);
  const certs = c.pki.edge(node);
  let sent = 0;
  let bad = 0;
  let closes = 0;
  while (sent < n) {
    const ws = new WebSocket(`wss://127.0.0.1:${c.hubPort}/${PROJECT}/${node}/events`, { ca: c.pki.ca.cert, cert: certs.cert, key: certs.key, headers: { node_id: node, project_id: PROJECT }, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
    ws.on('message', () => undefined); // answers and errors: read and dropped
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    const s = await sendAll(ws, n - sent, () => mutateFrame(r, corpus));
    sent += s.sent;
    bad += s.invalid;
    if (sent < n) {
      closes++;
      await closed;
    } else {
      // every frame read by the cloud before the socket goes
      const want = b.accepted + b.refused + sent;
      await until(async () => {
        const t = counts(await cloudMetrics(c));
        return t.accepted + t.refused >= want ? true : undefined;
      }, 120_000, 'cloudcore read every frame');
      ws.terminate();
    }
  }
  const after = await cloudMetrics(c);
  const a = counts(after);
  return { sent, invalid: bad, accepted: a.accepted - b.accepted, refused: a.refused - b.refused, closes, rssBefore: (sample(before, 'process_resident_memory_bytes') ?? 0) / 2 ** 20, rssAfter: (sample(after, 'process_resident_memory_bytes') ?? 0) / 2 ** 20 };
}

export async function edgeMetrics(edge: Edge): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${edge.metaPort}/metrics`);
  if (res.status !== 200) throw new Error(`edgecore /metrics: HTTP ${res.status}`);
  return res.text();
}

/** Mutated cloud frames at the edge's EdgeHub, on the link the relay has taken over. */
export async function fuzzEdgeHub(edge: Edge, relay: Relay, n: number, seed: number): Promise<FuzzResult & { refusedMessages: number }> {
  const r = rng(seed);
  const corpus = relay.down;
  const counts = (t: string) => ({ frames: sample(t, 'edgecore_link_frames_received_total') ?? 0, refused: sample(t, 'edgecore_link_bad_frames_total') ?? 0, refusedMessages: sample(t, 'edgecore_cloud_messages_refused_total') ?? 0 });
  const ws = relay.takeOver();
  // the count starts once the cloud's own frames have stopped: one on its way as the relay took over lands first
  await new Promise((res) => setTimeout(res, 500));
  const before = await edgeMetrics(edge);
  const b = counts(before);
  const { sent, invalid: bad } = await sendAll(ws, n, () => mutateFrame(r, corpus));
  const closes = sent < n ? 1 : 0;
  if (closes === 0) {
    await until(async () => (counts(await edgeMetrics(edge)).frames >= b.frames + sent ? true : undefined), 120_000, 'edgecore read every frame');
  }
  const after = await edgeMetrics(edge);
  const a = counts(after);
  return { sent, invalid: bad, accepted: a.frames - b.frames - (a.refused - b.refused), refused: a.refused - b.refused, refusedMessages: a.refusedMessages - b.refusedMessages, closes, rssBefore: (sample(before, 'process_resident_memory_bytes') ?? 0) / 2 ** 20, rssAfter: (sample(after, 'process_resident_memory_bytes') ?? 0) / 2 ** 20 };
}

/** real payloads of the twin and upload topics, for a device of the edge */
export function mqttCorpus(node: string, device: string): { topic: string; payload: string }[] {
  const d = `$hw/events/device/default/${device}`;
  const now = Date.now();
  return [
    { topic: `${d}/twin/update`, payload: JSON.stringify({ event_id: 'e1', timestamp: now, twin: { temperature: { actual: { value: '21.5', metadata: { timestamp: now } } } } }) },
    { topic: `${d}/twin/update`, payload: JSON.stringify({ event_id: 'e2', timestamp: now, twin: { setpoint: { expected: { value: '22' }, optional: true, metadata: { type: 'string' } } } }) },
    { topic: `${d}/twin/get`, payload: JSON.stringify({ event_id: 'e3', timestamp: now }) },
    { topic: `${d}/state/update`, payload: JSON.stringify({ event_id: 'e4', timestamp: now, state: 'online' }) },
    { topic: `$hw/events/node/${node}/membership/get`, payload: JSON.stringify({ event_id: 'e5', timestamp: now }) },
    { topic: `$hw/events/upload/${device}`, payload: JSON.stringify({ value: '21.5', unit: 'C', seq: 1 }) },
    { topic: `$hw/events/upload/line/3`, payload: 'plain text, not JSON' },
  ];
}

/** a QoS 1 publish: its PUBACK, or the broker closing the connection (how MQTT 3.1.1 refuses), or no answer in 10 s */
function publishOrClose(client: mqtt.MqttClient, topic: string, payload: string): Promise<'puback' | 'closed' | 'timeout'> {
  return new Promise((resolve) => {
    const done = (how: 'puback' | 'closed' | 'timeout'): void => {
      clearTimeout(timer);
      client.off('close', onClose);
      resolve(how);
    };
    const onClose = (): void => done('closed');
    const timer = setTimeout(() => done('timeout'), 10_000);
    client.once('close', onClose);
    client.publish(topic, payload, { qos: 1 }, (err) => done(err ? 'closed' : 'puback'));
  });
}

/** Mutated MQTT payloads at the edge's broker, QoS 1, one at a time (a refused upload closes the client's connection, as MQTT 3.1.1 refuses). */
export async function fuzzMqtt(edge: Edge, node: string, device: string, n: number, seed: number): Promise<FuzzResult & { uploads: number; uploadsTaken: number; uploadsRefused: number; hangs: number }> {
  const r = rng(seed);
  const corpus = mqttCorpus(node, device);
  const before = await edgeMetrics(edge);
  const counts = (t: string) => ({ received: sample(t, 'edgecore_mqtt_messages_received_total') ?? 0, uploads: sample(t, 'edgecore_mqtt_uploads_total') ?? 0, uploadsRefused: sample(t, 'edgecore_mqtt_uploads_refused_total') ?? 0, twinRefused: sample(t, 'edgecore_twin_requests_refused_total') ?? 0 });
  const b = counts(before);
  let client = await mqtt.connectAsync(`mqtt://127.0.0.1:${edge.mqttPort}`, { reconnectPeriod: 0, clientId: `fuzz-${seed}` });
  let closes = 0;
  let hangs = 0;
  let uploads = 0;
  for (let i = 0; i < n; i++) {
    const c = corpus[Math.floor(r() * corpus.length)] as { topic: string; payload: string };
    let payload: string;
    try {
      payload = r() < 0.5 ? JSON.stringify(mutateValue(r, JSON.parse(c.payload))) : mutateText(r, c.payload);
    } catch {
      payload = mutateText(r, c.payload);
    }
    if (c.topic.startsWith('$hw/events/upload/')) uploads++;
    const answered = await publishOrClose(client, c.topic, payload);
    if (answered === 'timeout') hangs++;
    if (answered !== 'puback') {
      closes++;
      await client.endAsync(true).catch(() => undefined);
      client = await mqtt.connectAsync(`mqtt://127.0.0.1:${edge.mqttPort}`, { reconnectPeriod: 0, clientId: `fuzz-${seed}` });
    }
  }
  await client.endAsync();
  const want = b.received + n;
  await until(async () => (counts(await edgeMetrics(edge)).received >= want ? true : undefined), 60_000, 'edgecore took every payload');
  const after = await edgeMetrics(edge);
  const a = counts(after);
  return {
    sent: n,
    invalid: a.uploadsRefused - b.uploadsRefused + (a.twinRefused - b.twinRefused),
    accepted: a.received - b.received - (a.uploadsRefused - b.uploadsRefused) - (a.twinRefused - b.twinRefused),
    refused: a.uploadsRefused - b.uploadsRefused + (a.twinRefused - b.twinRefused),
    closes,
    uploads,
    hangs,
    uploadsTaken: a.uploads - b.uploads,
    uploadsRefused: a.uploadsRefused - b.uploadsRefused,
    rssBefore: (sample(before, 'process_resident_memory_bytes') ?? 0) / 2 ** 20,
    rssAfter: (sample(after, 'process_resident_memory_bytes') ?? 0) / 2 ** 20,
  };
}

/** Mutated manifests at the resource API: every answer must be a 2xx or a 4xx, never a 5xx or a dropped connection. */
export async function fuzzApi(c: Cluster, manifests: readonly Record<string, any>[], n: number, seed: number): Promise<FuzzResult & { byStatus: Record<number, number> }> {
  const r = rng(seed);
  const before = await cloudMetrics(c);
  const byStatus: Record<number, number> = {};
  const pathOf = (m: Record<string, any>): string => {
    const [group, version] = String(m.apiVersion).includes('/') ? String(m.apiVersion).split('/') : ['', String(m.apiVersion)];
    const plural = `${String(m.kind).toLowerCase()}s`;
    const ns = m.kind === 'Node' ? '' : `/namespaces/${m.metadata?.namespace ?? 'default'}`;
    return group ? `/apis/${group}/${version}${ns}/${plural}` : `/api/${version}${ns}/${plural}`;
  };
  const agent = new Agent({ keepAlive: true, ca: c.pki.ca.cert });
  const call = (method: string, path: string, body: string, type: string): Promise<number> =>
    new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port: c.apiPort, path, method, agent, headers: { authorization: 'Bearer test-admin-token', 'content-type': type } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0)); // a dropped connection: counted as status 0
      req.end(body);
    });
  for (let i = 0; i < n; i++) {
    const m = manifests[Math.floor(r() * manifests.length)] as Record<string, any>;
    const mutated = mutateValue(r, m);
    const body = r() < 0.8 ? JSON.stringify(mutated) : mutateText(r, JSON.stringify(m));
    const kind = r();
    const status =
      kind < 0.5
        ? await call('POST', pathOf(m), body, 'application/json')
        : kind < 0.8
          ? await call('PUT', `${pathOf(m)}/${m.metadata.name}`, body, 'application/json')
          : await call('PATCH', `${pathOf(m)}/${m.metadata.name}`, body, 'application/merge-patch+json');
    byStatus[status] = (byStatus[status] ?? 0) + 1;
  }
  agent.destroy();
  const after = await cloudMetrics(c);
  const ok = Object.entries(byStatus).filter(([s]) => Number(s) >= 200 && Number(s) < 300).reduce((a, [, k]) => a + k, 0);
  const refused = Object.entries(byStatus).filter(([s]) => Number(s) >= 400 && Number(s) < 500).reduce((a, [, k]) => a + k, 0);
  return { sent: n, invalid: refused, accepted: ok, refused, closes: byStatus[0] ?? 0, byStatus, rssBefore: (sample(before, 'process_resident_memory_bytes') ?? 0) / 2 ** 20, rssAfter: (sample(after, 'process_resident_memory_bytes') ?? 0) / 2 ** 20 };
}
