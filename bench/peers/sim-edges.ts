/**
 * Many simulated edges in one process, for the scale bench: each is a real mutual-TLS WebSocket
 * with its own certificate (CN system:node:<name>), speaking CBOR as edgecore does. Each sends
 * its store id on connect and a keepalive every heartbeat, acknowledges every object the cloud
 * sends as edgecore's MetaManager does (a `response` "OK"), remembers each device's desired value,
 * and reconnects after a drop with edgecore's own jittered back-off.
 *
 * Argument: JSON {host, port, caCert, caKey, prefix, from, count, heartbeatMs, parallel}.
 * Commands on stdin, one JSON per line: {"cmd":"stats","value":"21"} prints one JSON line (see
 * `stats()`); {"cmd":"stop"} closes every socket and exits.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { createBackoff, type Backoff } from '../../core/backoff.js';
import { cborCodec, decodeFrame, encodeFrame } from '../../core/codec.js';
import { ackOf, isResponse, newMessage, Operation, type Message } from '../../core/message.js';
import { signLeaf } from '../../core/pki/x509.js';

interface Options {
  host: string;
  port: number;
  caCert: string;
  caKey: string;
  prefix: string;
  from: number;
  count: number;
  heartbeatMs: number;
  /** handshakes in progress at once in this process */
  parallel: number;
}

interface SimEdge {
  node: string;
  cert: string;
  ws: WebSocket | undefined;
  open: boolean;
  backoff: Backoff;
  /** desired value of its device and when it arrived (ms since the epoch) */
  value: string | undefined;
  valueAt: number;
}

const PROJECT = 'e632aba927ea4ac2b575ec1603d56f10';
const o = JSON.parse(process.argv[2] as string) as Options;
const caCertPem = readFileSync(o.caCert, 'utf8');
const caKeyPem = readFileSync(o.caKey, 'utf8');
// one key for every edge here: key generation is not what the bench measures
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
const spki = publicKey.export({ type: 'spki', format: 'der' });

const edges: SimEdge[] = [];
for (let i = o.from; i < o.from + o.count; i++) {
  const node = `${o.prefix}${i}`;
  const cert = signLeaf({ caCertPem, caKeyPem, spki, commonName: `system:node:${node}`, organization: 'system:nodes', days: 1, usage: { client: true } });
  edges.push({ node, cert, ws: undefined, open: false, backoff: createBackoff(Math.min(1000, o.heartbeatMs), 30_000), value: undefined, valueAt: 0 });
}

let handshakes = 0;
let failures = 0;
let badFrames = 0;
const handshakesPerSecond = new Map<number, number>();
let stopping = false;

// connects wait in a queue so that at most `parallel` handshakes run at once, as a real fleet's
// edges would not all start in the same millisecond either
const queue: SimEdge[] = [];
let connecting = 0;
const pump = (): void => {
  while (connecting < o.parallel && queue.length > 0) connect(queue.shift() as SimEdge);
};

const later = (e: SimEdge): void => {
  if (stopping) return;
  setTimeout(() => {
    queue.push(e);
    pump();
  }, e.backoff.next());
};

function connect(e: SimEdge): void {
  connecting++;
  let settled = false;
  const settle = (): void => {
    if (settled) return;
    settled = true;
    connecting--;
    pump();
  };
  const ws = new WebSocket(`wss://${o.host}:${o.port}/${PROJECT}/${e.node}/events`, {
    ca: caCertPem,
    cert: e.cert,
    key: keyPem,
    headers: { node_id: e.node, project_id: PROJECT },
    perMessageDeflate: false,
    handshakeTimeout: 30_000,
  });
  e.ws = ws;
  ws.on('open', () => {
    settle();
    e.open = true;
    e.backoff.reset();
    handshakes++;
    const sec = Math.floor(Date.now() / 1000);
    handshakesPerSecond.set(sec, (handshakesPerSecond.get(sec) ?? 0) + 1);
    send(e, [keepalive(), newMessage({ source: 'metamanager', group: 'resource', operation: Operation.sync, resource: 'node' }, { storeId: `store-${e.node}` })]);
  });
  ws.on('message', (data: Buffer, binary: boolean) => onFrame(e, data, binary));
  ws.on('error', () => undefined); // 'close' follows
  ws.on('close', () => {
    settle();
    if (!e.open) failures++;
    e.open = false;
    e.ws = undefined;
    later(e);
  });
}

const keepalive = (): Message => newMessage({ source: 'edgehub', group: 'resource', operation: Operation.keepalive, resource: 'node' }, 'ping');

function send(e: SimEdge, msgs: Message[]): void {
  if (e.ws && e.open) e.ws.send(encodeFrame(cborCodec, msgs));
}

function onFrame(e: SimEdge, data: Buffer, binary: boolean): void {
  let msgs: Message[];
  try {
    msgs = decodeFrame(data, binary);
  } catch {
    badFrames++;
    return;
  }
  const acks: Message[] = [];
  for (const m of msgs) {
    if (isResponse(m)) continue;
    if (m.route.operation === Operation.insert || m.route.operation === Operation.update || m.route.operation === Operation.delete) {
      const spec = (m.content as { kind?: string; spec?: { properties?: { desired?: { value?: string } }[] } } | null)?.spec;
      const value = spec?.properties?.[0]?.desired?.value;
      if ((m.content as { kind?: string })?.kind === 'Device' && value !== undefined) {
        e.value = value;
        e.valueAt = Date.now();
      }
      acks.push(ackOf(m, 'metamanager'));
    }
  }
  if (acks.length > 0) send(e, acks);
}

// heartbeats: each edge on its own phase within the period
for (const [i, e] of edges.entries()) {
  setTimeout(() => setInterval(() => send(e, [keepalive()]), o.heartbeatMs), Math.floor((i / edges.length) * o.heartbeatMs));
}

function stats(value: string | undefined): Record<string, unknown> {
  let connected = 0;
  let withValue = 0;
  let lastValueAt = 0;
  for (const e of edges) {
    if (e.open) connected++;
    if (value !== undefined && e.value === value) {
      withValue++;
      lastValueAt = Math.max(lastValueAt, e.valueAt);
    }
  }
  return { connected, handshakes, failures, badFrames, withValue, lastValueAt, handshakesPerSecond: Object.fromEntries(handshakesPerSecond), rssKiB: Math.round(process.memoryUsage().rss / 1024) };
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line) as { cmd: string; value?: string };
  if (cmd.cmd === 'stats') console.log(JSON.stringify(stats(cmd.value)));
  else if (cmd.cmd === 'stop') {
    stopping = true;
    for (const e of edges) e.ws?.terminate();
    process.exit(0);
  }
});

queue.push(...edges);
pump();
console.log(JSON.stringify({ ready: edges.length }));
