/**
 * A request to a node through the link, its answer gathered from the parts the edge sends: a node
 * that is not connected is a 503 at once, more than MAX_IN_FLIGHT_PER_NODE requests to it a 429, no
 * answer within restTimeout a 504, an answer over the body limit a 502.
 */
import type { Message, ReplyPart } from '../../core/message.js';
import { MAX_HTTP_BODY_BYTES } from '../../core/http.js';
import type { EdgeCalls } from '../cloudhub/index.js';
import { HttpError } from './http.js';

/** requests in progress to one node at once (429 above) */
export const MAX_IN_FLIGHT_PER_NODE = 16;

export interface EdgeAnswer {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

export type CallEdge = (node: string, msg: Message) => Promise<EdgeAnswer>;

export function edgeCaller(edges: EdgeCalls, restTimeoutSeconds: number): CallEdge {
  const inFlight = new Map<string, number>();
  return (node, msg) => {
    if (!edges.connected(node)) return Promise.reject(new HttpError(503, `node ${node} is not connected`));
    const n = inFlight.get(node) ?? 0;
    if (n >= MAX_IN_FLIGHT_PER_NODE) return Promise.reject(new HttpError(429, `${MAX_IN_FLIGHT_PER_NODE} requests to node ${node} are already in progress`));
    inFlight.set(node, n + 1);
    return gather(edges, node, msg, restTimeoutSeconds).finally(() => inFlight.set(node, (inFlight.get(node) ?? 1) - 1));
  };
}

function gather(edges: EdgeCalls, node: string, msg: Message, restTimeoutSeconds: number): Promise<EdgeAnswer> {
  return new Promise<EdgeAnswer>((resolve, reject) => {
    const answer: EdgeAnswer = { status: 200, headers: {}, body: Buffer.alloc(0) };
    const body: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve({ ...answer, body: Buffer.concat(body) });
    };
    const call = edges.call(node, msg, (part: ReplyPart) => {
      if (part.error !== undefined) return finish(new HttpError(part.code ?? 502, part.error));
      if (part.status !== undefined) answer.status = part.status;
      if (part.headers) answer.headers = part.headers;
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
      finish(new HttpError(504, `node ${node} did not answer within restTimeout (${restTimeoutSeconds} s)`));
    }, restTimeoutSeconds * 1000);
  });
}
