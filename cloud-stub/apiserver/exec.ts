/**
 * `kubectl exec` and `kubectl attach`: the pod's `exec` and `attach` subresources, as a WebSocket in
 * the subprotocols kubectl 1.30 and later speaks (`v5.channel.k8s.io`, and `v4.channel.k8s.io`):
 * each message is a channel byte (0 stdin, 1 stdout, 2 stderr, 3 the end as a `Status`, 4 a
 * terminal's size, 255 a channel closed) and its bytes. The command runs at the edge (Edged), reached
 * through the link as a request whose answers carry the output and whose `input` messages carry what
 * is typed, as KubeEdge's stream tunnel carries it. SPDY, which kubectl only falls back to when the
 * WebSocket upgrade fails, is answered with why it is not spoken. Every session ends, at both sides,
 * when either side goes.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { Group, Operation, newMessage, type ReplyPart } from '../../core/message.js';
import type { ApiPath } from '../../api/resources.js';
import type { KubeObject } from '../store/objects.js';
import type { EdgeCall, EdgeCalls } from '../cloudhub/index.js';
import { ApiError } from './status.js';

const PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];
const Channel = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4, close: 255 } as const;
/** sessions open at once on this cloudcore (each edge also bounds its own) */
const MAX_SESSIONS = 64;
/** a client that lets this much output wait unread is dropped */
const MAX_UNREAD = 4 * 1024 * 1024;
/** the edge says it started the command (`{status}`) within this */
const FIRST_REPLY_MS = 30_000;

