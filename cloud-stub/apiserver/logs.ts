/**
 * `GET /api/v1/namespaces/{ns}/pods/{name}/log`: the log lives at the edge and crosses the link only
 * on request. The edge sends the tail and, with `follow=true`, what the container writes next, until
 * the caller goes away (then the request is cancelled at the edge).
 */
import type { ServerResponse } from 'node:http';
import { Group, Operation, newMessage } from '../../core/message.js';
import type { KubeObject } from '../store/objects.js';
import { ApiError } from './status.js';
import type { EdgeCalls } from '../cloudhub/index.js';

/** What the edge is asked for. */
export interface PodLogRequest {
  container: string;
  /** the container's previous run, ended (kubectl logs --previous) */
  previous?: boolean;
  tailLines?: number;
  follow?: boolean;
  limitBytes?: number;
}

const FIRST_REPLY_MS = 30_000;

function wholeNumber(params: URLSearchParams, name: string): number | undefined {
  const v = params.get(name);
  if (v === null) return undefined;
  if (!/^\d+$/.test(v)) throw new ApiError('BadRequest', `${name} must be a whole number, not ${JSON.stringify(v)}`);
  return Number(v);
}

export function streamPodLog(edges: EdgeCalls, pod: KubeObject, params: URLSearchParams, res: ServerResponse): Promise<void> {
  const name = pod.metadata.name;
  const ns = pod.metadata.namespace ?? 'default';
  const node = pod.spec?.nodeName;
  if (typeof node !== 'string' || node === '') throw new ApiError('BadRequest', `pod ${name} is not bound to a node yet`);
  const containers = ((pod.spec?.containers ?? []) as { name: string }[]).map((c) => c.name);
  const container = params.get('container') ?? (containers.length === 1 ? containers[0] : undefined);
  if (container === undefined) throw new ApiError('BadRequest', `a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]`);
  if (!containers.includes(container)) throw new ApiError('BadRequest', `container ${container} is not valid for pod ${name}`);
  const request: PodLogRequest = { container, follow: params.get('follow') === 'true', ...(params.get('previous') === 'true' ? { previous: true } : {}) };
  const tail = wholeNumber(params, 'tailLines');
  const limit = wholeNumber(params, 'limitBytes');
  if (tail !== undefined) request.tailLines = tail;
  if (limit !== undefined) request.limitBytes = limit;
  if (!edges.connected(node)) throw new ApiError('ServiceUnavailable', `node ${node} is not connected: a pod's log is read from its edge`);

  return new Promise<void>((resolve, reject) => {
    let started = false;
    let done = false;
    const finish = (err?: ApiError): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err && !started) return reject(err);
      res.end();
      resolve();
    };
    const msg = newMessage({ source: 'apiserver', group: Group.edged, operation: Operation.query, resource: `${ns}/podlog/${name}` }, request);
    const call = edges.call(node, msg, (part) => {
      if (done) return;
      if (part.error !== undefined) return finish(new ApiError(part.code === 404 ? 'NotFound' : part.code === 400 ? 'BadRequest' : 'ServiceUnavailable', part.error));
      if (!started) {
        started = true;
        clearTimeout(timer);
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      }
      if (part.data) res.write(part.data);
      if (part.end) finish();
    });
    const timer = setTimeout(() => {
      call.cancel();
      finish(new ApiError('Timeout', `node ${node} did not answer for the log of ${name} within ${FIRST_REPLY_MS / 1000} s`));
    }, FIRST_REPLY_MS);
    res.on('close', () => {
      if (done) return;
      call.cancel();
      finish();
    });
  });
}
