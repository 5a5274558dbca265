/** HTTP as the programs take it: a bounded request body, and what crosses the link (the body limit, the headers passed on). */
import type { IncomingHttpHeaders } from 'node:http';

/** the largest body the router takes from a caller and an edge app's answer may be */
export const MAX_HTTP_BODY_BYTES = 1024 * 1024;

/** headers that belong to one connection, not to the request, and are never passed on */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host', 'content-length']);

/** the headers worth passing on to another hop; `drop` names more to keep back (a caller's `authorization`) */
export function passOnHeaders(h: IncomingHttpHeaders | Record<string, string | string[] | undefined>, drop: readonly string[] = []): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP_BY_HOP.has(k.toLowerCase()) && !drop.includes(k.toLowerCase())) out[k] = v;
  return out;
}

/** a request's body, or undefined once it grows past `max` bytes (what was read so far is dropped) */
export async function readBounded(req: AsyncIterable<unknown>, max: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > max) return undefined;
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}