export interface ExecRequest {
  node: string;
  namespace: string;
  pod: string;
  container: string;
  attach: boolean;
  command: string[];
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/** what an exec or attach request asks, checked against the pod (throws ApiError as Kubernetes words it) */
export function execRequest(t: ApiPath, pod: KubeObject | undefined, params: URLSearchParams, connected: (node: string) => boolean): ExecRequest {
  const name = t.name as string;
  if (!pod) throw new ApiError('NotFound', `pods "${name}" not found`);
  const node = pod.spec?.nodeName;
  if (typeof node !== 'string' || node === '') throw new ApiError('BadRequest', `pod ${name} is not bound to a node yet`);
  const containers = ((pod.spec?.containers ?? []) as { name: string }[]).map((c) => c.name);
  const container = params.get('container') ?? (containers.length === 1 ? containers[0] : undefined);
  if (container === undefined) throw new ApiError('BadRequest', `a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]`);
  if (!containers.includes(container)) throw new ApiError('BadRequest', `container ${container} is not valid for pod ${name}`);
  const attach = t.subresource === 'attach';
  const command = params.getAll('command');
  if (!attach && command.length === 0) throw new ApiError('BadRequest', 'you must specify at least one command for the container');
  const flag = (k: string): boolean => params.get(k) === 'true' || params.get(k) === '1';
  const r: ExecRequest = { node, namespace: pod.metadata.namespace ?? 'default', pod: name, container, attach, command, stdin: flag('stdin'), stdout: flag('stdout'), stderr: flag('stderr'), tty: flag('tty') };
  if (!r.stdin && !r.stdout && !r.stderr) throw new ApiError('BadRequest', 'you must specify at least 1 of stdin, stdout, stderr');
  if (!connected(node)) throw new ApiError('ServiceUnavailable', `node ${node} is not connected: a command runs at its edge`);
  return r;
}

/** an HTTP answer written on a socket that was not upgraded */
export function refuseUpgrade(socket: Duplex, err: ApiError): void {
  const body = JSON.stringify(err.toStatus());
  socket.end(`HTTP/1.1 ${err.code} ${STATUS_CODES[err.code] ?? ''}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

/** the end of a session on channel 3, as kubelet writes it: kubectl exits with the command's code */
function endStatus(exitCode: number | undefined, error: string | undefined, command: readonly string[]): unknown {
  if (error !== undefined) return { metadata: {}, status: 'Failure', message: error, reason: 'InternalError', code: 500 };
  if (!exitCode) return { metadata: {}, status: 'Success' };
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${exitCode}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
  };
}

export interface ExecServer {
  /** takes an upgraded request for a checked exec or attach */
  serve(req: IncomingMessage, socket: Duplex, head: Buffer, r: ExecRequest): void;
  close(): void;
}

/** what kubectl sends on the socket: input (channel 0), the end of input (255, 0), a terminal's size (4) */
function clientFrame(b: Buffer, r: ExecRequest, call: EdgeCall): void {
  const payload = b.subarray(1);
  if (b[0] === Channel.stdin && r.stdin && payload.length) return call.send({ data: payload.toString('base64') });
  if (b[0] === Channel.close && payload[0] === Channel.stdin) return call.send({ close: true });
  if (b[0] !== Channel.resize) return;
  try {
    const size = JSON.parse(payload.toString('utf8')) as { Width?: unknown; Height?: unknown };
    if (typeof size.Width === 'number' && typeof size.Height === 'number') call.send({ resize: { width: size.Width, height: size.Height } });
  } catch {
    /* not a size: nothing to do with it */
  }
}

/** one session: kubectl's socket joined to the edge's answers; `ended` once it is over */
function runSession(ws: WebSocket, r: ExecRequest, edges: EdgeCalls, ended: () => void): void {
  let done = false;
  const send = (channel: number, data: Buffer | string): void => {
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > MAX_UNREAD) return finish(undefined, `the client left more than ${MAX_UNREAD} bytes of output unread`);
    ws.send(Buffer.concat([Buffer.from([channel]), Buffer.isBuffer(data) ? data : Buffer.from(data)]));
  };
  const finish = (exitCode: number | undefined, error?: string): void => {
    if (done) return;
    done = true;
    ended();
    clearTimeout(timer);
    call.cancel();
    if (ws.readyState !== ws.OPEN) return;
    ws.send(Buffer.concat([Buffer.from([Channel.error]), Buffer.from(JSON.stringify(endStatus(exitCode, error, r.command)))]));
    ws.close(1000);
  };
  const msg = newMessage({ source: 'apiserver', group: Group.edged, operation: Operation.query, resource: `${r.namespace}/${r.attach ? 'podattach' : 'podexec'}/${r.pod}` }, { container: r.container, command: r.command, stdin: r.stdin, tty: r.tty });
  const call = edges.call(r.node, msg, (part: ReplyPart) => {
    clearTimeout(timer);
    if (part.error !== undefined) return finish(undefined, part.error);
    if (part.body) {
      const stream = part.stream === 2 ? Channel.stderr : Channel.stdout;
      if (stream === Channel.stdout ? r.stdout : r.stderr || r.tty) send(r.tty ? Channel.stdout : stream, Buffer.from(part.body, 'base64'));
    }
    if (part.end) finish(part.exitCode ?? 0);
  });
  const timer = setTimeout(() => finish(undefined, `node ${r.node} did not answer within ${FIRST_REPLY_MS / 1000} s`), FIRST_REPLY_MS);
  ws.on('message', (data: RawData) => {
    const b = Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]);
    if (b.length > 0 && !done) clientFrame(b, r, call);
  });
  ws.on('close', () => finish(undefined));
  ws.on('error', () => ws.terminate());
}

export function createExecServer(edges: EdgeCalls): ExecServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024, perMessageDeflate: false, handleProtocols: (offered) => PROTOCOLS.find((p) => offered.has(p)) ?? false });
  let open = 0;
  return {
    serve(req, socket, head, r) {
      if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
        return refuseUpgrade(socket, new ApiError('BadRequest', `this cloudcore runs ${r.attach ? 'attach' : 'exec'} over WebSocket only (${PROTOCOLS.join(', ')}: kubectl 1.30 and later), not ${req.headers.upgrade ?? 'plain HTTP'}`));
      }
      if (open >= MAX_SESSIONS) return refuseUpgrade(socket, new ApiError('TooManyRequests', `${MAX_SESSIONS} exec and attach sessions are open: try again when one ends`));
      wss.handleUpgrade(req, socket, head, (ws) => {
        if (!ws.protocol) return ws.close(1002, `speak one of ${PROTOCOLS.join(', ')}`);
        open++;
        runSession(ws, r, edges, () => open--);
      });
    },
    close() {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    },
  };
}
