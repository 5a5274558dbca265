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
import { MAX_HTTP_BODY_BYTES, passOnHeaders } from '../../core/http.js';

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
  const cfg = deps.config;
  let ctx: ModuleContext | undefined;
  let server: Server | undefined;
  const calls = new Map<string, AbortController>();

  const reply = (to: Message, part: ReplyPart): void => {
    try {
      ctx?.bus.send(EDGEHUB, responseTo(to, SERVICEBUS, part));
    } catch {
      /* the link is gone: the router answers its caller itself */
    }
  };

  /** a request from the cloud for an app on this edge */
  const serve = (msg: Message): void => {
    const r = msg.content as Partial<ServiceRequest>;
    if (!isObj(r) || typeof r.method !== 'string' || !/^[A-Z]{3,10}$/.test(r.method) || typeof r.path !== 'string' || !r.path.startsWith('/') || typeof r.port !== 'number' || !Number.isInteger(r.port) || r.port < 1 || r.port > 65535) {
      return reply(msg, { error: 'a service request needs method, a path starting with /, and a port', code: 400 });
    }
    if (calls.size >= MAX_CONCURRENT) return reply(msg, { error: `${MAX_CONCURRENT} requests are already in progress at this edge`, code: 429 });
    const body = typeof r.body === 'string' ? Buffer.from(r.body, 'base64') : undefined;
    const abort = new AbortController();
    calls.set(msg.header.msg_id, abort);
    const done = (): boolean => calls.delete(msg.header.msg_id);
    const timer = setTimeout(() => {
      if (done()) reply(msg, { error: `the app on port ${r.port as number} did not answer within ${cfg.timeout} s`, code: 504 });
      abort.abort();
    }, cfg.timeout * 1000);
    const req = httpRequest(
      { host: '127.0.0.1', port: r.port, method: r.method, path: `${r.path}${r.query ? `?${r.query}` : ''}`, headers: { ...passOnHeaders(r.headers ?? {}), ...(body ? { 'content-length': String(body.length) } : {}) }, signal: abort.signal },
      (res) => {
        let first = true;
        let size = 0;
        let pending = Buffer.alloc(0);
        /** a part leaves when a piece is full; the last one carries `end` (a small answer is one message) */
        const send = (last: boolean): void => {
          while (pending.length > PART_BYTES || (last && (pending.length > 0 || first))) {
            const piece = pending.subarray(0, PART_BYTES);
            pending = pending.subarray(piece.length);
            const end = last && pending.length === 0;
            reply(msg, { ...(first ? { status: res.statusCode ?? 502, headers: passOnHeaders(res.headers) } : {}), ...(piece.length ? { body: piece.toString('base64') } : {}), ...(end ? { end } : {}) });
            first = false;
          }
        };
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_HTTP_BODY_BYTES) {
            clearTimeout(timer);
            if (done()) reply(msg, { error: `the app's answer is over ${MAX_HTTP_BODY_BYTES} bytes`, code: 502 });
            return res.destroy();
          }
          pending = Buffer.concat([pending, c]);
          send(false);
        });
        res.on('end', () => {
          clearTimeout(timer);
          if (!done()) return;
          send(true);
        });
        res.on('error', () => undefined);
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (!done()) return;
      reply(msg, { error: err.code === 'ECONNREFUSED' ? `no app listens on 127.0.0.1:${r.port as number}` : `the call to the app failed: ${errorText(err)}`, code: 502 });
    });
    req.end(body);
  };

  /** a local app's request for a cloud service (servicebus → rest) */
  const local = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const fail = (code: number, message: string): void => void res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8' }).end(`${message}\n`);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const m = /^\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\/.*)$/.exec(url.pathname);
    if (!m) return fail(404, 'call http://127.0.0.1:9060/<namespace>/<path>: a rule with a servicebus source in that namespace passes it on');
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > MAX_HTTP_BODY_BYTES) return fail(413, `the body is over ${MAX_HTTP_BODY_BYTES} bytes`);
      chunks.push(c as Buffer);
    }
    const body = Buffer.concat(chunks);
    const msg = newMessage(
      { source: SERVICEBUS, group: Group.servicebus, operation: 'request', resource: `${m[1] as string}/servicebus${m[3] as string}` },
      { method: req.method ?? 'GET', path: m[3] as string, query: url.search.slice(1), headers: passOnHeaders(req.headers), ...(body.length ? { body: body.toString('base64') } : {}) },
    );
    let answer: Message;
    try {
      answer = await (ctx as ModuleContext).bus.sendSync(EDGEHUB, msg, cfg.timeout * 1000);
    } catch (err) {
      return fail(504, `no answer from the cloud within ${cfg.timeout} s: ${errorText(err)}`);
    }
    const part = (isObj(answer.content) ? answer.content : {}) as ReplyPart & { error?: unknown };
    if (typeof part.error === 'string') return fail(typeof part.code === 'number' ? part.code : 503, part.error);
    res.writeHead(part.status ?? 200, part.headers ?? {}).end(part.body ? Buffer.from(part.body, 'base64') : undefined);
  };

  const handle = (msg: Message): void => {
    if (msg.route.source === EDGEHUB) {
      if (msg.route.operation === HubEvent.disconnected) {
        for (const a of calls.values()) a.abort(); // nobody waits for them any more
        calls.clear();
      }
      return;
    }
    if (msg.route.operation === Operation.cancel) {
      const id = (msg.content as { id?: unknown } | null)?.id;
      if (typeof id === 'string') {
        calls.get(id)?.abort();
        calls.delete(id);
      }
      return;
    }
    if (msg.route.operation === 'request') return serve(msg);
    reply(msg, { error: `servicebus does not handle ${msg.route.operation}`, code: 400 });
  };

  return {
    name: SERVICEBUS,
    group: Group.servicebus,
    port: () => boundPort(server),
    async start(c) {
      ctx = c;
      if (!isLoopback(cfg.server)) throw new Error(`modules.serviceBus.server must be a loopback address, not ${cfg.server}`);
      c.bus.register(SERVICEBUS, Group.servicebus, handle, { queueLimit: 1000 });
      server = createServer((req, res) => {
        local(req, res).catch((err: unknown) => {
          if (!res.headersSent) res.writeHead(500).end(`${errorText(err)}\n`);
        });
      });
      await listen(server, cfg.port, cfg.server);
      c.log.info(`ServiceBus on http://${cfg.server}:${boundPort(server)}; calls apps on 127.0.0.1 only`);
    },
    async stop() {
      for (const a of calls.values()) a.abort();
      calls.clear();
      ctx?.bus.unregister(SERVICEBUS);
      await closeServer(server);
      server = undefined;
    },
  } satisfies ServiceBus;
}
