/**
 * Join tokens: `hex(sha256(CA DER)).JWT`, valid for 24 h. A new one is made every
 * `tokenRefreshDuration` hours and written to a file for `keadm gettoken`; older ones stay valid
 * until they expire (a JWT is checked by its signature and exp, not looked up).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { caHash } from './token.js';
import type { Clock, Timer } from '../clock.js';
import { signJwt, verifyJwt, type JwtCheck } from './jwt.js';

export const TOKEN_LIFETIME_S = 24 * 3600;

/** The HMAC secret: read from its file, or made (32 random bytes, mode 0600) when missing. */
export function loadTokenSecret(path: string): Buffer {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(path, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
  }
  return Buffer.from(readFileSync(path, 'utf8').trim(), 'hex');
}

export function makeJoinToken(secret: Buffer, caDer: Buffer, nowMs: number, lifetimeS = TOKEN_LIFETIME_S): string {
  const iat = Math.floor(nowMs / 1000);
  return `${caHash(caDer)}.${signJwt(secret, { iat, exp: iat + lifetimeS })}`;
}

export interface TokenRotator {
  current(): string;
  stop(): void;
}

export function startTokenRotation(opts: { secret: Buffer; caDer: Buffer; file: string; refreshHours: number; clock: Clock }): TokenRotator {
  let token = '';
  let timer: Timer | undefined;
  const refresh = (): void => {
    token = makeJoinToken(opts.secret, opts.caDer, opts.clock.now());
    const tmp = `${opts.file}.tmp`;
    writeFileSync(tmp, token + '\n', { mode: 0o600 });
    renameSync(tmp, opts.file);
  };
  refresh();
  timer = opts.clock.setInterval(refresh, opts.refreshHours * 3600 * 1000);
  return {
    current: () => token,
    stop: () => opts.clock.clear(timer),
  };
}

/**
 * Read-only API tokens (the dashboard, Prometheus): JWTs signed with a key derived from the token
 * secret, so one is never a join token (and a join token never one of these); they expire.
 */
const readOnlyKey = (secret: Buffer): Buffer => createHmac('sha256', secret).update('kubeedge-lite read-only API token').digest();

export function makeReadOnlyToken(secret: Buffer, nowMs: number, lifetimeS: number): string {
  const iat = Math.floor(nowMs / 1000);
  return signJwt(readOnlyKey(secret), { scope: 'read-only', iat, exp: iat + lifetimeS });
}

export function checkReadOnlyToken(secret: Buffer, token: string, nowMs = Date.now()): JwtCheck {
  const r = verifyJwt(readOnlyKey(secret), token, nowMs);
  return r.ok && r.claims.scope !== 'read-only' ? { ok: false, reason: 'not a read-only token' } : r;
}
