/**
 * Every file a cloudcore writes follows from its config. A config shaped like KubeEdge's own (its CA
 * somewhere else than /etc/kubeedge, no key for our token files) keeps the join token, its secret and
 * the admin token beside that CA; keadm gettoken never hands out a token made for another CA, or an
 * expired one: it makes a new one from the secret.
 */
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createCA } from '../../core/pki/pki.js';
import { makeJoinToken } from '../../core/pki/tokens.js';
import { caHash } from '../../core/pki/token.js';
import { freePort } from '../peers/proxy.js';
import { ROOT, runBundle, type Proc } from '../peers/proc.js';

const keadm = (args: string[]) => spawnSync(process.execPath, [join(ROOT, 'dist', 'keadm.js'), ...args], { encoding: 'utf8', timeout: 60_000 });
/** what /etc/kubeedge holds now (it must not change), as paths and modification times */
const hostEtc = (): string => spawnSync('sh', ['-c', 'find /etc/kubeedge -printf "%p %T@\\n" 2>/dev/null | sort'], { encoding: 'utf8' }).stdout;

describe('the files of a cloudcore follow from its config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ke-tokens-'));
  let cloud: Proc | undefined;
  afterAll(async () => {
    await cloud?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('a KubeEdge-shaped config keeps the tokens beside its CA, and gettoken serves only a current one', async () => {
    const etcBefore = hostEtc();
    const pki = join(dir, 'cloudcore'); // as ../shared/kubeedge's up.sh lays out KubeEdge's own files
    const config = {
      apiVersion: 'cloudcore.config.kubeedge.io/v1alpha2',
      kind: 'CloudCore',
      database: { dataSource: join(dir, 'var', 'cloudcore.db') },
      modules: {
        cloudHub: {
          advertiseAddress: ['127.0.0.1'],
          tlsCAFile: join(pki, 'ca', 'rootCA.crt'),
          tlsCAKeyFile: join(pki, 'ca', 'rootCA.key'),
          tlsCertFile: join(pki, 'certs', 'server.crt'),
          tlsPrivateKeyFile: join(pki, 'certs', 'server.key'),
          websocket: { address: '127.0.0.1', port: await freePort() },
          https: { address: '127.0.0.1', port: await freePort() },
        },
        apiServer: { address: '127.0.0.1', port: await freePort() },
      },
    };
    mkdirSync(join(dir, 'etc', 'config'), { recursive: true });
    writeFileSync(join(dir, 'etc', 'config', 'cloudcore.yaml'), stringify(config));
    cloud = runBundle('cloudcore', ['--config', join(dir, 'etc', 'config', 'cloudcore.yaml')]);
    await cloud.waitFor(/cloudcore is running/, 30_000);
    for (const f of ['tokens/tokensecret', 'tokens/token', 'admin.token', 'admin.kubeconfig']) expect(existsSync(join(pki, f)), f).toBe(true);
    // the binary deployment writes the admin kubeconfig as keadm init does: kubectl works with it
    const k = spawnSync('kubectl', ['--kubeconfig', join(pki, 'admin.kubeconfig'), 'get', 'nodes'], { encoding: 'utf8' });
    expect(k.status, k.stderr).toBe(0);
    expect(`${k.stdout}${k.stderr}`).toContain('No resources found');
    expect(statSync(join(pki, 'tokens', 'token')).mode & 0o777).toBe(0o600);
    expect(hostEtc()).toBe(etcBefore);

    const ca = new X509Certificate(readFileSync(join(pki, 'ca', 'rootCA.crt'))).raw;
    const gettoken = (): string => {
      const r = keadm(['gettoken', '--config-dir', join(dir, 'etc')]);
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.trim();
    };
    const token = gettoken();
    expect(token).toBe(readFileSync(join(pki, 'tokens', 'token'), 'utf8').trim());
    expect(token.split('.')[0]).toBe(caHash(ca));
    await cloud.kill('SIGKILL');
    cloud = undefined;

    // a token another cloud left there (its CA's hash, though signed with this secret) is not served: a new one is made
    const secret = Buffer.from(readFileSync(join(pki, 'tokens', 'tokensecret'), 'utf8').trim(), 'hex');
    const otherCa = new X509Certificate(createCA().cert).raw;
    writeFileSync(join(pki, 'tokens', 'token'), makeJoinToken(secret, otherCa, Date.now()) + '\n');
    const fresh = gettoken();
    expect(fresh.split('.')[0]).toBe(caHash(ca));
    expect(readFileSync(join(pki, 'tokens', 'token'), 'utf8').trim()).toBe(fresh);
    // nor is an expired one
    writeFileSync(join(pki, 'tokens', 'token'), makeJoinToken(secret, ca, Date.now() - 25 * 3600_000) + '\n');
    const renewed = gettoken();
    expect(readFileSync(join(pki, 'tokens', 'token'), 'utf8').trim()).toBe(renewed);
    const exp = JSON.parse(Buffer.from(renewed.split('.')[2] as string, 'base64url').toString()).exp as number;
    expect(exp * 1000).toBeGreaterThan(Date.now() + 23 * 3600_000);
    expect(hostEtc()).toBe(etcBefore);
  });
});
