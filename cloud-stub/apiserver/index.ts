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
import { timingSafeEqual } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { readinessText, type ReadinessCheck } from '../../core/health.js';
import type { Module, ModuleContext } from '../../core/module.js';
import { errorText } from '../../core/errors.js';
import { boundPort, closeServer, listen } from '../../core/net.js';
import { apiVersionOf, parsePath, type ApiPath } from '../../api/resources.js';
import { resourceRoute } from './route.js';
import type { ApiServerConfig } from '../../api/config/cloudcore.js';
import { CLUSTER_NAMESPACE, type KubeObject, type ObjectStore, type StoredObject } from '../store/objects.js';
import type { NodeLiveStatus } from '../edgecontroller/index.js';
import { ApiError } from './status.js';
import { validateObject } from './validate.js';
import { dropUnknownFields, duplicateFields, fieldValidationOf, judgeFields, warningHeader } from './fields.js';
import type { EndpointType } from '../../api/rules.js';
import { presenter } from './present.js';
import { discovery } from './discovery.js';
import { fieldSelector, labelSelector } from './selectors.js';
import { table, wantsTable } from './table.js';
import { WatchHub } from './watch.js';
import { jsonPatch, mergePatch, strategicMergePatch } from './patch.js';
import { streamPodLog } from './logs.js';
import { createExecServer, execRequest, refuseUpgrade } from './exec.js';
import { METRICS_GROUP_VERSION, createMetricsApi } from './top.js';
import { serveEvents } from './events.js';
import { counter, gauge, renderMetrics, type Family } from '../../core/metrics.js';
import type { EdgeCalls } from '../cloudhub/index.js';
import { refOf, type EventLog } from '../events.js';

export interface ApiServerDeps {
  config: ApiServerConfig;
  tls: () => { cert: Buffer; key: Buffer };
  token: () => string;
  /** a read-only token (the dashboard's, Prometheus'): ok, or why not */
  readOnly?: (token: string) => { ok: true } | { ok: false; reason: string };
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

/** what a request without a valid token is told */
export const TOKEN_NEEDED = 'a valid "Authorization: Bearer <token>" header is required (the admin token, or a read-only one from "keadm gettoken --read-only")';

/** what a bearer token may do: everything, or read (GET) */
export type Role = 'admin' | 'read';

export interface ApiServer extends Module {
  port(): number;
}

const MAX_BODY = 1024 * 1024;
const VERBS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ApiError('BadRequest', `request body is not JSON: ${errorText(err)}`);
  }
}

