/**
 * The resource API: HTTPS with the cloud's server certificate, `Authorization: Bearer <admin token>`,
 * at Kubernetes' own paths for every type of `api/resources.ts`:
 *   /api/v1/nodes[/{name}]                                      GET, PUT (labels and annotations), DELETE
 *   /api/v1/namespaces/{ns}/{pods|configmaps|secrets}[/{name}]  GET, POST, PUT, DELETE
 *   /api/v1/namespaces/{ns}/pods/{name}/status                  GET
 *   /api/v1/namespaces/{ns}/pods/{name}/log                     GET (?container=&tailLines=&follow=true), from the edge
 *   /apis/devices.kubeedge.io/v1beta1/namespaces/{ns}/{devices|devicemodels}[/{name}]   GET, POST, PUT, DELETE
 *   and every collection across namespaces (`/api/v1/pods`), GET.
 * Errors are Kubernetes Status objects with the matching HTTP code.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { readinessText, type ReadinessCheck } from '../../core/health.js';
import type { Module, ModuleContext } from '../../core/module.js';
import type { Logger } from '../../core/log.js';
import { errorText } from '../../core/errors.js';
import { boundPort, closeServer, listen } from '../../core/net.js';
import { counter, gauge, renderMetrics, type Family } from '../../core/metrics.js';
import { parsePath } from '../../api/resources.js';
import type { ApiServerConfig } from '../../api/config/cloudcore.js';
import type { ObjectStore } from '../store/objects.js';
import type { NodeLiveStatus } from '../edgecontroller/index.js';
import type { EdgeCalls } from '../cloudhub/index.js';
import type { EventLog } from '../events.js';
import { ApiError } from './status.js';
import { authorize, TOKEN_NEEDED, type Role, type Tokens } from './auth.js';
import { presenter } from './present.js';
import { discovery } from './discovery.js';
import { WatchHub } from './watch.js';
import { createExecServer, execRequest, refuseUpgrade, type ExecServer } from './exec.js';
import { METRICS_GROUP_VERSION, createMetricsApi } from './top.js';
import { serveEvents } from './events.js';
import { serveResource, type ResourceContext } from './resources.js';

export { TOKEN_NEEDED, type Role } from './auth.js';
export { UNSCHEDULABLE_TAINT } from './write.js';

export interface ApiServerDeps extends Tokens {
  config: ApiServerConfig;
  tls: () => { cert: Buffer; key: Buffer };
  store: ObjectStore;
  liveStatus: (node: string) => NodeLiveStatus | undefined;
  /** requests to a connected edge (pod logs) */
  edges: EdgeCalls;
  /** what /readyz checks: each part of the cloud, ok or why not */
  readiness?: () => ReadinessCheck[];
  /** Events: served at /api/v1/events; a refused manifest is one */
  events?: EventLog;
  /** the rest of /metrics (the other modules', the process') */
  metrics?: () => Family[];
  /** requests under /ui/ (the dashboard): undefined when it is not one of its paths */
  ui?: (req: IncomingMessage, res: ServerResponse, url: URL, role: Role | undefined) => Promise<boolean>;
}

export interface ApiServer extends Module {
  port(): number;
}

const VERBS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** API requests by verb and code, for /metrics (bounded: the methods HTTP has, the codes it has) */
function requestCounter(): { count(req: IncomingMessage, res: ServerResponse): void; family(): Family } {
  const requests = new Map<string, number>();
  return {
    count(req, res) {
      const m = req.method ?? 'OTHER';
      const verb = m === 'GET' && /[?&]watch=(true|1)(&|$)/.test(req.url ?? '') ? 'WATCH' : VERBS.has(m) ? m : 'OTHER';
      const key = `${verb} ${res.statusCode}`;
      requests.set(key, (requests.get(key) ?? 0) + 1);
    },
    family: () =>
      counter('cloudcore_api_requests_total', 'Requests to the resource API, by verb and HTTP code.', [...requests].map(([k, value]) => {
        const [verb, code] = k.split(' ') as [string, string];
        return { labels: { verb, code }, value };
      })),
  };
}

