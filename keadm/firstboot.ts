/**
 * keadm firstboot: joins this gateway to its cloud from a file on the boot partition, written on
 * another computer before the first boot (the kubeedge-firstboot unit runs it at boot, and again
 * whenever the file changes):
 *
 *   # /boot/firmware/kubeedge.yaml
 *   cloudcore: 192.168.1.10:10000     # CloudHub's IP:PORT
 *   token: <keadm gettoken>           # removed from this file once joined
 *   nodeName: pi-17                   # optional: the hostname otherwise
 *   labels: {room: boiler}            # optional
 *   certPort: 10002                   # optional
 *
 * Without the file, or once joined (no token left in it), it does nothing. A refused join (an
 * expired or wrong token, a cloud not reachable) is one line with the fix, and the file is kept
 * as it was, so the next change to it tries again.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { flags, UsageError } from './flags.js';
import { join } from './join.js';
import { edgePaths } from './paths.js';
import { PACKAGED_CONFIG_MARK } from './files.js';

export const FIRSTBOOT_FILE = '/boot/firmware/kubeedge.yaml';

export async function firstboot(argv: readonly string[]): Promise<number> {
  const f = flags(argv, ['file', 'config-dir', 'data-dir']);
  const file = f.str('file', FIRSTBOOT_FILE) as string;
  if (!existsSync(file)) {
    process.stdout.write(`keadm firstboot: no ${file}; nothing to do\n`);
    return 0;
  }
  const doc = parseDocument(readFileSync(file, 'utf8'));
  if (doc.errors.length > 0) throw new UsageError(`${file} is not YAML: ${doc.errors[0]?.message.split('\n')[0] ?? ''}`);
  const spec = (doc.toJS() ?? {}) as { cloudcore?: unknown; token?: unknown; nodeName?: unknown; labels?: unknown; certPort?: unknown };
  const config = edgePaths(f.dirs()).config;
  if (spec.token === undefined || spec.token === null || spec.token === '') {
    const joined = existsSync(config) && !readFileSync(config, 'utf8').startsWith(PACKAGED_CONFIG_MARK);
    process.stdout.write(`keadm firstboot: ${file} has no token${joined ? ' (this gateway joined already)' : ''}; nothing to do\n`);
    return 0;
  }
  if (typeof spec.cloudcore !== 'string') throw new UsageError(`${file}: "cloudcore" must be CloudHub's IP:PORT (for example 192.168.1.10:10000)`);
  if (typeof spec.token !== 'string') throw new UsageError(`${file}: "token" must be the text "keadm gettoken" prints on the cloud`);
  const labels = spec.labels;
  if (labels !== undefined && (typeof labels !== 'object' || labels === null || Array.isArray(labels))) throw new UsageError(`${file}: "labels" must be a map (labels: {room: boiler})`);
  const args = [`--cloudcore-ipport=${spec.cloudcore}`, `--token=${spec.token}`];
  if (spec.nodeName !== undefined) args.push(`--edgenode-name=${String(spec.nodeName)}`);
  if (spec.certPort !== undefined) args.push(`--certport=${String(spec.certPort)}`);
  if (labels) args.push(`--labels=${Object.entries(labels).map(([k, v]) => `${k}=${String(v)}`).join(',')}`);
  for (const dirFlag of ['config-dir', 'data-dir']) {
    const v = f.str(dirFlag);
    if (v !== undefined) args.push(`--${dirFlag}=${v}`);
  }
  try {
    const code = await join(args);
    if (code !== 0) return code;
  } catch (err) {
    const text = (err as Error).message;
    const fix = /expired/i.test(text)
      ? `make a new token with "keadm gettoken" on the cloud and put it in ${file}`
      : /signature|malformed|token/i.test(text)
        ? `copy the token again from "keadm gettoken" on the cloud into ${file}`
        : `fix ${file} or the network; the unit tries again when the file changes`;
    throw new Error(`${text}; ${fix}`);
  }
  // joined: the token leaves the boot partition (readable by anyone with the SD card)
  doc.delete('token');
  doc.commentBefore = `${doc.commentBefore ? `${doc.commentBefore}\n` : ''} joined ${new Date().toISOString()}; the token was removed`;
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, doc.toString());
  renameSync(tmp, file);
  process.stdout.write(`keadm firstboot: joined; removed the token from ${file}\n`);
  return 0;
}
