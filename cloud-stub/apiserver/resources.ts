/**
 * The handlers of the resource paths: list, get and watch (tables for kubectl), create, update and
 * patch (write.ts), delete, and a pod's status, log and eviction. route.ts says which one a request
 * reaches.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { apiVersionOf, parsePath, type ApiPath } from '../../api/resources.js';
import { CLUSTER_NAMESPACE, type KubeObject, type StoredObject } from '../store/objects.js';
import type { EdgeCalls } from '../cloudhub/index.js';
import { ApiError } from './status.js';
import { warningHeader } from './fields.js';
import { fieldSelector, labelSelector } from './selectors.js';
import { table, wantsTable } from './table.js';
import type { WatchHub } from './watch.js';
import { streamPodLog } from './logs.js';
import { resourceRoute } from './route.js';
import { dryRunIn, parseJson, readRaw } from './body.js';
import { writeObject, type WriteContext } from './write.js';

export interface ResourceContext extends WriteContext {
  edges: EdgeCalls;
  watches: WatchHub;
}

/** where a request is: its path parsed, its namespace in the store, and how to answer it */
interface At {
  t: ApiPath;
  ns: string;
  name: string;
  url: URL;
  accept: string | undefined;
  reply(code: number, body: unknown, warnings?: readonly string[]): void;
}

const notFound = (t: ApiPath, name: string | undefined): ApiError => new ApiError('NotFound', `${t.type.plural} "${name ?? ''}" not found`);

export async function serveResource(c: ResourceContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const method = req.method ?? 'GET';
  const parsed = parsePath(url.pathname);
  const route = resourceRoute(method, parsed, url.pathname, url.searchParams);
  const t = parsed as ApiPath;
  const reply = (code: number, body: unknown, warnings: readonly string[] = []): void => {
    if (warnings.length) res.setHeader('warning', warnings.map(warningHeader));
    res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const at: At = { t, ns: t.type.namespaced ? (t.namespace ?? 'default') : CLUSTER_NAMESPACE, name: t.name as string, url, accept: req.headers.accept, reply };
  const pod = (): StoredObject => c.store.get('pod', at.ns, at.name) ?? (() => { throw notFound(t, t.name); })();
  switch (route) {
    case 'evict':
      return evict(c, at, pod(), await readRaw(req));
    case 'pod-status':
      return reply(200, c.present(pod()));
    case 'pod-log':
      return streamPodLog(c.edges, pod().object, url.searchParams, res);
    case 'watch':
      return watch(c, at, res);
    case 'list':
      return reply(200, list(c, at));
    case 'get':
      return reply(200, get(c, at));
    case 'delete':
      return reply(200, await deleteObject(c, at, await readRaw(req)));
    case 'create':
    case 'update': {
      const r = await writeObject(c, t, method, req, url.searchParams);
      return reply(r.code, r.body, r.warnings);
    }
  }
}

/** the objects of a path's type (a DeviceStatus is shown from its Device) */
function objects(c: ResourceContext, t: ApiPath, ns: string | undefined): StoredObject[] {
  if (t.type.kind !== 'devicestatus') return c.store.list(t.type.kind, ns);
  return c.store.list('device', ns).map((o) => ({ ...o, kind: 'devicestatus' as const }));
}

function list(c: ResourceContext, { t, url, accept }: At): unknown {
  const labels = labelSelector(url.searchParams.get('labelSelector'));
  const fields = fieldSelector(url.searchParams.get('fieldSelector'));
  const items = objects(c, t, t.type.namespaced ? t.namespace : undefined)
    .map(c.present)
    .filter((o) => labels(o) && fields(o));
  const rv = String(c.store.currentRv());
  if (wantsTable(accept)) return table(t.type.kind, items, rv, url.searchParams.get('includeObject'));
  return { apiVersion: apiVersionOf(t.type), kind: `${t.type.kindName}List`, metadata: { resourceVersion: rv }, items };
}

function get(c: ResourceContext, { t, ns, name, url, accept }: At): unknown {
  const kind = t.type.kind;
  const found = kind === 'devicestatus' ? c.store.get('device', ns, name) : c.store.get(kind, ns, name);
  if (!found) throw notFound(t, name);
  const shown = c.present(kind === 'devicestatus' ? { ...found, kind } : found);
  return wantsTable(accept) ? table(kind, [shown], shown.metadata.resourceVersion ?? '', url.searchParams.get('includeObject')) : shown;
}

function watch(c: ResourceContext, { t, url, accept }: At, res: ServerResponse): void {
  const params = url.searchParams;
  const labels = labelSelector(params.get('labelSelector'));
  const fields = fieldSelector(params.get('fieldSelector'));
  const matches = (o: KubeObject): boolean => (t.name === undefined || o.metadata.name === t.name) && labels(o) && fields(o);
  const asTable = wantsTable(accept);
  const include = params.get('includeObject');
  const event = (type: string, o: KubeObject): unknown => ({ type, object: asTable ? table(t.type.kind, [o], o.metadata.resourceVersion ?? '', include) : o });
  c.watches.watch({ ...t, name: undefined }, matches, params.get('resourceVersion'), params.get('timeoutSeconds'), res, event);
}

/** kubectl drain evicts each pod of the node (policy/v1 Eviction): without disruption budgets, that is a delete */
async function evict(c: ResourceContext, { ns, url, reply }: At, pod: StoredObject, body: string): Promise<void> {
  const options = parseJson(body || '{}') as { deleteOptions?: { dryRun?: unknown } } | null;
  if (!dryRunIn(url.searchParams, options?.deleteOptions)) {
    await c.store.delete('pod', ns, pod.name);
    c.log()?.info(`evicted pod ${ns}/${pod.name}`);
  }
  reply(201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
}

/** DELETE of one object; kubectl delete --dry-run=server says so in its DeleteOptions body */
async function deleteObject(c: ResourceContext, { t, ns, name, url }: At, body: string): Promise<unknown> {
  const kind = t.type.kind;
  const dry = dryRunIn(url.searchParams, body.trim() ? (parseJson(body) as { dryRun?: unknown } | null) : undefined);
  // a node that joined but never connected has no object, only its name bound to its key
  const joined = kind === 'node' && c.store.nodeKey(name) !== undefined;
  const gone = { apiVersion: 'v1', kind: 'Node', metadata: { name } };
  if (dry) {
    const o = c.store.get(kind, ns, name);
    if (!o && !joined) throw notFound(t, name);
    return o ? c.present(o) : gone;
  }
  const o = await c.store.delete(kind, ns, name);
  if (!o && !joined) throw notFound(t, name);
  if (kind === 'node') c.store.forgetNode(name);
  c.log()?.info(`deleted ${kind} ${t.type.namespaced ? `${ns}/` : ''}${name}`);
  return o?.object ?? gone;
}
