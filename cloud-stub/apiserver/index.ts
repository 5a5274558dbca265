/**
 * The resource API: HTTPS with the cloud's server certificate, `Authorization: Bearer <admin token>`.
 *   /api/v1/nodes[/{name}]                                                     GET, DELETE
 *   /apis/devices.kubeedge.io/v1beta1/namespaces/{ns}/devices[/{name}]         GET, POST, PUT, DELETE
 *   /apis/devices.kubeedge.io/v1beta1/namespaces/{ns}/devicemodels[/{name}]    GET, POST, PUT, DELETE
 *   /apis/devices.kubeedge.io/v1beta1/{devices|devicemodels}                   GET (every namespace)
 * Errors are Kubernetes Status objects with the matching HTTP code.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { Module, ModuleContext } from '../../runtime/core/module.js';
import { errorText } from '../../runtime/core/errors.js';
import { boundPort, closeServer, listen } from '../../runtime/core/net.js';
import type { ApiServerConfig } from '../config.js';
import { CLUSTER_NAMESPACE, type Kind, type KubeObject, type ObjectStore, type StoredObject } from '../store/objects.js';
import type { NodeLiveStatus } from '../edgecontroller/index.js';
import { nodeObject } from '../edgecontroller/index.js';
import { ApiError } from './status.js';
import { validateObject } from './validate.js';

export interface ApiServerDeps {
  config: ApiServerConfig;
  tls: () => { cert: Buffer; key: Buffer };
  token: () => string;
  store: ObjectStore;
  liveStatus: (node: string) => NodeLiveStatus | undefined;
}

export interface ApiServer extends Module {
  port(): number;
}

const MAX_BODY = 1024 * 1024;
const DEVICE_API = 'devices.kubeedge.io/v1beta1';
const plural: Record<string, Kind> = { devices: 'device', devicemodels: 'devicemodel' };
const kindName: Record<Kind, string> = { node: 'Node', device: 'Device', devicemodel: 'DeviceModel' };

interface Target {
  kind: Kind;
  namespace: string | undefined; // undefined: every namespace
  name: string | undefined;
}

function route(path: string): Target | undefined {
  let m = /^\/api\/v1\/nodes(?:\/([^/]+))?\/?$/.exec(path);
  if (m) return { kind: 'node', namespace: CLUSTER_NAMESPACE, name: m[1] };
  m = /^\/apis\/devices\.kubeedge\.io\/v1beta1\/namespaces\/([^/]+)\/(devices|devicemodels)(?:\/([^/]+))?\/?$/.exec(path);
  if (m) return { kind: plural[m[2] as string] as Kind, namespace: m[1], name: m[3] };
  m = /^\/apis\/devices\.kubeedge\.io\/v1beta1\/(devices|devicemodels)\/?$/.exec(path);
  if (m) return { kind: plural[m[1] as string] as Kind, namespace: undefined, name: undefined };
  return undefined;
}

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

export function createApiServer(deps: ApiServerDeps): ApiServer {
  let server: Server | undefined;
  let ctx: ModuleContext | undefined;

  const authorized = (req: IncomingMessage): boolean => {
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) return false;
    const given = Buffer.from(m[1] as string);
    const want = Buffer.from(deps.token());
    return given.length === want.length && timingSafeEqual(given, want);
  };

  const present = (o: StoredObject): KubeObject => {
    if (o.kind === 'device') {
      const st = deps.store.deviceStatus(o.namespace, o.name);
      return st ? { ...o.object, status: st.status } : o.object;
    }
    if (o.kind !== 'node') return o.object;
    const live = deps.liveStatus(o.name);
    return live ? nodeObject(o.name, live, o.object) : o.object;
  };

  const list = (t: Target): unknown => {
    const items = deps.store.list(t.kind, t.namespace).map(present);
    const apiVersion = t.kind === 'node' ? 'v1' : DEVICE_API;
    return { apiVersion, kind: `${kindName[t.kind]}List`, metadata: { resourceVersion: String(deps.store.currentRv()) }, items };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'https://localhost');
    if (!authorized(req)) throw new ApiError('Unauthorized', 'a valid "Authorization: Bearer <admin token>" header is required');
    const t = route(url.pathname);
    if (!t) throw new ApiError('NotFound', `no resource at ${url.pathname}`);
    const method = req.method ?? 'GET';
    const ns = t.namespace ?? 'default';
    const reply = (code: number, body: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (method === 'GET') {
      if (t.name === undefined) return reply(200, list(t));
      const o = deps.store.get(t.kind, ns, t.name);
      if (!o) throw new ApiError('NotFound', `${t.kind}s "${t.name}" not found`);
      return reply(200, present(o));
    }
    if (method === 'DELETE' && t.name !== undefined && t.namespace !== undefined) {
      // a node that joined but never connected has no object, only its name bound to its key
      const joined = t.kind === 'node' && deps.store.nodeKey(t.name) !== undefined;
      const o = await deps.store.delete(t.kind, ns, t.name);
      if (!o && !joined) throw new ApiError('NotFound', `${t.kind}s "${t.name}" not found`);
      if (t.kind === 'node') deps.store.forgetNode(t.name);
      ctx?.log.info(`deleted ${t.kind} ${ns}/${t.name}`);
      return reply(200, o?.object ?? { apiVersion: 'v1', kind: 'Node', metadata: { name: t.name } });
    }
    if ((method === 'POST' && t.name === undefined) || (method === 'PUT' && t.name !== undefined)) {
      if (t.kind === 'node' || t.namespace === undefined) throw new ApiError('MethodNotAllowed', `${method} is not supported on ${url.pathname}`);
      const modelProperties = (spec: Record<string, unknown>): ReadonlySet<string> | undefined => {
        const ref = spec.deviceModelRef as { name?: unknown } | undefined;
        const model = typeof ref?.name === 'string' ? deps.store.get('devicemodel', ns, ref.name) : undefined;
        const props = model?.object.spec?.properties;
        return Array.isArray(props) ? new Set(props.map((p) => (p as { name?: string }).name ?? '')) : undefined;
      };
      const obj = validateObject(t.kind, await readBody(req), ns, t.name, modelProperties);
      const prev = deps.store.get(t.kind, ns, obj.metadata.name);
      if (method === 'POST' && prev) throw new ApiError('AlreadyExists', `${t.kind}s "${obj.metadata.name}" already exists`);
      if (method === 'PUT' && !prev) throw new ApiError('NotFound', `${t.kind}s "${obj.metadata.name}" not found`);
      const wantRv = obj.metadata.resourceVersion;
      if (prev && wantRv !== undefined && wantRv !== '' && wantRv !== String(prev.rv)) {
        throw new ApiError('Conflict', `the object has been modified (resourceVersion ${wantRv}, now ${prev.rv}); read it again and retry`);
      }
      // status is written by the system (kept apart, see DeviceController), not by users
      delete obj.status;
      const stored = await deps.store.put(t.kind, ns, obj);
      ctx?.log.info(`${prev ? 'updated' : 'created'} ${t.kind} ${ns}/${obj.metadata.name} (resourceVersion ${stored.rv})`);
      return reply(prev ? 200 : 201, present(stored));
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
          if (e.code >= 500) c.log.error(`${req.method} ${req.url}: ${e.message}`);
          if (!res.headersSent) res.writeHead(e.code, { 'content-type': 'application/json' }).end(JSON.stringify(e.toStatus()));
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
