/**
 * keadm gettoken: prints the current join token, as cloudcore last wrote it; with --read-only, a
 * new token for the API that can only read (the dashboard, a Prometheus scrape), valid for --ttl.
 */
import { parse } from 'yaml';
import { loadTokenSecret, makeReadOnlyToken, tokenFileFor } from '../../cloud-stub/certs/tokens.js';
import { parseDuration } from '../core/duration.js';
import { flags, UsageError } from './flags.js';
import { readNeeded } from './files.js';
import { cloudPaths } from './paths.js';

export async function gettoken(argv: readonly string[]): Promise<number> {
  const f = flags(argv, ['config-dir', 'data-dir', 'ttl'], ['read-only']);
  const p = cloudPaths(f.dirs());
  const config = parse(readNeeded(p.config, 'cloudcore config', 'run "keadm init" first (or pass --config-dir)')) as { modules?: { cloudHub?: { tokenSecretFile?: string } } };
  const secretFile = config.modules?.cloudHub?.tokenSecretFile ?? p.tokenSecret;
  if (f.bool('read-only')) {
    const ttl = f.str('ttl', '24h') as string;
    const ms = parseDuration(ttl);
    if (ms === undefined || ms < 1000) throw new UsageError(`--ttl ${ttl} is not a duration like 24h, 30m or 720h`);
    readNeeded(secretFile, 'token secret', 'run "keadm init" first (or pass --config-dir)');
    process.stdout.write(makeReadOnlyToken(loadTokenSecret(secretFile), Date.now(), Math.floor(ms / 1000)) + '\n');
    return 0;
  }
  if (f.str('ttl') !== undefined) throw new UsageError('--ttl goes with --read-only (join tokens live 24 h)');
  const tokenFile = tokenFileFor(secretFile);
  process.stdout.write(readNeeded(tokenFile, 'token', 'cloudcore writes it when it starts: is it running?').trim() + '\n');
  return 0;
}
