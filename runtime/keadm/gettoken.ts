/** keadm gettoken: prints the current join token, as cloudcore last wrote it. */
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { tokenFileFor } from '../../cloud-stub/certs/tokens.js';
import { flags } from './flags.js';
import { cloudPaths } from './paths.js';

export async function gettoken(argv: readonly string[]): Promise<number> {
  const dirs = flags(argv, ['config-dir', 'data-dir']).dirs();
  const p = cloudPaths(dirs);
  if (!existsSync(p.config)) throw new Error(`no cloudcore config at ${p.config}; run "keadm init" first (or pass --config-dir)`);
  const config = parse(readFileSync(p.config, 'utf8')) as { modules?: { cloudHub?: { tokenSecretFile?: string } } };
  const tokenFile = tokenFileFor(config.modules?.cloudHub?.tokenSecretFile ?? p.tokenSecret);
  if (!existsSync(tokenFile)) throw new Error(`no token at ${tokenFile}; cloudcore writes it when it starts: is it running?`);
  process.stdout.write(readFileSync(tokenFile, 'utf8').trim() + '\n');
  return 0;
}
