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
import { NodeSession, tickMs } from './session.js';
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
  const sessions = new Map<string, NodeSession>();
  const traffic = new Traffic();
  const calls = new Map<string, OpenCall>();
  let server: Server | undefined;
  let wss: WebSocketServer | undefined;
  let ctx: ModuleContext | undefined;
  let ticker: Timer | undefined;
  let log: Logger | undefined;

  const notify = (operation: string, node: string, content: unknown = null): void => {
    for (const group of SESSION_LISTENERS) {
      const msg = newMessage({ source: 'cloudhub', group, operation, resource: nodeResource(node, '') }, content);
      try {
        ctx?.bus.sendToGroup(group, msg);
      } catch (err) {
        log?.debug(`cannot tell ${group} that ${node} ${operation}: ${errorText(err)}`);
      }
    }
  };

  const refuse = (socket: Duplex, status: number, text: string, reason: string, req: IncomingMessage): void => {
    log?.warn(`refused connection from ${req.socket.remoteAddress ?? '?'} to ${req.url ?? ''}: ${reason}`);
    socket.write(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${reason}\n`);
    socket.destroy();
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const match = EVENTS_PATH.exec((req.url ?? '').split('?')[0] ?? '');
    if (!match) return refuse(socket, 404, 'Not Found', `path ${req.url ?? ''} is not /<projectID>/<nodeName>/events`, req);
    const [, projectId, node] = match as unknown as [string, string, string];
    const nodeHeader = req.headers['node_id'];
    const projectHeader = req.headers['project_id'];
    if (nodeHeader !== undefined && nodeHeader !== node) return refuse(socket, 400, 'Bad Request', `node_id header ${String(nodeHeader)} does not match path node ${node}`, req);
    if (projectHeader !== undefined && projectHeader !== projectId) return refuse(socket, 400, 'Bad Request', `project_id header does not match the path`, req);
    if (!isDnsSubdomain(node)) return refuse(socket, 400, 'Bad Request', `node name ${JSON.stringify(node)} is not a valid DNS subdomain`, req);
    const tlsSocket = req.socket as TLSSocket;
    const cn = tlsSocket.getPeerCertificate?.()?.subject?.CN;
    if (!tlsSocket.authorized) return refuse(socket, 401, 'Unauthorized', `client certificate not authorized: ${String(tlsSocket.authorizationError ?? 'none presented')}`, req);
    if (cn !== `system:node:${node}`) return refuse(socket, 403, 'Forbidden', `certificate CN ${JSON.stringify(cn)} may not act as node ${node}`, req);
    if (!sessions.has(node) && sessions.size >= deps.config.nodeLimit) return refuse(socket, 503, 'Service Unavailable', `node limit ${deps.config.nodeLimit} reached`, req);
    wss?.handleUpgrade(req, socket, head, (ws) => attach(node, ws));
  };

  const attach = (node: string, ws: WebSocket): void => {
    if (!ctx || !log) return;
    const old = sessions.get(node);
    if (old) old.close(4000, 'replaced by a new connection of the same node');
    const session = new NodeSession({
      node,
      ws,
      clock: ctx.clock,
      log,
      keepaliveMs: deps.config.keepaliveInterval * 1000,
      maxFrameBytes: deps.config.maxFrameBytes,
      traffic,
      // controllers hear of a session once its first frame says which dialect it speaks
      onReady: (s) => notify(HubEvent.connected, s.node, { dialect: s.dialect }),
      onMessages: (s, msgs) => {
        for (const m of msgs) upstream(s, m);
      },
      onAcked: (s, msg) => {
        const rv = msg.header.resourceversion;
        if (rv !== undefined) deps.store.recordAck(s.node, msg.route.resource, Number(rv), msg.route.operation === Operation.delete);
      },
      onClose: (s, reason) => {
        if (sessions.get(s.node) !== s) return;
        sessions.delete(s.node);
        log?.info(`${s.node}: disconnected: ${reason}`);
        for (const [id, call] of calls) {
          if (call.node !== s.node) continue;
          calls.delete(id);
          call.onReply({ error: `the link to node ${s.node} was lost`, code: 503 });
        }
        if (s.isReady) notify(HubEvent.disconnected, s.node);
      },
    });
    sessions.set(node, session);
    session.start();
    log.info(`${node}: connected (${sessions.size} edges online)`);
  };

  const upstream = (session: NodeSession, msg: Message): void => {
    log?.debug(`${session.node}: ${msg.route.source} ${msg.route.group}/${msg.route.operation} ${msg.route.resource}${msg.header.parent_msg_id ? ` (answers ${msg.header.parent_msg_id})` : ''}`);
    if (isResponse(msg)) {
      const call = calls.get(msg.header.parent_msg_id as string);
      if (call && call.node === session.node) {
        const part: ReplyPart = isObj(msg.content) ? (msg.content as ReplyPart) : { error: 'the edge answered with something that is not a reply part', code: 502 };
        if (part.end || part.error !== undefined) calls.delete(msg.header.parent_msg_id as string);
        return call.onReply(part);
      }
      if (msg.content === ACK_CONTENT) session.onAck(msg.header.parent_msg_id as string);
      else log?.warn(`${session.node}: edge could not take ${msg.route.resource}: ${JSON.stringify(msg.content).slice(0, 200)}`);
      return;
    }
    // a KubeEdge edgecore speaks KubeEdge's messages: its own module answers them (but keepalives)
    const group = session.dialect === 'kubeedge' && msg.route.operation !== Operation.keepalive ? ControllerGroup.kubeedge : upstreamGroups[msg.route.group];
    const internal: Message = { ...msg, route: { ...msg.route, resource: nodeResource(session.node, msg.route.resource) } };
    try {
      if (!group) throw new Error(`no cloud module handles group ${JSON.stringify(msg.route.group)}`);
      ctx?.bus.sendToGroup(group, internal);
    } catch (err) {
      log?.warn(`${session.node}: cannot route ${msg.route.group}/${msg.route.operation} ${msg.route.resource}: ${errorText(err)}`);
      session.sendNow(newMessage({ source: 'cloudhub', group: msg.route.group, operation: Operation.response, resource: msg.route.resource }, { error: errorText(err) }, { parentId: msg.header.msg_id }));
    }
  };

  /** messages from cloud modules to an edge */
  const downstream = (msg: Message): void => {
    const target = splitNodeResource(msg.route.resource);
    if (!target) {
      log?.warn(`dropped a message without a node in its resource: ${msg.route.resource}`);
      return;
    }
    const session = sessions.get(target.node);
    if (!session) {
      log?.debug(`${target.node} is offline; ${target.resource} waits for its next sync`);
      return;
    }
    const { destination, ...route } = msg.route;
    const out: Message = { ...msg, route: { ...route, resource: target.resource } };
    if (isResponse(out) || destination === SEND_ONCE) session.sendNow(out);
    else session.deliver(out);
  };

  return {
    name: 'cloudhub',
    group: 'cloudhub',
    port: () => boundPort(server),
    sessions: () => sessions,
    metrics: () => [gauge('cloudcore_connected_edges', 'Edges connected to this cloudcore (a WebSocket open).', sessions.size), ...traffic.families()],
    connected: (node) => sessions.has(node),
    call(node, msg, onReply): EdgeCall {
      const session = sessions.get(node);
      if (!session) {
        onReply({ error: `node ${node} is not connected`, code: 503 });
        return { cancel: () => undefined, send: () => undefined };
      }
      const id = msg.header.msg_id;
      calls.set(id, { node, onReply });
      session.sendNow(msg);
      return {
        cancel() {
          if (!calls.delete(id)) return;
          sessions.get(node)?.sendNow(newMessage({ source: 'cloudhub', group: msg.route.group, operation: Operation.cancel, resource: msg.route.resource }, { id }));
        },
        send(content) {
          if (calls.has(id)) sessions.get(node)?.sendNow(newMessage({ source: 'cloudhub', group: msg.route.group, operation: Operation.input, resource: msg.route.resource }, { ...content, id }));
        },
      };
    },
    async start(c) {
      ctx = c;
      log = c.log;
      c.bus.register('cloudhub', 'cloudhub', downstream, { queueLimit: 100_000 });
      // one timer for every session (10,000 timers would cost memory and a callback each per tick)
      ticker = c.clock.setInterval(() => {
        for (const s of sessions.values()) s.tick();
      }, tickMs(deps.config.keepaliveInterval * 1000));
      const { ca, cert, key } = deps.tls();
      wss = new WebSocketServer({ noServer: true, maxPayload: deps.config.maxFrameBytes, perMessageDeflate: false });
      server = createServer({ ca, cert, key, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' }, (_req, res) => {
        res.writeHead(426, { 'content-type': 'text/plain' }).end('use a WebSocket on /<projectID>/<nodeName>/events\n');
      });
      server.on('upgrade', onUpgrade);
      server.on('tlsClientError', (err, socket) => {
        log?.warn(`refused TLS from ${socket.remoteAddress ?? '?'}: ${err.message}`);
      });
      const { address, port } = deps.config.websocket;
      await listen(server, port, address);
      log.info(`listening on wss://${address}:${this.port()}/<projectID>/<nodeName>/events`);
    },
    async stop() {
      ctx?.clock.clear(ticker);
      for (const call of calls.values()) call.onReply({ error: 'cloudcore is stopping', code: 503 });
      calls.clear();
      for (const s of sessions.values()) s.close(1001, 'cloudcore stopping');
      sessions.clear();
      ctx?.bus.unregister('cloudhub');
      wss?.close();
      await closeServer(server);
      server = undefined;
    },
  } satisfies CloudHub;
}
