/**
 * CloudHub: the cloud end of the EdgeHub link. A WebSocket server over mutual TLS on
 * `wss://HOST:10000/<projectID>/<nodeName>/events`. The client certificate must be signed by the
 * CA and name `system:node:<node_id>` for the node the connection claims. One session per node
 * (a new connection replaces the old one), at most `nodeLimit` sessions.
 *
 * On the cloud bus, messages for an edge carry `node/<nodeName>/` before their resource (as
 * KubeEdge does); CloudHub strips it on the way out and adds it on the way in.
 */
import type { Timer } from '../../core/clock.js';
import { constants } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Module, ModuleContext } from '../../core/module.js';
import type { Message, ReplyPart } from '../../core/message.js';
import { ACK_CONTENT, Operation, isResponse, newMessage } from '../../core/message.js';
import { isObj } from '../../core/guards.js';
import { errorText } from '../../core/errors.js';
import { isDnsSubdomain } from '../../api/names.js';
import { boundPort, closeServer, listen } from '../../core/net.js';
import type { Logger } from '../../core/log.js';
import type { CloudHubConfig } from '../../api/config/cloudcore.js';
import type { ObjectStore } from '../store/objects.js';
import { NodeSession, deliveryPolicy, tickMs, type SessionHub } from './session.js';
import { Traffic } from './traffic.js';
import { gauge, type Family } from '../../core/metrics.js';
import { nodeResource, splitNodeResource, ControllerGroup, HubEvent, SEND_ONCE, SESSION_LISTENERS } from '../routes.js';

export interface TlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export interface CloudHubDeps {
  config: CloudHubConfig;
  tls: () => TlsMaterial;
  store: ObjectStore;
}

export interface EdgeCall {
  /** stops listening and tells the edge to stop answering */
  cancel(): void;
  /** sends more for the request (an exec's input): `content` gets the request's id */
  send(content: Record<string, unknown>): void;
}

/** Requests to connected edges, whose answers may come in several parts (CloudHub). */
export interface EdgeCalls {
  connected(node: string): boolean;
  /** sends `msg` to `node`; every reply to it goes to `onReply` until it ends or is cancelled */
  call(node: string, msg: Message, onReply: (part: ReplyPart) => void): EdgeCall;
}

export interface CloudHub extends Module, EdgeCalls {
  /** the bound port (useful when the config asks for port 0) */
  port(): number;
  sessions(): ReadonlyMap<string, NodeSession>;
  metrics(): Family[];
}

/** requests to edges waiting for (more) answers, by the request's msg_id */
interface OpenCall {
  node: string;
  onReply(part: ReplyPart): void;
}

const EVENTS_PATH = /^\/([^/]+)\/([^/]+)\/events\/?$/;

/** upstream groups and the cloud module group that handles them */
const upstreamGroups: Record<string, string> = {
  resource: ControllerGroup.edge,
  twin: ControllerGroup.device,
  user: ControllerGroup.edge,
  servicebus: ControllerGroup.router,
};

export function createCloudHub(deps: CloudHubDeps): CloudHub {
  return new CloudHubModule(deps);
}

/** what a connection asks to be, and what its certificate says it is */
export interface Knock {
  /** the request's path */
  path: string;
  /** its node_id and project_id headers, when it sends them */
  nodeHeader?: string;
  projectHeader?: string;
  /** the TLS layer's verdict on its client certificate, and the certificate's CN */
  authorized: boolean;
  authorizationError?: string;
  cn?: string;
}

export type Admission = { node: string } | { status: number; text: string; reason: string };

/**
 * Who may connect as which node: a path /<projectID>/<nodeName>/events, headers that agree with it,
 * a certificate signed by the CA whose CN is system:node:<nodeName>, and room under nodeLimit (a
 * node already connected may always replace its session).
 */
export function admit(k: Knock, connected: (node: string) => boolean, sessions: number, nodeLimit: number): Admission {
  const match = EVENTS_PATH.exec(k.path.split('?')[0] ?? '');
  if (!match) return { status: 404, text: 'Not Found', reason: `path ${k.path} is not /<projectID>/<nodeName>/events` };
  const [, projectId, node] = match as unknown as [string, string, string];
  if (k.nodeHeader !== undefined && k.nodeHeader !== node) return { status: 400, text: 'Bad Request', reason: `node_id header ${k.nodeHeader} does not match path node ${node}` };
  if (k.projectHeader !== undefined && k.projectHeader !== projectId) return { status: 400, text: 'Bad Request', reason: 'project_id header does not match the path' };
  if (!isDnsSubdomain(node)) return { status: 400, text: 'Bad Request', reason: `node name ${JSON.stringify(node)} is not a valid DNS subdomain` };
  if (!k.authorized) return { status: 401, text: 'Unauthorized', reason: `client certificate not authorized: ${k.authorizationError ?? 'none presented'}` };
  if (k.cn !== `system:node:${node}`) return { status: 403, text: 'Forbidden', reason: `certificate CN ${JSON.stringify(k.cn)} may not act as node ${node}` };
  if (!connected(node) && sessions >= nodeLimit) return { status: 503, text: 'Service Unavailable', reason: `node limit ${nodeLimit} reached` };
  return { node };
}

