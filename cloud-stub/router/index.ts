/**
 * The router (KubeEdge's `modules.router`): moves messages between REST endpoints in the cloud and
 * edges' EventBus and ServiceBus, by the Rules users declare.
 *   rest → eventbus     POST http://<cloud>:9443/<node>/<namespace>/<path>: the body is published on
 *                       that node's broker at targetResource.topic (200 once it is)
 *   eventbus → rest     what an edge app publishes on <namespace>/<sourceResource.topic> is POSTed to
 *                       targetResource.resource, in order, retried while it fails (queue.ts)
 *   rest → servicebus   the request crosses the link and is made to the edge app on
 *                       127.0.0.1:<service_port><targetResource.path>; its answer comes back
 *   servicebus → rest   (ours) a local app's request to its edge's ServiceBus, to a REST endpoint
 * KubeEdge serves the router as plain HTTP on every address; this one listens on loopback unless
 * told otherwise, and on any other address requires TLS (the cloud's server certificate) and the
 * admin bearer token. An offline node is a 503 at once; no answer within restTimeout is a 504.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { timingSafeEqual } from 'node:crypto';
import type { Module, ModuleContext } from '../../core/module.js';
import { errorText } from '../../core/errors.js';
import { Group, newMessage, responseTo, type Message, type ReplyPart } from '../../core/message.js';
import { boundPort, closeServer, isLoopback, listen } from '../../core/net.js';
import { openJournal, type Journal } from '../../core/journal.js';
import { isObj } from '../../core/guards.js';
import { MAX_HTTP_BODY_BYTES, passOnHeaders } from '../../core/http.js';
import type { CloudCoreConfig } from '../../api/config/cloudcore.js';
import type { ChangeEvent, ObjectStore } from '../store/objects.js';
import type { EdgeCalls } from '../cloudhub/index.js';
import { splitNodeResource, toEdge } from '../routes.js';
import { bestRule, loadRule, loadRules, type RouteRule } from './rules.js';
import { RuleQueues } from './queue.js';
import { afterPost, contentTypeOf, nextSend } from './send.js';

export type RouterConfig = CloudCoreConfig['modules']['router'];

export const ROUTER = 'router';
/** requests in progress to one node at once (429 above) */
export const MAX_IN_FLIGHT_PER_NODE = 16;
/** messages waiting for one rule's REST target */
const QUEUE_LIMIT = 10_000;
const KEEP_ERRORS = 5;

export interface RouterDeps {
  config: RouterConfig;
  store: ObjectStore;
  edges: EdgeCalls;
  /** the router's queue journal: `<cloudcore dataSource>.router` */
  dataSource: string;
  tls: () => { cert: Buffer; key: Buffer };
  token: () => string;
}

