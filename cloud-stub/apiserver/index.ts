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
import { timingSafeEqual } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { Module, ModuleContext } from '../../runtime/core/module.js';
import { errorText } from '../../runtime/core/errors.js';
import { boundPort, closeServer, listen } from '../../runtime/core/net.js';
import { apiVersionOf, parsePath, type ApiPath } from '../../api/resources.js';
import type { ApiServerConfig } from '../config.js';
import { CLUSTER_NAMESPACE, type KubeObject, type ObjectStore } from '../store/objects.js';
import type { NodeLiveStatus } from '../edgecontroller/index.js';
import { ApiError } from './status.js';
import { validateObject } from './validate.js';
import type { EndpointType } from '../../api/rules.js';
import { presenter } from './present.js';
import { streamPodLog } from './logs.js';
import type { EdgeCalls } from '../cloudhub/index.js';

export interface ApiServerDeps {
  config: ApiServerConfig;
  tls: () => { cert: Buffer; key: Buffer };
  token: () => string;
  store: ObjectStore;
  liveStatus: (node: string) => NodeLiveStatus | undefined;
  /** requests to a connected edge (pod logs) */
  edges: EdgeCalls;
}

export interface ApiServer extends Module {
  port(): number;
}

const MAX_BODY = 1024 * 1024;

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new ApiError('RequestEntityTooLarge', `request body exceeds ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch (err) {
    throw new ApiError('BadRequest', `request body is not JSON: ${errorText(err)}`);
  }
}

/** only what a user may change of a Node: its labels and annotations */
function nodeUpdate(prev: KubeObject, body: KubeObject): KubeObject {
  const { labels, annotations } = body.metadata;
  return { ...prev, metadata: { ...prev.metadata, ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) } };
}

export function createApiServer(deps: ApiServerDeps): ApiServer {
  let server: Server | undefined;
  let ctx: ModuleContext | undefined;
  const present = presenter(deps.store, deps.liveStatus);

  const authorized = (req: IncomingMessage): boolean => {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!m) return false;
    const given = Buffer.from(m[1] as string);
    const want = Buffer.from(deps.token());
    return given.length === want.length && timingSafeEqual(given, want);
  };

  const list = (t: ApiPath): unknown => ({
    apiVersion: apiVersionOf(t.type),
    kind: `${t.type.kindName}List`,
    metadata: { resourceVersion: String(deps.store.currentRv()) },
    items: deps.store.list(t.type.kind, t.type.namespaced ? t.namespace : undefined).map(present),
  });

  const write = async (t: ApiPath, method: string, req: IncomingMessage): Promise<{ code: number; body: unknown }> => {
    const kind = t.type.kind;
    const ns = t.type.namespaced ? (t.namespace as string) : CLUSTER_NAMESPACE;
    const modelProperties = (spec: Record<string, unknown>): ReadonlySet<string> | undefined => {
      const ref = spec.deviceModelRef as { name?: unknown } | undefined;
      const model = typeof ref?.name === 'string' ? deps.store.get('devicemodel', ns, ref.name) : undefined;
      const props = model?.object.spec?.properties;
      return Array.isArray(props) ? new Set(props.map((p) => (p as { name?: string }).name ?? '')) : undefined;
    };
    const endpointType = (name: string): EndpointType | undefined => deps.store.get('ruleendpoint', ns, name)?.object.spec?.ruleEndpointType as EndpointType | undefined;
    let obj = validateObject(kind, await readBody(req), { ...(t.namespace !== undefined ? { namespace: t.namespace } : {}), ...(t.name !== undefined ? { pathName: t.name } : {}), modelProperties, endpointType });
    const prev = deps.store.get(kind, ns, obj.metadata.name);
    if (method === 'POST' && prev) throw new ApiError('AlreadyExists', `${t.type.plural} "${obj.metadata.name}" already exists`);
    if (method === 'PUT' && !prev) throw new ApiError('NotFound', `${t.type.plural} "${obj.metadata.name}" not found`);
    const wantRv = obj.metadata.resourceVersion;
    if (prev && wantRv !== undefined && wantRv !== '' && wantRv !== String(prev.rv)) {
      throw new ApiError('Conflict', `the object has been modified (resourceVersion ${wantRv}, now ${prev.rv}); read it again and retry`);
    }
    if (kind === 'node') obj = nodeUpdate((prev as { object: KubeObject }).object, obj);
    // status is written by the system (kept apart, see DeviceController and EdgeController), not by users
    delete obj.status;
    if (prev && (kind === 'configmap' || kind === 'secret') && (prev.object as { immutable?: boolean }).immutable === true) {
      const same = (k: string): boolean => isDeepStrictEqual((prev.object as unknown as Record<string, unknown>)[k], (obj as unknown as Record<string, unknown>)[k]);
      if (!same('data') || !same('binaryData') || (obj as { immutable?: boolean }).immutable !== true) {
        throw new ApiError('Invalid', `${t.type.kindName} "${obj.metadata.name}" is immutable: delete and create it again to change it`, [{ field: 'data', message: 'field is immutable when `immutable` is set' }]);
      }
    }
    const stored = await deps.store.put(kind, ns, obj);
    ctx?.log.info(`${prev ? 'updated' : 'created'} ${kind} ${t.type.namespaced ? `${ns}/` : ''}${obj.metadata.name} (resourceVersion ${stored.rv})`);
    return { code: prev ? 200 : 201, body: present(stored) };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'https://localhost');
    if (!authorized(req)) throw new ApiError('Unauthorized', 'a valid "Authorization: Bearer <admin token>" header is required');
    const t = parsePath(url.pathname);
    if (!t) throw new ApiError('NotFound', `no resource at ${url.pathname}`);
    const method = req.method ?? 'GET';
    const kind = t.type.kind;
    const ns = t.type.namespaced ? (t.namespace ?? 'default') : CLUSTER_NAMESPACE;
    const reply = (code: number, body: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const notFound = (): ApiError => new ApiError('NotFound', `${t.type.plural} "${t.name ?? ''}" not found`);
    const namespaced = !t.type.namespaced || t.namespace !== undefined;
    if (t.name !== undefined && !namespaced) throw new ApiError('NotFound', `no resource at ${url.pathname}`);

    if (t.subresource !== undefined) {
      if (kind !== 'pod' || (t.subresource !== 'status' && t.subresource !== 'log') || method !== 'GET' || t.name === undefined || !namespaced) {
        throw new ApiError('MethodNotAllowed', `${method} is not supported on ${url.pathname}`);
      }
      const pod = deps.store.get('pod', ns, t.name);
      if (!pod) throw notFound();
      if (t.subresource === 'status') return reply(200, present(pod));
      return streamPodLog(deps.edges, pod.object, url.searchParams, res);
    }
    if (method === 'GET') {
      if (t.name === undefined) return reply(200, list(t));
      const o = deps.store.get(kind, ns, t.name);
      if (!o) throw notFound();
      return reply(200, present(o));
    }
    if (method === 'DELETE' && t.name !== undefined && namespaced) {
      // a node that joined but never connected has no object, only its name bound to its key
      const joined = kind === 'node' && deps.store.nodeKey(t.name) !== undefined;
      const o = await deps.store.delete(kind, ns, t.name);
      if (!o && !joined) throw notFound();
      if (kind === 'node') deps.store.forgetNode(t.name);
      ctx?.log.info(`deleted ${kind} ${t.type.namespaced ? `${ns}/` : ''}${t.name}`);
      return reply(200, o?.object ?? { apiVersion: 'v1', kind: 'Node', metadata: { name: t.name } });
    }
    const creates = method === 'POST' && t.name === undefined && kind !== 'node';
    const updates = method === 'PUT' && t.name !== undefined;
    if ((creates || updates) && namespaced) {
      const r = await write(t, method, req);
      return reply(r.code, r.body);
    }
    throw new ApiError('MethodNotAllowed', `${method} is not supported on ${url.pathname}`);
  };

  return {
    name: 'apiserver',
    group: 'apiserver',
    port: () => boundPort(server),
    async start(c) {
      ctx = c;
      const { cert, key } = deps.tls();
      server = createServer({ cert, key, minVersion: 'TLSv1.2' }, (req, res) => {
        handle(req, res).catch((err: unknown) => {
          const e = err instanceof ApiError ? err : new ApiError('InternalError', errorText(err));
          if (e.code >= 500 && e.code !== 503) c.log.error(`${req.method} ${req.url}: ${e.message}`);
          if (!res.headersSent) res.writeHead(e.code, { 'content-type': 'application/json' }).end(JSON.stringify(e.toStatus()));
          else res.destroy();
        });
      });
      await listen(server, deps.config.port, deps.config.address);
      c.log.info(`resource API on https://${deps.config.address}:${this.port()}`);
    },
    async stop() {
      await closeServer(server);
      server = undefined;
    },
  } satisfies ApiServer;
}