class CloudHubModule implements CloudHub {
  readonly name = 'cloudhub';
  readonly group = 'cloudhub';
  private readonly live = new Map<string, NodeSession>();
  private readonly traffic = new Traffic();
  private readonly calls = new Map<string, OpenCall>();
  private server: Server | undefined;
  private wss: WebSocketServer | undefined;
  private ctx: ModuleContext | undefined;
  private ticker: Timer | undefined;
  private log: Logger | undefined;
  private hub: SessionHub | undefined;

  constructor(private readonly deps: CloudHubDeps) {}

  port(): number {
    return boundPort(this.server);
  }

  sessions(): ReadonlyMap<string, NodeSession> {
    return this.live;
  }

  metrics(): Family[] {
    return [gauge('cloudcore_connected_edges', 'Edges connected to this cloudcore (a WebSocket open).', this.live.size), ...this.traffic.families()];
  }

  // properties, not methods: the router and the API are handed them as functions
  readonly connected = (node: string): boolean => this.live.has(node);

  readonly call = (node: string, msg: Message, onReply: (part: ReplyPart) => void): EdgeCall => {
    const session = this.live.get(node);
    if (!session) {
      onReply({ error: `node ${node} is not connected`, code: 503 });
      return { cancel: () => undefined, send: () => undefined };
    }
    const id = msg.header.msg_id;
    this.calls.set(id, { node, onReply });
    session.sendNow(msg);
    const to = (operation: string, content: Record<string, unknown>): void => this.live.get(node)?.sendNow(newMessage({ source: 'cloudhub', group: msg.route.group, operation, resource: msg.route.resource }, { ...content, id }));
    return {
      cancel: () => {
        if (this.calls.delete(id)) to(Operation.cancel, {});
      },
      send: (content) => {
        if (this.calls.has(id)) to(Operation.input, content);
      },
    };
  };

  private notify(operation: string, node: string, content: unknown = null): void {
    for (const group of SESSION_LISTENERS) {
      const msg = newMessage({ source: 'cloudhub', group, operation, resource: nodeResource(node, '') }, content);
      try {
        this.ctx?.bus.sendToGroup(group, msg);
      } catch (err) {
        this.log?.debug(`cannot tell ${group} that ${node} ${operation}: ${errorText(err)}`);
      }
    }
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const tlsSocket = req.socket as TLSSocket;
    const cn = tlsSocket.getPeerCertificate?.()?.subject?.CN;
    const knock: Knock = { path: req.url ?? '', authorized: tlsSocket.authorized };
    if (tlsSocket.authorizationError) knock.authorizationError = String(tlsSocket.authorizationError);
    if (cn !== undefined) knock.cn = String(cn);
    if (req.headers.node_id !== undefined) knock.nodeHeader = String(req.headers.node_id);
    if (req.headers.project_id !== undefined) knock.projectHeader = String(req.headers.project_id);
    const a = admit(knock, (n) => this.live.has(n), this.live.size, this.deps.config.nodeLimit);
    if ('node' in a) return void this.wss?.handleUpgrade(req, socket, head, (ws) => this.attach(a.node, ws));
    this.log?.warn(`refused connection from ${req.socket.remoteAddress ?? '?'} to ${req.url ?? ''}: ${a.reason}`);
    socket.write(`HTTP/1.1 ${a.status} ${a.text}\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${a.reason}\n`);
    socket.destroy();
  }

  private attach(node: string, ws: WebSocket): void {
    if (!this.hub) return;
    this.live.get(node)?.close(4000, 'replaced by a new connection of the same node');
    const session = new NodeSession(node, ws, this.hub);
    this.live.set(node, session);
    session.start();
    this.hub.log.info(`${node}: connected (${this.live.size} edges online)`);
  }

  /** what every session shares (made once: 10,000 sessions with closures of their own cost memory) */
  private sessionHub(ctx: ModuleContext): SessionHub {
    const { config, store } = this.deps;
    return {
      clock: ctx.clock,
      log: ctx.log,
      keepaliveMs: config.keepaliveInterval * 1000,
      maxFrameBytes: config.maxFrameBytes,
      traffic: this.traffic,
      delivery: deliveryPolicy(ctx.clock, this.traffic),
      // controllers hear of a session once its first frame says which dialect it speaks
      onReady: (s) => this.notify(HubEvent.connected, s.node, { dialect: s.dialect }),
      onMessages: (s, msgs) => {
        for (const m of msgs) this.upstream(s, m);
      },
      onAcked: (s, msg) => {
        const rv = msg.header.resourceversion;
        if (rv !== undefined) store.recordAck(s.node, msg.route.resource, Number(rv), msg.route.operation === Operation.delete);
      },
      onClose: (s, reason) => this.closed(s, reason),
    };
  }

