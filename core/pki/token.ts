/**
 * The join token, as KubeEdge makes it: `hex(sha256(CA certificate DER)) + "." + JWT`, the JWT
 * HS256-signed with an `exp` claim. The edge can read it but not check the signature (only the
 * cloud holds the secret); it checks the CA against the hash and the expiry before it asks.
 */
import { createHash } from 'node:crypto';

export interface ParsedToken {
  caHash: string;
  jwt: string;
  /** expiry, seconds since the epoch */
  exp: number;
}

export class TokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenError';
  }
}

export function caHash(caDer: Buffer): string {
  return createHash('sha256').update(caDer).digest('hex');
}

export function parseToken(token: string): ParsedToken {
  const dot = token.indexOf('.');
  const hash = token.slice(0, dot);
  const jwt = token.slice(dot + 1);
  if (dot !== 64 || !/^[0-9a-f]{64}$/.test(hash)) throw new TokenError('the token is malformed: it must be hex(sha256(CA)) + "." + a JWT; copy it again from "keadm gettoken"');
  const parts = jwt.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p))) throw new TokenError('the token is malformed: its JWT part is not three base64url sections; copy it again from "keadm gettoken"');
  let payload: { exp?: unknown };
  try {
    payload = JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString('utf8')) as { exp?: unknown };
  } catch {
    throw new TokenError('the token is malformed: its JWT payload is not JSON; copy it again from "keadm gettoken"');
  }
  if (typeof payload.exp !== 'number') throw new TokenError('the token is malformed: its JWT has no exp claim');
  return { caHash: hash, jwt, exp: payload.exp };
}

/** Throws a TokenError naming the fix when the token has expired. */
export function checkNotExpired(t: ParsedToken, nowMs = Date.now()): void {
  if (t.exp * 1000 <= nowMs) throw new TokenError(`the token expired at ${new Date(t.exp * 1000).toISOString()}; run "keadm gettoken" on the cloud for a new one`);
}