export function createApiServer(deps: ApiServerDeps): ApiServer {
  let server: Server | undefined;
  let ctx: ModuleContext | undefined;
  const present = presenter(deps.store, deps.liveStatus);
  const watches = new WatchHub(deps.store, present);
  const execs = createExecServer(deps.edges);
  const requests = requestCounter();
  const metricsText = (): string => renderMetrics([requests.family(), gauge('cloudcore_watches', 'Watches open on the resource API.', watches.size), ...(deps.metrics?.() ?? [])]);
  const resources: ResourceContext = { store: deps.store, events: deps.events, present, log: () => ctx?.log, edges: deps.edges, watches };
  const handle = frontDoor(deps, { metricsText, usage: createMetricsApi(deps), resources });

  return {
    name: 'apiserver',
    group: 'apiserver',
    port: () => boundPort(server),
    async start(c) {
      ctx = c;
      const { cert, key } = deps.tls();
      server = createServer({ cert, key, minVersion: 'TLSv1.2' }, (req, res) => {
        res.on('finish', () => requests.count(req, res));
        handle(req, res).catch((err: unknown) => {
          const e = err instanceof ApiError ? err : new ApiError('InternalError', errorText(err));
          if (e.code >= 500 && e.code !== 503) c.log.error(`${req.method} ${req.url}: ${e.message}`);
          if (!res.headersSent) res.writeHead(e.code, { 'content-type': 'application/json' }).end(JSON.stringify(e.toStatus()));
          else res.destroy();
        });
      });
      // kubectl exec and attach: a WebSocket each (exec.ts)
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => upgrade(deps, execs, c.log, req, socket, head));
      await listen(server, deps.config.port, deps.config.address);
      c.log.info(`resource API on https://${deps.config.address}:${this.port()}`);
    },
    async stop() {
      watches.close();
      execs.close();
      await closeServer(server);
      server = undefined;
    },
  } satisfies ApiServer;
}

/**
 * Every request but an upgrade: health to anyone; the dashboard's page without a token (it asks for
 * one), its data with one; then /metrics, discovery, metrics.k8s.io, events and the resources.
 */
function frontDoor(
  deps: ApiServerDeps,
  parts: { metricsText(): string; usage: ReturnType<typeof createMetricsApi>; resources: ResourceContext },
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const json = (res: ServerResponse, body: unknown): void => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'https://localhost');
    const method = req.method ?? 'GET';
    // health, as Kubernetes serves it: to anyone (it says which part fails, nothing of the objects)
    if (method === 'GET' && (url.pathname === '/healthz' || url.pathname === '/livez')) return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    if (method === 'GET' && url.pathname === '/readyz') {
      const r = readinessText(deps.readiness?.() ?? []);
      return void res.writeHead(r.ok ? 200 : 503, { 'content-type': 'text/plain' }).end(r.text);
    }
    const role = authorize(req, deps);
    if (deps.ui && url.pathname.startsWith('/ui') && (await deps.ui(req, res, url, role))) return;
    if (!role) throw new ApiError('Unauthorized', TOKEN_NEEDED);
    if (role === 'read' && method !== 'GET' && method !== 'HEAD') throw new ApiError('Forbidden', `a read-only token cannot ${method} ${url.pathname}: use the admin token`);
    if (method === 'GET' && url.pathname === '/metrics') return void res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(parts.metricsText());
    const found = method === 'GET' ? discovery(url.pathname, req.headers.host ?? '', req.headers.accept ?? '') : undefined;
    if (found && Buffer.isBuffer(found.body)) return void res.writeHead(200, { 'content-type': found.contentType ?? 'application/octet-stream' }).end(found.body);
    if (found) return json(res, found.body);
    // kubectl top: what edges say they use
    if (method === 'GET' && url.pathname.startsWith(`/apis/${METRICS_GROUP_VERSION}/`)) {
      const answer = await parts.usage.serve(url.pathname, url.searchParams);
      if (answer !== undefined) return json(res, answer);
    }
    // the events of the last while (kubectl get events [-w], describe), newest last
    if (serveEvents(deps.events, req, res, url)) return;
    return serveResource(parts.resources, req, res, url);
  };
}

/** kubectl exec and attach: a pod's exec or attach path, an admin token, a pod on a connected edge */
function upgrade(deps: ApiServerDeps, execs: ExecServer, log: Logger, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => socket.destroy());
  try {
    const url = new URL(req.url ?? '/', 'https://localhost');
    const role = authorize(req, deps);
    if (!role) throw new ApiError('Unauthorized', TOKEN_NEEDED);
    const t = parsePath(url.pathname);
    if (t?.type.kind !== 'pod' || (t.subresource !== 'exec' && t.subresource !== 'attach') || t.name === undefined || t.namespace === undefined) throw new ApiError('NotFound', `nothing to upgrade to at ${url.pathname}`);
    if (role !== 'admin') throw new ApiError('Forbidden', `a read-only token cannot ${t.subresource} into a pod: use the admin token`);
    const r = execRequest(t, deps.store.get('pod', t.namespace, t.name)?.object, url.searchParams, deps.edges.connected);
    log.info(`${t.subresource} in pod ${t.namespace}/${t.name} (container ${r.container}) on node ${r.node}`);
    execs.serve(req, socket, head, r);
  } catch (err) {
    refuseUpgrade(socket, err instanceof ApiError ? err : new ApiError('InternalError', errorText(err)));
  }
}
