/** Who a request to the resource API is: the admin token's holder, a read-only token's, or no one. */
import type { IncomingMessage } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { ApiError } from './status.js';

/** what a request without a valid token is told */
export const TOKEN_NEEDED = 'a valid "Authorization: Bearer <token>" header is required (the admin token, or a read-only one from "keadm gettoken --read-only")';

/** what a bearer token may do: everything, or read (GET) */
export type Role = 'admin' | 'read';

export interface Tokens {
  token: () => string;
  /** a read-only token (the dashboard's, Prometheus'): ok, or why not */
  readOnly?: (token: string) => { ok: true } | { ok: false; reason: string };
}

/** the bearer token's role; a token that is no one's is refused, saying why when it is a stale read-only one */
export function authorize(req: IncomingMessage, tokens: Tokens): Role | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!m) return undefined;
  const given = Buffer.from(m[1] as string);
  const want = Buffer.from(tokens.token());
  if (given.length === want.length && timingSafeEqual(given, want)) return 'admin';
  const ro = tokens.readOnly?.(m[1] as string);
  if (ro?.ok) return 'read';
  if (ro && /expired/.test(ro.reason)) throw new ApiError('Unauthorized', `the read-only token ${ro.reason}; make a new one with "keadm gettoken --read-only"`);
  return undefined;
}
