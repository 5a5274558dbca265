/**
 * ServiceBus: HTTP between the cloud and this edge's apps, as KubeEdge's. The router's rest →
 * servicebus requests (method, path, query, headers, body) are made to the app on
 * `http://127.0.0.1:<service_port>` (loopback only: never another host), and its answer goes back
 * in parts (status and headers first, the body in pieces that fit the link's frames). It also
 * listens on 127.0.0.1:9060, as KubeEdge's does, so a local app can call a cloud REST service
 * through the link: `METHOD http://127.0.0.1:9060/<namespace>/<path>` goes to the router, which
 * passes it on by a rule whose source is a servicebus endpoint.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Module, ModuleContext } from '../../core/module.js';
import { errorText } from '../../core/errors.js';
import { isObj } from '../../core/guards.js';
import { Group, Operation, newMessage, responseTo, type Message, type ReplyPart } from '../../core/message.js';
import { boundPort, closeServer, isLoopback, listen } from '../../core/net.js';
import type { EdgeCoreConfig } from '../../api/config/edgecore.js';
import { EDGEHUB, HubEvent } from '../edgehub/index.js';
import { MAX_HTTP_BODY_BYTES, passOnHeaders, readBounded } from '../../core/http.js';

export type ServiceBusConfig = EdgeCoreConfig['modules']['serviceBus'];

export const SERVICEBUS = 'servicebus';
/** a response body leaves in parts of this size, so every frame stays under the cloud's limit */
const PART_BYTES = 192 * 1024;
const MAX_CONCURRENT = 32;

/** what the router sends: one HTTP request for an edge app */
export interface ServiceRequest {
  method: string;
  path: string;
  query?: string;
  headers?: Record<string, string | string[]>;
  /** base64 */
  body?: string;
  port: number;
}

export interface ServiceBus extends Module {
  port(): number;
}

export function createServiceBus(deps: { config: ServiceBusConfig }): ServiceBus {
  return new ServiceBusModule(deps.config);
}

function isServiceRequest(r: unknown): r is ServiceRequest {
  if (!isObj(r) || typeof r.method !== 'string' || !/^[A-Z]{3,10}$/.test(r.method) || typeof r.path !== 'string' || !r.path.startsWith('/')) return false;
  return typeof r.port === 'number' && Number.isInteger(r.port) && r.port >= 1 && r.port <= 65535;
}

/**
 * An app's answer, passed on in parts: a part leaves when a piece is full, the first carries the
 * status and headers, the last `end` (a small answer is one message).
 */
function answerInParts(res: IncomingMessage, send: (part: ReplyPart) => void): { data(c: Buffer): void; end(): void } {
  let first = true;
  let pending = Buffer.alloc(0);
  const flush = (last: boolean): void => {
    while (pending.length > PART_BYTES || (last && (pending.length > 0 || first))) {
      const piece = pending.subarray(0, PART_BYTES);
      pending = pending.subarray(piece.length);
      const end = last && pending.length === 0;
      send({ ...(first ? { status: res.statusCode ?? 502, headers: passOnHeaders(res.headers) } : {}), ...(piece.length ? { body: piece.toString('base64') } : {}), ...(end ? { end } : {}) });
      first = false;
    }
  };
  return {
    data(c) {
      pending = Buffer.concat([pending, c]);
      flush(false);
    },
    end: () => flush(true),
  };
}


class ServiceBusModule implements ServiceBus {
  readonly name = SERVICEBUS;
  readonly group = Group.servicebus;
  private ctx: ModuleContext | undefined;
  private server: Server | undefined;
  private readonly calls = new Map<string, AbortController>();

  constructor(private readonly cfg: ServiceBusConfig) {}

  port(): number {
    return boundPort(this.server);
  }

  private reply(to: Message, part: ReplyPart): void {
    try {
      this.ctx?.bus.send(EDGEHUB, responseTo(to, SERVICEBUS, part));
    } catch {
      /* the link is gone: the router answers its caller itself */
    }
  }