async function readRaw(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new ApiError('RequestEntityTooLarge', `request body exceeds ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * `dryRun=All` (query, or a DELETE's options): check and answer as if done, change nothing. Any other
 * value is refused, as Kubernetes refuses it.
 */
function dryRunOf(values: readonly unknown[]): boolean {
  const bad = values.find((v) => v !== 'All');
  if (bad !== undefined) throw new ApiError('BadRequest', `dryRun: Unsupported value: ${JSON.stringify(bad)}: supported values: "All"`);
  return values.length > 0;
}

/** an object without what the server writes itself, to tell whether an update changes anything */
function stripSystem(o: KubeObject): unknown {
  // the namespace is the path's: a body may leave it out
  const { uid: _uid, resourceVersion: _rv, creationTimestamp: _ct, namespace: _ns, ...metadata } = o.metadata;
  const { status: _status, ...rest } = o;
  return { ...rest, metadata };
}

export const UNSCHEDULABLE_TAINT = 'node.kubernetes.io/unschedulable';

/**
 * only what a user may change of a Node: its labels and annotations, and whether pods may be bound to
 * it (kubectl cordon and uncordon set spec.unschedulable; the node.kubernetes.io/unschedulable
 * taint follows it, as Kubernetes' node controller keeps it)
 */
function nodeUpdate(prev: KubeObject, body: KubeObject): KubeObject {
  const { labels, annotations } = body.metadata;
  const unschedulable = body.spec?.unschedulable === true;
  const taints = ((prev.spec?.taints as { key: string }[] | undefined) ?? []).filter((t) => t.key !== UNSCHEDULABLE_TAINT);
  if (unschedulable) taints.push({ key: UNSCHEDULABLE_TAINT, effect: 'NoSchedule', timeAdded: new Date().toISOString().replace(/\.\d+Z$/, 'Z') } as { key: string });
  const { unschedulable: _was, taints: _taints, ...spec } = prev.spec ?? {};
  return {
    ...prev,
    metadata: { ...prev.metadata, ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) },
    spec: { ...spec, ...(unschedulable ? { unschedulable: true } : {}), ...(taints.length ? { taints } : {}) },
  };
}

export function createApiServer(deps: ApiServerDeps): ApiServer {
  let server: Server | undefined;
  let ctx: ModuleContext | undefined;
  const present = presenter(deps.store, deps.liveStatus);
  const watches = new WatchHub(deps.store, present);
  const execs = createExecServer(deps.edges);
  const usage = createMetricsApi(deps);
  /** the objects of a path's type (a DeviceStatus is shown from its Device) */
  const objects = (t: ApiPath, ns: string | undefined): StoredObject[] =>
    t.type.kind === 'devicestatus' ? deps.store.list('device', ns).map((o) => ({ ...o, kind: 'devicestatus' as const })) : deps.store.list(t.type.kind, ns);
  const one = (t: ApiPath, ns: string, name: string): StoredObject | undefined => {
    if (t.type.kind !== 'devicestatus') return deps.store.get(t.type.kind, ns, name);
    const dev = deps.store.get('device', ns, name);
    return dev && { ...dev, kind: 'devicestatus' };
  };

  /** the bearer token's role; a token that is no one's is refused, saying why when it is a stale read-only one */
  const authorize = (req: IncomingMessage): Role | undefined => {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!m) return undefined;
    const given = Buffer.from(m[1] as string);
    const want = Buffer.from(deps.token());
    if (given.length === want.length && timingSafeEqual(given, want)) return 'admin';
    const ro = deps.readOnly?.(m[1] as string);
    if (ro?.ok) return 'read';
    if (ro && /expired/.test(ro.reason)) throw new ApiError('Unauthorized', `the read-only token ${ro.reason}; make a new one with "keadm gettoken --read-only"`);
    return undefined;
  };
  /** API requests by verb and code, for /metrics (bounded: the methods HTTP has, the codes it has) */
  const requests = new Map<string, number>();
  const countRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const m = req.method ?? 'OTHER';
    const verb = m === 'GET' && /[?&]watch=(true|1)(&|$)/.test(req.url ?? '') ? 'WATCH' : VERBS.has(m) ? m : 'OTHER';
    const key = `${verb} ${res.statusCode}`;
    requests.set(key, (requests.get(key) ?? 0) + 1);
  };
  const metricsText = (): string =>
    renderMetrics([
      counter('cloudcore_api_requests_total', 'Requests to the resource API, by verb and HTTP code.', [...requests].map(([k, value]) => {
        const [verb, code] = k.split(' ') as [string, string];
        return { labels: { verb, code }, value };
      })),
      gauge('cloudcore_watches', 'Watches open on the resource API.', watches.size),
      ...(deps.metrics?.() ?? []),
    ]);

  const list = (t: ApiPath, url: URL, accept: string | undefined): unknown => {
    const labels = labelSelector(url.searchParams.get('labelSelector'));
    const fields = fieldSelector(url.searchParams.get('fieldSelector'));
    const items = objects(t, t.type.namespaced ? t.namespace : undefined)
      .map(present)
      .filter((o) => labels(o) && fields(o));
    const rv = String(deps.store.currentRv());
    if (wantsTable(accept)) return table(t.type.kind, items, rv, url.searchParams.get('includeObject'));
    return { apiVersion: apiVersionOf(t.type), kind: `${t.type.kindName}List`, metadata: { resourceVersion: rv }, items };
  };

  /** the body of a PATCH applied to what the API shows of the object now, and the patch's text */
  const patched = async (t: ApiPath, ns: string, req: IncomingMessage): Promise<{ body: unknown; text: string }> => {
    const prev = deps.store.get(t.type.kind, ns, t.name as string);
    if (!prev) throw new ApiError('NotFound', `${t.type.plural} "${t.name ?? ''}" not found`);
    const current = present(prev);
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim();
    const text = await readRaw(req);
    const body = parseJson(text);
    switch (type) {
      case 'application/merge-patch+json':
        return { body: mergePatch(current, body), text };
      case 'application/strategic-merge-patch+json':
        return { body: strategicMergePatch(current, body), text };
      case 'application/json-patch+json':
        // its operations may name a key twice, rightly
        return { body: jsonPatch(current, body), text: '{}' };
      default:
        throw new ApiError('UnsupportedMediaType', `PATCH with content-type ${type ?? '(none)'}: use application/merge-patch+json, application/strategic-merge-patch+json or application/json-patch+json`);
    }
  };

  /** a Device's desired values set on the cloud: an Event each (the setpoint a user changed, and when) */
  const desiredEvents = (before: KubeObject, after: KubeObject): void => {
    type Prop = { name: string; desired?: { value?: string } };
    const desired = (o: KubeObject): Map<string, string | undefined> => new Map(((o.spec?.properties as Prop[] | undefined) ?? []).map((p) => [p.name, p.desired?.value]));
    const was = desired(before);
    for (const [name, value] of desired(after)) {
      if (value === undefined || value === was.get(name)) continue;
      deps.events?.record('Normal', 'DesiredValueSet', refOf(after, 'Device'), `${name}: ${was.get(name) ?? '(none)'} → ${value}`);
    }
  };

  const write = async (t: ApiPath, method: string, req: IncomingMessage, params: URLSearchParams): Promise<{ code: number; body: unknown; warnings: string[] }> => {
    const dryRun = dryRunOf(params.getAll('dryRun'));
    const fieldValidation = fieldValidationOf(params);
    const kind = t.type.kind;
    const ns = t.type.namespaced ? (t.namespace as string) : CLUSTER_NAMESPACE;
    const modelProperties = (spec: Record<string, unknown>): ReadonlySet<string> | undefined => {
      const ref = spec.deviceModelRef as { name?: unknown } | undefined;
      const model = typeof ref?.name === 'string' ? deps.store.get('devicemodel', ns, ref.name) : undefined;
      const props = model?.object.spec?.properties;
      return Array.isArray(props) ? new Set(props.map((p) => (p as { name?: string }).name ?? '')) : undefined;
    };
    const endpointType = (name: string): EndpointType | undefined => deps.store.get('ruleendpoint', ns, name)?.object.spec?.ruleEndpointType as EndpointType | undefined;
    const { body, text } = method === 'PATCH' ? await patched(t, ns, req) : await readRaw(req).then((text) => ({ body: parseJson(text), text }));
    let obj: KubeObject;
    let warnings: string[];
    try {
      // fields given twice, and fields the kind does not have (dropped here), as Kubernetes names them
      const found = [...duplicateFields(text).map((p) => `duplicate field ${JSON.stringify(p)}`), ...dropUnknownFields(t.type, body)];
      warnings = judgeFields(t.type, fieldValidation, found);
      obj = validateObject(kind, body, { ...(t.namespace !== undefined ? { namespace: t.namespace } : {}), ...(t.name !== undefined ? { pathName: t.name } : {}), modelProperties, endpointType });
    } catch (err) {
      // a refused manifest is an Event people see in the feed, with why
      const name = t.name ?? (body as { metadata?: { name?: unknown } } | null)?.metadata?.name;
      if (err instanceof ApiError && !dryRun) deps.events?.record('Warning', 'Refused', { kind: t.type.kindName, name: typeof name === 'string' ? name : '', ...(t.type.namespaced ? { namespace: ns } : {}) }, err.message);
      throw err;
    }
    const prev = deps.store.get(kind, ns, obj.metadata.name);
    if (method === 'POST' && prev) throw new ApiError('AlreadyExists', `${t.type.plural} "${obj.metadata.name}" already exists`);
    if (method !== 'POST' && !prev) throw new ApiError('NotFound', `${t.type.plural} "${obj.metadata.name}" not found`);
    const wantRv = obj.metadata.resourceVersion;
    const shownRv = prev ? present(prev).metadata.resourceVersion : undefined;
    if (prev && wantRv !== undefined && wantRv !== '' && wantRv !== String(prev.rv) && wantRv !== shownRv) {
      throw new ApiError('Conflict', `the object has been modified (resourceVersion ${wantRv}, now ${shownRv ?? prev.rv}); read it again and retry`);
    }
    if (kind === 'node') obj = nodeUpdate((prev as { object: KubeObject }).object, obj);
    // status is written by the system (kept apart, see DeviceController and EdgeController), not by users
    delete obj.status;
    // nothing changed (an apply of the same manifest, a PATCH that changes nothing): no new version, nothing sent
    if (prev && isDeepStrictEqual(stripSystem(prev.object), stripSystem(obj))) return { code: 200, body: present(prev), warnings };
    if (prev && (kind === 'configmap' || kind === 'secret') && (prev.object as { immutable?: boolean }).immutable === true) {
      const same = (k: string): boolean => isDeepStrictEqual((prev.object as unknown as Record<string, unknown>)[k], (obj as unknown as Record<string, unknown>)[k]);
      if (!same('data') || !same('binaryData') || (obj as { immutable?: boolean }).immutable !== true) {
        throw new ApiError('Invalid', `${t.type.kindName} "${obj.metadata.name}" is immutable: delete and create it again to change it`, [{ field: 'data', message: 'field is immutable when `immutable` is set' }]);
      }
    }
    if (dryRun) {
      // as Kubernetes answers a dry run: stamped as it would be, a create without a resourceVersion
      const shown = present(deps.store.stamped(kind, ns, obj, prev?.rv ?? 0));
      if (!prev) delete shown.metadata.resourceVersion;
      return { code: prev ? 200 : 201, body: shown, warnings };
    }
    const stored = await deps.store.put(kind, ns, obj);
    if (kind === 'device' && prev) desiredEvents(prev.object, stored.object);
    ctx?.log.info(`${prev ? 'updated' : 'created'} ${kind} ${t.type.namespaced ? `${ns}/` : ''}${obj.metadata.name} (resourceVersion ${stored.rv})`);
    return { code: prev ? 200 : 201, body: present(stored), warnings };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'https://localhost');
    // health, as Kubernetes serves it: to anyone (it says which part fails, nothing of the objects)
    if (req.method === 'GET' && (url.pathname === '/healthz' || url.pathname === '/livez')) return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    if (req.method === 'GET' && url.pathname === '/readyz') {
      const r = readinessText(deps.readiness?.() ?? []);
      return void res.writeHead(r.ok ? 200 : 503, { 'content-type': 'text/plain' }).end(r.text);
    }
    const role = authorize(req);
    // the dashboard's page loads without a token (it asks for one); its data wants one
    if (deps.ui && url.pathname.startsWith('/ui') && (await deps.ui(req, res, url, role))) return;
    if (!role) throw new ApiError('Unauthorized', TOKEN_NEEDED);
    if (role === 'read' && req.method !== 'GET' && req.method !== 'HEAD') throw new ApiError('Forbidden', `a read-only token cannot ${req.method ?? ''} ${url.pathname}: use the admin token`);
    if (req.method === 'GET' && url.pathname === '/metrics') return void res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(metricsText());
    const reply = (code: number, body: unknown, warnings: readonly string[] = []): void => {
      if (warnings.length) res.setHeader('warning', warnings.map(warningHeader));
      res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const method = req.method ?? 'GET';
    const found = method === 'GET' ? discovery(url.pathname, req.headers.host ?? '', req.headers.accept ?? '') : undefined;
    if (found) {
      if (Buffer.isBuffer(found.body)) return void res.writeHead(200, { 'content-type': found.contentType ?? 'application/octet-stream' }).end(found.body);
      return reply(200, found.body);
    }
    // kubectl top: what edges say they use
    if (method === 'GET' && url.pathname.startsWith(`/apis/${METRICS_GROUP_VERSION}/`)) {
      const answer = await usage.serve(url.pathname, url.searchParams);
      if (answer !== undefined) return reply(200, answer);
    }
    // the events of the last while (kubectl get events [-w], describe), newest last
    if (serveEvents(deps.events, req, res, url)) return;
    const parsed = parsePath(url.pathname);
    const route = resourceRoute(method, parsed, url.pathname, url.searchParams);
    const t = parsed as ApiPath;
    const kind = t.type.kind;
    const ns = t.type.namespaced ? (t.namespace ?? 'default') : CLUSTER_NAMESPACE;
    const name = t.name as string;
    const accept = req.headers.accept;
    const notFound = (): ApiError => new ApiError('NotFound', `${t.type.plural} "${t.name ?? ''}" not found`);
    const podOf = (): StoredObject => deps.store.get('pod', ns, name) ?? (() => { throw notFound(); })();
    switch (route) {
      case 'evict': {
        const pod = podOf();
        // without disruption budgets, an eviction is a delete
        const options = parseJson((await readRaw(req)) || '{}') as { deleteOptions?: { dryRun?: unknown } } | null;
        const dry = dryRunOf(url.searchParams.getAll('dryRun')) || dryRunOf(Array.isArray(options?.deleteOptions?.dryRun) ? options.deleteOptions.dryRun : []);
        if (!dry) {
          await deps.store.delete('pod', ns, pod.name);
          ctx?.log.info(`evicted pod ${ns}/${pod.name}`);
        }
        return reply(201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
      }
      case 'pod-status':
        return reply(200, present(podOf()));
      case 'pod-log':
        return streamPodLog(deps.edges, podOf().object, url.searchParams, res);
      case 'watch': {
        const labels = labelSelector(url.searchParams.get('labelSelector'));
        const fields = fieldSelector(url.searchParams.get('fieldSelector'));
        const matches = (o: KubeObject): boolean => (t.name === undefined || o.metadata.name === t.name) && labels(o) && fields(o);
        const asTable = wantsTable(accept);
        const include = url.searchParams.get('includeObject');
        return watches.watch({ ...t, name: undefined }, matches, url.searchParams.get('resourceVersion'), url.searchParams.get('timeoutSeconds'), res, (type, o) => ({ type, object: asTable ? table(kind, [o], o.metadata.resourceVersion ?? '', include) : o }));
      }
      case 'list':
        return reply(200, list(t, url, accept));
      case 'get': {
        const o = one(t, ns, name);
        if (!o) throw notFound();
        const shown = present(o);
        return reply(200, wantsTable(accept) ? table(kind, [shown], shown.metadata.resourceVersion ?? '', url.searchParams.get('includeObject')) : shown);
      }
      case 'delete': {
        const body = await deleteObject(t, ns, name, url.searchParams, await readRaw(req));
        return reply(200, body);
      }
      case 'create':
      case 'update': {
        const r = await write(t, method, req, url.searchParams);
        return reply(r.code, r.body, r.warnings);
      }
    }
  };

  /** DELETE of one object; kubectl delete --dry-run=server says so in its DeleteOptions body */
  const deleteObject = async (t: ApiPath, ns: string, name: string, params: URLSearchParams, options: string): Promise<unknown> => {
    const kind = t.type.kind;
    const deleteOptions = options.trim() ? (parseJson(options) as { dryRun?: unknown } | null) : undefined;
    const dry = dryRunOf(params.getAll('dryRun')) || dryRunOf(Array.isArray(deleteOptions?.dryRun) ? deleteOptions.dryRun : []);
    // a node that joined but never connected has no object, only its name bound to its key
    const joined = kind === 'node' && deps.store.nodeKey(name) !== undefined;
    const gone = { apiVersion: 'v1', kind: 'Node', metadata: { name } };
    const notFound = (): ApiError => new ApiError('NotFound', `${t.type.plural} "${name}" not found`);
    if (dry) {
      const o = deps.store.get(kind, ns, name);
      if (!o && !joined) throw notFound();
      return o ? present(o) : gone;
    }
    const o = await deps.store.delete(kind, ns, name);
    if (!o && !joined) throw notFound();
    if (kind === 'node') deps.store.forgetNode(name);
    ctx?.log.info(`deleted ${kind} ${t.type.namespaced ? `${ns}/` : ''}${name}`);
    return o?.object ?? gone;
  };

  return {
    name: 'apiserver',
    group: 'apiserver',
    port: () => boundPort(server),
    async start(c) {
      ctx = c;
      const { cert, key } = deps.tls();
      server = createServer({ cert, key, minVersion: 'TLSv1.2' }, (req, res) => {
        res.on('finish', () => countRequest(req, res));
        handle(req, res).catch((err: unknown) => {
          const e = err instanceof ApiError ? err : new ApiError('InternalError', errorText(err));
          if (e.code >= 500 && e.code !== 503) c.log.error(`${req.method} ${req.url}: ${e.message}`);
          if (!res.headersSent) res.writeHead(e.code, { 'content-type': 'application/json' }).end(JSON.stringify(e.toStatus()));
          else res.destroy();
        });
      });
      // kubectl exec and attach: a WebSocket each (exec.ts)
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        socket.on('error', () => socket.destroy());
        try {
          const url = new URL(req.url ?? '/', 'https://localhost');
          const role = authorize(req);
          if (!role) throw new ApiError('Unauthorized', TOKEN_NEEDED);
          const t = parsePath(url.pathname);
          if (t?.type.kind !== 'pod' || (t.subresource !== 'exec' && t.subresource !== 'attach') || t.name === undefined || t.namespace === undefined) throw new ApiError('NotFound', `nothing to upgrade to at ${url.pathname}`);
          if (role !== 'admin') throw new ApiError('Forbidden', `a read-only token cannot ${t.subresource} into a pod: use the admin token`);
          const r = execRequest(t, deps.store.get('pod', t.namespace, t.name)?.object, url.searchParams, deps.edges.connected);
          c.log.info(`${t.subresource} in pod ${t.namespace}/${t.name} (container ${r.container}) on node ${r.node}`);
          execs.serve(req, socket, head, r);
        } catch (err) {
          refuseUpgrade(socket, err instanceof ApiError ? err : new ApiError('InternalError', errorText(err)));
        }
      });
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