export interface Router extends Module {
  port(): number;
  /**
   * An upload from an edge's outbox (`version`: its `<storeId>/<seq>`): queued for the rules whose
   * eventbus source it is, once each however often it is resent; resolves once on disk.
   */
  fromEdge(node: string, topic: string, payload: unknown, version: string): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_HTTP_BODY_BYTES) throw new HttpError(413, `the body of ${declared} bytes is over the router's ${MAX_HTTP_BODY_BYTES}-byte limit`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_HTTP_BODY_BYTES) throw new HttpError(413, `the body is over the router's ${MAX_HTTP_BODY_BYTES}-byte limit`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

export function createRouter(deps: RouterDeps): Router {
  const cfg = deps.config;
  const timeoutMs = cfg.restTimeout * 1000;
  let ctx: ModuleContext | undefined;
  let server: Server | undefined;
  let journal: Journal | undefined;
  let queues: RuleQueues | undefined;
  let stopped = true;
  const inFlight = new Map<string, number>();
  const workers = new Map<string, { timer?: NodeJS.Timeout; backoffMs: number; busy: boolean }>();
  const counts = new Map<string, { successMessages: number; failMessages: number; errors: string[] }>();

  // --- rule status: success and failure counts and the last errors, written lazily ---

  const countsOf = (key: string): { successMessages: number; failMessages: number; errors: string[] } => {
    let c = counts.get(key);
    if (!c) {
      const [ns, name] = key.split('/') as [string, string];
      const have = deps.store.status('rule', ns, name)?.status as { successMessages?: number; failMessages?: number; errors?: string[] } | undefined;
      counts.set(key, (c = { successMessages: have?.successMessages ?? 0, failMessages: have?.failMessages ?? 0, errors: have?.errors ?? [] }));
    }
    return c;
  };
  const record = (rule: RouteRule, ok: boolean, error?: string): void => {
    const c = countsOf(rule.key);
    if (ok) c.successMessages++;
    else {
      c.failMessages++;
      if (error) c.errors = [...c.errors, `${new Date().toISOString()} ${error}`].slice(-KEEP_ERRORS);
    }
    deps.store.setStatusLazily('rule', rule.namespace, rule.name, { successMessages: c.successMessages, failMessages: c.failMessages, errors: c.errors });
  };
  const noteProblem = (rule: RouteRule): void => {
    const c = countsOf(rule.key);
    const line = `rule cannot run: ${rule.problem ?? ''}`;
    if (c.errors.at(-1)?.endsWith(line)) return;
    c.errors = [...c.errors, `${new Date().toISOString()} ${line}`].slice(-KEEP_ERRORS);
    deps.store.setStatusLazily('rule', rule.namespace, rule.name, { successMessages: c.successMessages, failMessages: c.failMessages, errors: c.errors });
  };

  // --- calls to an edge, answered in parts ---

  /** sends a request to a node and gathers its answer: the parts' status, headers and body */
  const callEdge = (node: string, msg: Message): Promise<{ status: number; headers: Record<string, string | string[]>; body: Buffer }> => {
    if (!deps.edges.connected(node)) return Promise.reject(new HttpError(503, `node ${node} is not connected`));
    const n = inFlight.get(node) ?? 0;
    if (n >= MAX_IN_FLIGHT_PER_NODE) return Promise.reject(new HttpError(429, `${MAX_IN_FLIGHT_PER_NODE} requests to node ${node} are already in progress`));
    inFlight.set(node, n + 1);
    return new Promise<{ status: number; headers: Record<string, string | string[]>; body: Buffer }>((resolve, reject) => {
      let status = 200;
      let headers: Record<string, string | string[]> = {};
      const body: Buffer[] = [];
      let size = 0;
      const call = deps.edges.call(node, msg, (part: ReplyPart) => {
        if (part.error !== undefined) return finish(new HttpError(part.code ?? 502, part.error));
        if (part.status !== undefined) status = part.status;
        if (part.headers) headers = part.headers;
        if (part.body) {
          const b = Buffer.from(part.body, 'base64');
          size += b.length;
          if (size > MAX_HTTP_BODY_BYTES) {
            call.cancel();
            return finish(new HttpError(502, `the edge app's answer is over ${MAX_HTTP_BODY_BYTES} bytes`));
          }
          body.push(b);
        }
        if (part.end) finish();
      });
      const timer = setTimeout(() => {
        call.cancel();
        finish(new HttpError(504, `node ${node} did not answer within restTimeout (${cfg.restTimeout} s)`));
      }, timeoutMs);
      let done = false;
      function finish(err?: Error): void {
        if (done) return;
        done = true;
        clearTimeout(timer);
        inFlight.set(node, (inFlight.get(node) ?? 1) - 1);
        if (err) reject(err);
        else resolve({ status, headers, body: Buffer.concat(body) });
      }
    });
  };

  // --- rest → eventbus and rest → servicebus ---

  const authorized = (req: IncomingMessage): boolean => {
    if (isLoopback(cfg.address)) return true;
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!m) return false;
    const given = Buffer.from(m[1] as string);
    const want = Buffer.from(deps.token());
    return given.length === want.length && timingSafeEqual(given, want);
  };

  const ingress = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!authorized(req)) throw new HttpError(401, 'a valid "Authorization: Bearer <admin token>" header is required');
    const url = new URL(req.url ?? '/', 'http://localhost');
    const m = /^\/([a-z0-9][-a-z0-9.]*)\/([a-z0-9][-a-z0-9]*)(\/.*)?$/.exec(url.pathname);
    if (!m) throw new HttpError(404, 'the router takes /<node>/<namespace>/<path>');
    const [, node, namespace, path = '/'] = m as unknown as [string, string, string, string?];
    const found = bestRule(loadRules(deps.store, namespace), 'rest', path);
    if (!found) throw new HttpError(404, `no rule in namespace ${namespace} has a rest source matching ${path}`);
    const { rule, remainder } = found;
    if (rule.problem) {
      noteProblem(rule);
      throw new HttpError(404, `rule ${rule.key} cannot run: ${rule.problem}`);
    }
    const body = await readBody(req);
    try {
      if (rule.target?.type === 'eventbus') {
        const topic = rule.targetResource.topic as string;
        await callEdge(node, newMessage({ source: ROUTER, group: Group.user, operation: 'publish', resource: topic }, { payload: body.toString('base64') }));
        record(rule, true);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'published', node, topic }));
        return;
      }
      const port = Number(rule.target?.properties.service_port);
      const content = { method: req.method ?? 'GET', path: `${rule.targetResource.path === '/' ? '' : (rule.targetResource.path as string).replace(/\/$/, '')}${remainder}` || '/', query: url.search.slice(1), headers: passOnHeaders(req.headers, ['authorization']), port, ...(body.length ? { body: body.toString('base64') } : {}) };
      const answer = await callEdge(node, newMessage({ source: ROUTER, group: Group.servicebus, operation: 'request', resource: `${namespace}/servicebus/${rule.target?.name ?? ''}` }, content));
      record(rule, answer.status < 500);
      res.writeHead(answer.status, answer.headers).end(answer.body);
    } catch (err) {
      record(rule, false, errorText(err));
      throw err;
    }
  };

  // --- servicebus → rest: a local app's request from an edge ---

  const restCall = async (url: string, method: string, headers: Record<string, string | string[]>, body: Buffer | undefined): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> => {
    const r = await fetch(url, { method, headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v])), ...(body && body.length ? { body: new Uint8Array(body) } : {}), signal: AbortSignal.timeout(timeoutMs) });
    const bytes = Buffer.from(await r.arrayBuffer());
    // fetch has decoded the body: its content-encoding is no longer true of it
    const h = passOnHeaders(Object.fromEntries(r.headers), ['content-encoding']) as Record<string, string>;
    return { status: r.status, headers: h, body: bytes };
  };

  const fromEdgeRequest = (msg: Message): void => {
    const target = splitNodeResource(msg.route.resource);
    if (!target) return;
    const node = target.node;
    const answer = (part: ReplyPart): void => toEdge(ctx, responseTo(msg, ROUTER, part));
    const r = msg.content as { method?: unknown; path?: unknown; query?: unknown; headers?: unknown; body?: unknown };
    const namespace = target.resource.split('/')[0] ?? '';
    if (!isObj(r) || typeof r.method !== 'string' || typeof r.path !== 'string') return answer({ error: 'a servicebus request needs method and path', code: 400 });
    const found = bestRule(loadRules(deps.store, namespace), 'servicebus', r.path, node);
    if (!found) return answer({ error: `no rule in namespace ${namespace} has a servicebus source matching ${r.path}`, code: 404 });
    const { rule, remainder } = found;
    if (rule.problem) {
      noteProblem(rule);
      return answer({ error: `rule ${rule.key} cannot run: ${rule.problem}`, code: 404 });
    }
    const url = `${(rule.targetResource.resource as string).replace(/\/$/, '')}${remainder}${typeof r.query === 'string' && r.query ? `?${r.query}` : ''}`;
    const body = typeof r.body === 'string' ? Buffer.from(r.body, 'base64') : undefined;
    restCall(url, r.method, isObj(r.headers) ? (r.headers as Record<string, string | string[]>) : {}, body).then(
      (res) => {
        record(rule, res.status < 500);
        if (res.body.length > MAX_HTTP_BODY_BYTES) return answer({ error: `the answer of ${url} is over ${MAX_HTTP_BODY_BYTES} bytes`, code: 502 });
        answer({ status: res.status, headers: res.headers, body: res.body.toString('base64'), end: true });
      },
      (err: unknown) => {
        record(rule, false, `${url}: ${errorText(err)}`);
        answer({ error: `${url}: ${errorText(err)}`, code: (err as Error).name === 'TimeoutError' ? 504 : 502 });
      },
    );
  };

  // --- eventbus → rest ---

  const kick = (ruleKey: string): void => {
    if (stopped || !queues) return;
    let w = workers.get(ruleKey);
    if (!w) workers.set(ruleKey, (w = { backoffMs: 0, busy: false }));
    const worker = w;
    const head = queues.head(ruleKey);
    const [ns, name] = ruleKey.split('/') as [string, string];
    let rule: RouteRule | undefined;
    const step = nextSend({ busy: worker.busy, waiting: worker.timer !== undefined }, head !== undefined, () => {
      rule = loadRule(deps.store, ns, name);
      return rule && { problem: rule.problem, targetIsRest: rule.target?.type === 'rest' };
    });
    const later = (ms: number): void => {
      worker.timer = setTimeout(() => {
        worker.timer = undefined;
        kick(ruleKey);
      }, ms);
    };
    if (step.step === 'drop') return void ctx?.log.info(`rule ${ruleKey} is gone: ${queues.drop(ruleKey)} message(s) waiting for it dropped`);
    const loaded: RouteRule | undefined = rule;
    if (step.step === 'idle' || !loaded || !head) return;
    if (step.step === 'retry') {
      noteProblem(loaded);
      return later(step.inMs);
    }
    worker.busy = true;
    const payload = Buffer.from(head.payload, 'base64');
    const url = loaded.targetResource.resource as string;
    const headers = { 'content-type': contentTypeOf(payload), 'x-kubeedge-node': head.node, 'x-kubeedge-topic': head.topic, 'x-kubeedge-rule': ruleKey, 'x-kubeedge-message-id': String(head.seq) };
    restCall(url, 'POST', headers, payload)
      .then((res) => {
        if (res.status < 200 || res.status >= 300) throw new Error(`HTTP ${res.status}`);
      })
      .then(
        () => {
          queues?.done(ruleKey);
          record(loaded, true);
          return afterPost(worker.backoffMs, true);
        },
        (err: unknown) => {
          record(loaded, false, `POST ${url}: ${errorText(err)}`);
          const next = afterPost(worker.backoffMs, false);
          if (next.firstFailure) ctx?.log.warn(`rule ${ruleKey}: POST ${url} failed (${errorText(err)}); ${queues?.size(ruleKey) ?? 0} message(s) wait, retrying with back-off`);
          return next;
        },
      )
      .then((next) => {
        worker.busy = false;
        worker.backoffMs = next.backoffMs;
        if (next.nextInMs === 0) kick(ruleKey);
        else later(next.nextInMs);
      });
  };

  const onChange = (ev: ChangeEvent): void => {
    if (ev.kind !== 'rule' && ev.kind !== 'ruleendpoint') return;
    for (const key of queues?.rules() ?? []) kick(key);
  };

  return {
    name: ROUTER,
    group: ROUTER,
    port: () => boundPort(server),
    async fromEdge(node, topic, payload, version) {
      if (!queues) return;
      const slash = topic.indexOf('/');
      if (slash <= 0) return;
      const namespace = topic.slice(0, slash);
      const sub = topic.slice(slash + 1);
      for (const rule of loadRules(deps.store, namespace)) {
        if (rule.source?.type !== 'eventbus' || rule.sourceResource.topic !== sub || rule.sourceResource.node_name !== node) continue;
        const bytes = Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
        const dropped = await queues.add(rule.key, { node, topic, payload: bytes.toString('base64'), at: Date.now() }, version);
        if (dropped) record(rule, false, `queue full (${QUEUE_LIMIT}): dropped the oldest message, from ${new Date(dropped.at).toISOString()}`);
        kick(rule.key);
      }
    },
    async start(c) {
      ctx = c;
      stopped = false;
      journal = await openJournal(deps.dataSource === ':memory:' ? ':memory:' : `${deps.dataSource}.router`, c.log.child('queue'));
      queues = new RuleQueues(journal, QUEUE_LIMIT);
      c.bus.register(ROUTER, ROUTER, (msg) => {
        if (msg.route.operation === 'request') fromEdgeRequest(msg);
      }, { queueLimit: 10_000 });
      deps.store.events.on('change', onChange);
      const loopback = isLoopback(cfg.address);
      const handler = (req: IncomingMessage, res: ServerResponse): void => {
        ingress(req, res).catch((err: unknown) => {
          const code = err instanceof HttpError ? err.code : 500;
          if (code >= 500 && code !== 503 && code !== 504) c.log.error(`${req.method ?? ''} ${req.url ?? ''}: ${errorText(err)}`);
          if (!res.headersSent) res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify({ code, message: errorText(err) }));
          req.resume();
        });
      };
      server = loopback ? createHttpServer(handler) : createHttpsServer({ ...deps.tls(), minVersion: 'TLSv1.2' }, handler);
      await listen(server, cfg.port, cfg.address);
      c.log.info(`router on ${loopback ? 'http' : 'https'}://${cfg.address}:${boundPort(server)}/<node>/<namespace>/<path>${loopback ? '' : ' (bearer token required)'}`);
      for (const key of queues.rules()) kick(key);
    },
    async stop() {
      stopped = true;
      for (const w of workers.values()) clearTimeout(w.timer);
      deps.store.events.off('change', onChange);
      ctx?.bus.unregister(ROUTER);
      await closeServer(server);
      await journal?.close();
      server = undefined;
    },
  } satisfies Router;
}