  /** a request from the cloud for an app on this edge */
  private serve(msg: Message): void {
    const r = msg.content;
    if (!isServiceRequest(r)) return this.reply(msg, { error: 'a service request needs method, a path starting with /, and a port', code: 400 });
    if (this.calls.size >= MAX_CONCURRENT) return this.reply(msg, { error: `${MAX_CONCURRENT} requests are already in progress at this edge`, code: 429 });
    const body = typeof r.body === 'string' ? Buffer.from(r.body, 'base64') : undefined;
    const abort = new AbortController();
    this.calls.set(msg.header.msg_id, abort);
    const done = (): boolean => this.calls.delete(msg.header.msg_id);
    const timer = setTimeout(() => {
      if (done()) this.reply(msg, { error: `the app on port ${r.port} did not answer within ${this.cfg.timeout} s`, code: 504 });
      abort.abort();
    }, this.cfg.timeout * 1000);
    const headers = { ...passOnHeaders(r.headers ?? {}), ...(body ? { 'content-length': String(body.length) } : {}) };
    const req = httpRequest({ host: '127.0.0.1', port: r.port, method: r.method, path: `${r.path}${r.query ? `?${r.query}` : ''}`, headers, signal: abort.signal }, (res) => {
      const parts = answerInParts(res, (part) => this.reply(msg, part));
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_HTTP_BODY_BYTES) return parts.data(c);
        clearTimeout(timer);
        if (done()) this.reply(msg, { error: `the app's answer is over ${MAX_HTTP_BODY_BYTES} bytes`, code: 502 });
        res.destroy();
      });
      res.on('end', () => {
        clearTimeout(timer);
        if (done()) parts.end();
      });
      res.on('error', () => undefined);
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (done()) this.reply(msg, { error: err.code === 'ECONNREFUSED' ? `no app listens on 127.0.0.1:${r.port}` : `the call to the app failed: ${errorText(err)}`, code: 502 });
    });
    req.end(body);
  }

  /** a local app's request for a cloud service (servicebus → rest) */
  private async local(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const fail = (code: number, message: string): void => void res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8' }).end(`${message}\n`);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const m = /^\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\/.*)$/.exec(url.pathname);
    if (!m) return fail(404, 'call http://127.0.0.1:9060/<namespace>/<path>: a rule with a servicebus source in that namespace passes it on');
    const body = await readBounded(req, MAX_HTTP_BODY_BYTES);
    if (!body) return fail(413, `the body is over ${MAX_HTTP_BODY_BYTES} bytes`);
    const msg = newMessage(
      { source: SERVICEBUS, group: Group.servicebus, operation: 'request', resource: `${m[1] as string}/servicebus${m[3] as string}` },
      { method: req.method ?? 'GET', path: m[3] as string, query: url.search.slice(1), headers: passOnHeaders(req.headers), ...(body.length ? { body: body.toString('base64') } : {}) },
    );
    let answer: Message;
    try {
      answer = await (this.ctx as ModuleContext).bus.sendSync(EDGEHUB, msg, this.cfg.timeout * 1000);
    } catch (err) {
      return fail(504, `no answer from the cloud within ${this.cfg.timeout} s: ${errorText(err)}`);
    }
    const part = (isObj(answer.content) ? answer.content : {}) as ReplyPart & { error?: unknown };
    if (typeof part.error === 'string') return fail(typeof part.code === 'number' ? part.code : 503, part.error);
    res.writeHead(part.status ?? 200, part.headers ?? {}).end(part.body ? Buffer.from(part.body, 'base64') : undefined);
  }

  private abortAll(): void {
    for (const a of this.calls.values()) a.abort(); // nobody waits for them any more
    this.calls.clear();
  }

  private handle(msg: Message): void {
    if (msg.route.source === EDGEHUB) {
      if (msg.route.operation === HubEvent.disconnected) this.abortAll();
      return;
    }
    if (msg.route.operation === Operation.cancel) {
      const id = (msg.content as { id?: unknown } | null)?.id;
      if (typeof id !== 'string') return;
      this.calls.get(id)?.abort();
      this.calls.delete(id);
      return;
    }
    if (msg.route.operation === 'request') return this.serve(msg);
    this.reply(msg, { error: `servicebus does not handle ${msg.route.operation}`, code: 400 });
  }

  async start(c: ModuleContext): Promise<void> {
    this.ctx = c;
    const cfg = this.cfg;
    if (!isLoopback(cfg.server)) throw new Error(`modules.serviceBus.server must be a loopback address, not ${cfg.server}`);
    c.bus.register(SERVICEBUS, Group.servicebus, (msg) => this.handle(msg), { queueLimit: 1000 });
    const server = (this.server = createServer((req, res) => {
      this.local(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500).end(`${errorText(err)}\n`);
      });
    }));
    await listen(server, cfg.port, cfg.server);
    c.log.info(`ServiceBus on http://${cfg.server}:${boundPort(server)}; calls apps on 127.0.0.1 only`);
  }

  async stop(): Promise<void> {
    this.abortAll();
    this.ctx?.bus.unregister(SERVICEBUS);
    await closeServer(this.server);
    this.server = undefined;
  }
}