  private closed(s: NodeSession, reason: string): void {
    if (this.live.get(s.node) !== s) return;
    this.live.delete(s.node);
    this.log?.info(`${s.node}: disconnected: ${reason}`);
    for (const [id, call] of this.calls) {
      if (call.node !== s.node) continue;
      this.calls.delete(id);
      call.onReply({ error: `the link to node ${s.node} was lost`, code: 503 });
    }
    if (s.isReady) this.notify(HubEvent.disconnected, s.node);
  }

  /** an edge's answer: a part of a call's reply, an acknowledgement, or a refusal */
  private answered(session: NodeSession, msg: Message): void {
    const parent = msg.header.parent_msg_id as string;
    const call = this.calls.get(parent);
    if (call && call.node === session.node) {
      const part: ReplyPart = isObj(msg.content) ? (msg.content as ReplyPart) : { error: 'the edge answered with something that is not a reply part', code: 502 };
      if (part.end || part.error !== undefined) this.calls.delete(parent);
      return call.onReply(part);
    }
    if (msg.content === ACK_CONTENT) session.onAck(parent);
    else this.log?.warn(`${session.node}: edge could not take ${msg.route.resource}: ${JSON.stringify(msg.content).slice(0, 200)}`);
  }

  private upstream(session: NodeSession, msg: Message): void {
    this.log?.debug(`${session.node}: ${msg.route.source} ${msg.route.group}/${msg.route.operation} ${msg.route.resource}${msg.header.parent_msg_id ? ` (answers ${msg.header.parent_msg_id})` : ''}`);
    if (isResponse(msg)) return this.answered(session, msg);
    // a KubeEdge edgecore speaks KubeEdge's messages: its own module answers them (but keepalives)
    const group = session.dialect === 'kubeedge' && msg.route.operation !== Operation.keepalive ? ControllerGroup.kubeedge : upstreamGroups[msg.route.group];
    const internal: Message = { ...msg, route: { ...msg.route, resource: nodeResource(session.node, msg.route.resource) } };
    try {
      if (!group) throw new Error(`no cloud module handles group ${JSON.stringify(msg.route.group)}`);
      this.ctx?.bus.sendToGroup(group, internal);
    } catch (err) {
      this.log?.warn(`${session.node}: cannot route ${msg.route.group}/${msg.route.operation} ${msg.route.resource}: ${errorText(err)}`);
      session.sendNow(newMessage({ source: 'cloudhub', group: msg.route.group, operation: Operation.response, resource: msg.route.resource }, { error: errorText(err) }, { parentId: msg.header.msg_id }));
    }
  }

  /** messages from cloud modules to an edge */
  private downstream(msg: Message): void {
    const target = splitNodeResource(msg.route.resource);
    if (!target) return void this.log?.warn(`dropped a message without a node in its resource: ${msg.route.resource}`);
    const session = this.live.get(target.node);
    if (!session) return void this.log?.debug(`${target.node} is offline; ${target.resource} waits for its next sync`);
    const { destination, ...route } = msg.route;
    const out: Message = { ...msg, route: { ...route, resource: target.resource } };
    if (isResponse(out) || destination === SEND_ONCE) session.sendNow(out);
    else session.deliver(out);
  }

  async start(c: ModuleContext): Promise<void> {
    this.ctx = c;
    this.log = c.log;
    this.hub = this.sessionHub(c);
    c.bus.register('cloudhub', 'cloudhub', (msg) => this.downstream(msg), { queueLimit: 100_000 });
    // one timer for every session (10,000 timers would cost memory and a callback each per tick)
    this.ticker = c.clock.setInterval(() => {
      for (const s of this.live.values()) s.tick();
    }, tickMs(this.deps.config.keepaliveInterval * 1000));
    const { ca, cert, key } = this.deps.tls();
    // sessions are tracked in `live`, not also in a Set of the ws server's
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.deps.config.maxFrameBytes, perMessageDeflate: false, clientTracking: false });
    // No TLS 1.3 session tickets: no edge resumes a session (ours and KubeEdge's edgecore dial afresh),
    // and OpenSSL keeps a copy of the session, the edge's certificate with it, for each ticket sent
    // until the connection ends: 13 KiB per connected edge, measured on a bare Node server.
    const tlsOptions = { ca, cert, key, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' as const, secureOptions: constants.SSL_OP_NO_TICKET };
    const server = (this.server = createServer(tlsOptions, (_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('use a WebSocket on /<projectID>/<nodeName>/events\n');
    }));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    server.on('tlsClientError', (err, socket) => this.log?.warn(`refused TLS from ${socket.remoteAddress ?? '?'}: ${err.message}`));
    const { address, port } = this.deps.config.websocket;
    await listen(server, port, address);
    c.log.info(`listening on wss://${address}:${this.port()}/<projectID>/<nodeName>/events`);
  }

  async stop(): Promise<void> {
    this.ctx?.clock.clear(this.ticker);
    for (const call of this.calls.values()) call.onReply({ error: 'cloudcore is stopping', code: 503 });
    this.calls.clear();
    for (const s of this.live.values()) s.close(1001, 'cloudcore stopping');
    this.live.clear();
    this.ctx?.bus.unregister('cloudhub');
    this.wss?.close();
    await closeServer(this.server);
    this.server = undefined;
  }
}
