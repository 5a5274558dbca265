/**
 * keadm gettoken: prints the current join token, as cloudcore last wrote it beside its CA; one whose
 * CA hash is not the current CA's, or that has expired, is made again from the token secret (a file
 * left by another cloud on this host is never handed out). With --ttl, a new join token valid that long
 * (for boot files flashed ahead of time); with --read-only, a new token for the API that can only read
 * (the dashboard, a Prometheus scrape), valid for --ttl (24 h by default).
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { loadTokenSecret, makeJoinToken, makeReadOnlyToken } from '../core/pki/tokens.js';
import { verifyJwt } from '../core/pki/jwt.js';
import { caHash } from '../core/pki/token.js';
import { parseDuration } from '../core/duration.js';
import { flags, UsageError } from './flags.js';
import { readNeeded } from './files.js';
import { readCloudConfig } from './cloudconfig.js';

export async function gettoken(argv: readonly string[]): Promise<number> {
  const f = flags(argv, ['config-dir', 'data-dir', 'ttl'], ['read-only']);
  const { config, files } = readCloudConfig(f.dirs());
  const secretFile = files.tokenSecret;
  const ttlText = f.str('ttl');
  const ttlS = ttlText === undefined ? undefined : Math.floor((parseDuration(ttlText) ?? NaN) / 1000);
  if (ttlS !== undefined && !(ttlS >= 1)) throw new UsageError(`--ttl ${ttlText ?? ''} is not a duration like 24h, 30m or 720h`);
  if (f.bool('read-only')) {
    readNeeded(secretFile, 'token secret', 'run "keadm init" first (or pass --config-dir)');
    process.stdout.write(makeReadOnlyToken(loadTokenSecret(secretFile), Date.now(), ttlS ?? 24 * 3600) + '\n');
    return 0;
  }
  const caPem = readNeeded(config.modules.cloudHub.tlsCAFile, 'CA certificate', 'run "keadm init" first (or pass --config-dir)');
  const caDer = new X509Certificate(caPem).raw;
  if (ttlS !== undefined) {
    // a join token of its own life (a boot file flashed weeks ahead), signed with the same secret; the file keeps cloudcore's
    readNeeded(secretFile, 'token secret', 'cloudcore makes it when it starts: is it running?');
    process.stdout.write(makeJoinToken(loadTokenSecret(secretFile), caDer, Date.now(), ttlS) + '\n');
    return 0;
  }
  const token = existsSync(files.joinToken) ? readFileSync(files.joinToken, 'utf8').trim() : '';
  if (current(token, caDer, secretFile)) {
    process.stdout.write(token + '\n');
    return 0;
  }
  readNeeded(secretFile, 'token secret', 'cloudcore makes it when it starts: is it running?');
  const fresh = makeJoinToken(loadTokenSecret(secretFile), caDer, Date.now());
  writeFileSync(`${files.joinToken}.tmp`, fresh + '\n', { mode: 0o600 });
  renameSync(`${files.joinToken}.tmp`, files.joinToken);
  process.stdout.write(fresh + '\n');
  return 0;
}

/** a token for this CA, signed with this secret, not expired */
function current(token: string, caDer: Buffer, secretFile: string): boolean {
  const dot = token.indexOf('.');
  if (dot < 0 || token.slice(0, dot) !== caHash(caDer) || !existsSync(secretFile)) return false;
  return verifyJwt(loadTokenSecret(secretFile), token.slice(dot + 1)).ok;
}
