/** keadm gettoken: prints the current join token, as cloudcore last wrote it. */
import { parse } from 'yaml';
import { tokenFileFor } from '../../cloud-stub/certs/tokens.js';
import { flags } from './flags.js';
import { readNeeded } from './files.js';
import { cloudPaths } from './paths.js';

export async function gettoken(argv: readonly string[]): Promise<number> {
  const dirs = flags(argv, ['config-dir', 'data-dir']).dirs();
  const p = cloudPaths(dirs);
  const config = parse(readNeeded(p.config, 'cloudcore config', 'run "keadm init" first (or pass --config-dir)')) as { modules?: { cloudHub?: { tokenSecretFile?: string } } };
  const tokenFile = tokenFileFor(config.modules?.cloudHub?.tokenSecretFile ?? p.tokenSecret);
  process.stdout.write(readNeeded(tokenFile, 'token', 'cloudcore writes it when it starts: is it running?').trim() + '\n');
  return 0;
}
