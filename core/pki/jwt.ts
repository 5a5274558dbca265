/** HS256 JWTs for join tokens: `exp` is checked, the signature compared in constant time. */
import { createHmac, timingSafeEqual } from 'node:crypto';

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

export function signJwt(secret: Buffer, claims: Record<string, unknown>): string {
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}

export type JwtCheck = { ok: true; claims: Record<string, unknown> } | { ok: false; reason: string };

export function verifyJwt(secret: Buffer, jwt: string, nowMs = Date.now()): JwtCheck {
  const parts = jwt.split('.');
  if (parts.length !== 3) return { ok: false, reason: 'not a JWT' };
  const [h, p, sig] = parts as [string, string, string];
  let header: { alg?: unknown };
  let claims: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as { alg?: unknown };
    claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return { ok: false, reason: 'JWT header or payload is not JSON' };
  }
  if (header.alg !== 'HS256') return { ok: false, reason: `JWT algorithm ${String(header.alg)} is not HS256` };
  const want = createHmac('sha256', secret).update(`${h}.${p}`).digest();
  const given = Buffer.from(sig, 'base64url');
  if (given.length !== want.length || !timingSafeEqual(given, want)) return { ok: false, reason: 'JWT signature does not match this cloud' };
  if (typeof claims.exp !== 'number') return { ok: false, reason: 'JWT has no exp claim' };
  if (claims.exp * 1000 <= nowMs) return { ok: false, reason: `token expired at ${new Date(claims.exp * 1000).toISOString()}` };
  return { ok: true, claims };
}
