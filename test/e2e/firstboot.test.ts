/**
 * First boot: `keadm firstboot` (what kubeedge-firstboot.service runs) joins from a kubeedge.yaml
 * as a user writes it onto the boot partition, then takes the token out of it; an expired token is
 * one line with the fix and changes nothing; without the file, and on the next boot, nothing runs.
 */
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../peers/proc.js';
import { makeJoinToken } from '../../core/pki/tokens.js';
import { PACKAGED_CONFIG_MARK } from '../../keadm/files.js';
import { makeCluster, eventually, readyOf, type Cluster } from './cluster.js';

const NODE = 'pi-firstboot';

describe('keadm firstboot, from /boot/firmware/kubeedge.yaml', () => {
  let c: Cluster;
  const base = mkdtempSync(join(tmpdir(), 'ke-firstboot-'));
  const bootFile = join(base, 'boot', 'kubeedge.yaml');
  const dirs = ['--config-dir', join(base, 'etc'), '--data-dir', join(base, 'var')];
  const keadm = (args: string[]) => spawnSync(process.execPath, [join(ROOT, 'dist', 'keadm.js'), ...args], { encoding: 'utf8', env: { ...process.env, CHECK_EDGECORE_ENVIRONMENT: 'false' }, timeout: 60_000 });
  const firstboot = () => keadm(['firstboot', '--file', bootFile, ...dirs]);

  beforeAll(async () => {
    c = await makeCluster();
    await c.startCloud();
    spawnSync('mkdir', ['-p', join(base, 'boot'), join(base, 'etc', 'config')]);
    // the package's default (a standalone edge): the join replaces it
    writeFileSync(join(base, 'etc', 'config', 'edgecore.yaml'), `${PACKAGED_CONFIG_MARK}: a standalone edge\napiVersion: edgecore.config.kubeedge.io/v1alpha2\nkind: EdgeCore\n`);
  });
  afterAll(async () => {
    keadm(['reset', '--force', ...dirs]);
    await c.stop();
    rmSync(base, { recursive: true, force: true });
  });

  it('does nothing without the file', () => {
    const r = firstboot();
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/no .*kubeedge\.yaml; nothing to do/);
    expect(readFileSync(join(base, 'etc', 'config', 'edgecore.yaml'), 'utf8')).toMatch(new RegExp(`^${PACKAGED_CONFIG_MARK}`));
  });

  it('refuses an expired token in one line with the fix, and keeps the file as it was', () => {
    const secret = Buffer.from(readFileSync(join(c.dir, 'tokens', 'tokensecret'), 'utf8').trim(), 'hex');
    const caDer = new X509Certificate(readFileSync(c.pki.caFile)).raw;
    const text = `# written on a laptop before the first boot\ncloudcore: 127.0.0.1:${c.hubPort}\ncertPort: ${c.certPort}\ntoken: ${makeJoinToken(secret, caDer, Date.now() - 25 * 3600_000)}\nnodeName: ${NODE}\nlabels: {room: boiler}\n`;
    writeFileSync(bootFile, text);
    const r = firstboot();
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/keadm firstboot: .*expired.*; make a new token with "keadm gettoken" on the cloud and put it in .*kubeedge\.yaml/);
    expect(readFileSync(bootFile, 'utf8')).toBe(text);
  });

  it('joins with a good token: the node is Ready with its labels, and the token is gone from the file', async () => {
    const before = readFileSync(bootFile, 'utf8');
    writeFileSync(bootFile, before.replace(/^token: .*$/m, `token: ${c.token()}`));
    const r = firstboot();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/joined; removed the token from/);
    await eventually(async () => readyOf((await c.api.call('GET', `/api/v1/nodes/${NODE}`)).body) === 'True', 30_000, 'Ready');
    expect((await c.api.call('GET', `/api/v1/nodes/${NODE}`)).body.metadata.labels.room).toBe('boiler');
    const after = readFileSync(bootFile, 'utf8');
    expect(after).not.toMatch(/token:/);
    expect(after).not.toContain(c.token());
    expect(after).toMatch(/written on a laptop/); // the user's comments stay
    expect(after).toMatch(new RegExp(`cloudcore: 127\\.0\\.0\\.1:${c.hubPort}`));
    expect(existsSync(join(base, 'etc', 'certs', 'server.crt'))).toBe(true);
    expect(readFileSync(join(base, 'etc', 'config', 'edgecore.yaml'), 'utf8')).not.toMatch(new RegExp(`^${PACKAGED_CONFIG_MARK}`));
  });

  it('does nothing on the next boot', () => {
    const r = firstboot();
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/has no token \(this gateway joined already\); nothing to do/);
  });
});
