/**
 * Which handler a request to the resource API reaches, from its method, its parsed path and its
 * query: the answer names the handler, or is the refusal Kubernetes gives (a path with no resource,
 * a method a path does not take, a WebSocket call made without the upgrade, a write to a read-only
 * type). index.ts runs the handler.
 */
import type { ApiPath } from '../../api/resources.js';
import { ApiError } from './status.js';

export type ResourceRoute =
  | 'watch'
  | 'list'
  | 'get'
  | 'pod-status'
  | 'pod-log'
  /** kubectl drain: policy/v1 Eviction */
  | 'evict'
  | 'delete'
  | 'create'
  | 'update';

const notAllowed = (method: string, path: string): ApiError => new ApiError('MethodNotAllowed', `${method} is not supported on ${path}`);

function subresourceRoute(method: string, t: ApiPath, path: string): ResourceRoute {
  const pod = t.type.kind === 'pod';
  if (pod && (t.subresource === 'exec' || t.subresource === 'attach')) throw new ApiError('BadRequest', `Upgrade request required: ${t.subresource} is a WebSocket (${method} ${path} came without one)`);
  if (!pod || t.name === undefined || (t.type.namespaced && t.namespace === undefined)) throw notAllowed(method, path);
  if (t.subresource === 'eviction' && method === 'POST') return 'evict';
  if (t.subresource === 'status' && method === 'GET') return 'pod-status';
  if (t.subresource === 'log' && method === 'GET') return 'pod-log';
  throw notAllowed(method, path);
}

/** `path`: the request's path, for the messages; `t`: what parsePath made of it. */
export function resourceRoute(method: string, t: ApiPath | undefined, path: string, params: URLSearchParams): ResourceRoute {
  if (!t) throw new ApiError('NotFound', `no resource at ${path}`);
  // a namespaced type named outside a namespace is no path Kubernetes has
  const placed = !t.type.namespaced || t.namespace !== undefined;
  if (t.name !== undefined && !placed) throw new ApiError('NotFound', `no resource at ${path}`);
  if (t.subresource !== undefined) return subresourceRoute(method, t, path);
  if (method === 'GET') {
    const watch = params.get('watch');
    if (watch === 'true' || watch === '1') return 'watch';
    return t.name === undefined ? 'list' : 'get';
  }
  if (t.type.derived) throw new ApiError('MethodNotAllowed', `${t.type.plural} are read only: they show what edges report`);
  if (!placed) throw notAllowed(method, path);
  if (method === 'DELETE' && t.name !== undefined) return 'delete';
  // nodes are made by their edges joining, never by a POST
  if (method === 'POST' && t.name === undefined && t.type.kind !== 'node') return 'create';
  if ((method === 'PUT' || method === 'PATCH') && t.name !== undefined) return 'update';
  throw notAllowed(method, path);
}
