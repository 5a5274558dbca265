/** HTTP as the router speaks it: its errors, a bounded request body, and a call to a REST endpoint. */
import type { IncomingMessage } from 'node:http';
import { MAX_HTTP_BODY_BYTES, passOnHeaders, readBounded } from '../../core/http.js';

export class HttpError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_HTTP_BODY_BYTES) throw new HttpError(413, `the body of ${declared} bytes is over the router's ${MAX_HTTP_BODY_BYTES}-byte limit`);
  const body = await readBounded(req, MAX_HTTP_BODY_BYTES);
  if (!body) throw new HttpError(413, `the body is over the router's ${MAX_HTTP_BODY_BYTES}-byte limit`);
  return body;
}

export interface RestAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** a request to a REST endpoint of a rule, given up after `timeoutMs` */
export async function restCall(url: string, method: string, headers: Record<string, string | string[]>, body: Buffer | undefined, timeoutMs: number): Promise<RestAnswer> {
  const flat = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]));
  const r = await fetch(url, { method, headers: flat, ...(body && body.length ? { body: new Uint8Array(body) } : {}), signal: AbortSignal.timeout(timeoutMs) });
  const bytes = Buffer.from(await r.arrayBuffer());
  // fetch has decoded the body: its content-encoding is no longer true of it
  const h = passOnHeaders(Object.fromEntries(r.headers), ['content-encoding']) as Record<string, string>;
  return { status: r.status, headers: h, body: bytes };
}
