/**
 * MetaServer: a read API for local apps over the objects the edge holds (pods, configmaps, secrets,
 * devices, devicemodels), answering while the cloud is away, so an app can read its config offline.
 * Loopback only. Kubernetes' paths; `?watch=true` streams one JSON event a line.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../../core/log.js';
import { parseResource } from '../../core/message.js';
import { apiVersionOf, parsePath } from '../../api/resources.js';
import type { KubeObject } from '../../api/object.js';
import { boundPort, closeServer, isLoopback, listen, splitHostPort } from '../../core/net.js';
import type { MetaObject, MetaStore } from './store.js';
import type { OutboxStats } from './outbox.js';
import { readinessText, type ReadinessCheck } from '../../core/health.js';

export interface MetaServer {
  start(): Promise<void>;
  stop(): Promise<void>;
  port(): number;
  changed(resource: string, operation: string): void;
}

const MAX_WATCHERS = 32;
/** the kinds the edge holds (a node's own Node object is the cloud's) */
const SERVED = ['pod', 'configmap', 'secret', 'device', 'devicemodel'];

export interface MetaServerDeps {
  address: string;
  store: MetaStore;
  log: Logger;
  outbox?: () => OutboxStats | undefined;
  /** the object as apps see it (a pod with the status Edged gives it) */
  present?: (kind: string, obj: KubeObject) => KubeObject;
  /** what /readyz checks: each part of the edge, ok or why not */
  readiness?: () => ReadinessCheck[];
  /** Prometheus' text for /metrics */
  metrics?: () => string;
}

type Watcher = { res: ServerResponse; kind: string; namespace: string | undefined };

/** the kind, namespace and name a path asks for, when MetaServer serves it */
function route(path: string): { kind: string; namespace: string | undefined; name: string | undefined; list: { apiVersion: string; kind: string } } | undefined {
  const p = parsePath(path);
  if (!p || !SERVED.includes(p.type.kind) || p.subresource !== undefined || (p.name !== undefined && p.namespace === undefined)) return undefined;
  return { kind: p.type.kind, namespace: p.namespace, name: p.name, list: { apiVersion: apiVersionOf(p.type), kind: `${p.type.kindName}List` } };
}

const json = (res: ServerResponse, code: number, body: unknown): void => void res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
const failure = (res: ServerResponse, code: number, reason: string, message: string): void => json(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });

/** health, readiness, metrics and the outbox: what is not an object */
function serveStatus(deps: MetaServerDeps, path: string, res: ServerResponse): boolean {
  if (path === '/healthz' || path === '/livez') res.end('ok');
  else if (path === '/readyz') {
    // ready: every part of the edge works (the link, the store, the broker); 503 names what does not
    const r = readinessText(deps.readiness?.() ?? []);
    res.writeHead(r.ok ? 200 : 503, { 'content-type': 'text/plain' }).end(r.text);
  } else if (path === '/metrics' && deps.metrics) res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(deps.metrics());
  // what waits for the cloud: messages queued, collapsed and dropped since start
  else if (path === '/outbox') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(deps.outbox?.() ?? {}));
  else return false;
  return true;
}

export function createMetaServer(deps: MetaServerDeps): MetaServer {
  let server: Server | undefined;
  const watchers = new Set<Watcher>();
  const show = (kind: string, value: unknown): unknown => (deps.present ? deps.present(kind, value as KubeObject) : value);
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET') return failure(res, 405, 'MethodNotAllowed', 'read only');
    if (serveStatus(deps, url.pathname, res)) return;
    const t = route(url.pathname);
    if (!t) return failure(res, 404, 'NotFound', `no resource at ${url.pathname}`);
    if (url.searchParams.get('watch') === 'true') {
      if (watchers.size >= MAX_WATCHERS) return failure(res, 429, 'TooManyRequests', 'too many watchers');
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      const w = { res, kind: t.kind, namespace: t.namespace };
      watchers.add(w);
      res.on('close', () => watchers.delete(w));
      return;
    }
    if (t.name === undefined) return json(res, 200, { ...t.list, items: deps.store.list(t.kind, t.namespace).map((o: MetaObject) => show(t.kind, o.value)) });
    const o = deps.store.get(`${t.namespace}/${t.kind}/${t.name}`);
    return o ? json(res, 200, show(t.kind, o.value)) : failure(res, 404, 'NotFound', `${t.kind}s "${t.name}" not found`);
  };

  return {
    port: () => boundPort(server),
    async start() {
      const { host, port } = splitHostPort(deps.address);
      if (!isLoopback(host)) throw new Error(`modules.metaManager.metaServer.server must be a loopback address, not ${deps.address}`);
      server = createServer(handle);
      await listen(server, port, host);
      deps.log.info(`MetaServer on http://${host}:${this.port()}`);
    },
    changed(resource, operation) {
      const key = watchers.size > 0 ? parseResource(resource) : undefined;
      if (!key) return;
      const obj = deps.store.get(resource);
      const type = operation === 'delete' ? 'DELETED' : operation === 'insert' ? 'ADDED' : 'MODIFIED';
      const line = JSON.stringify({ type, object: obj ? show(key.kind, obj.value) : { metadata: { namespace: key.namespace, name: key.name } } }) + '\n';
      for (const w of watchers) {
        if (w.kind !== key.kind || (w.namespace !== undefined && w.namespace !== key.namespace)) continue;
        // a watcher that cannot keep up is dropped rather than buffered without bound
        if (w.res.writableLength > 1024 * 1024) w.res.destroy();
        else w.res.write(line);
      }
    },
    async stop() {
      for (const w of watchers) w.res.destroy();
      watchers.clear();
      await closeServer(server);
      server = undefined;
    },
  };
}
