/**
 * keadm as a newcomer meets it: every command explains itself (--help, as cobra's do), a join token
 * for a boot file flashed weeks ahead (--ttl), and a join aimed at the wrong port stopped before the
 * cloud issues a certificate, with the port it needs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../peers/proc.js';
import { HELP } from '../../keadm/help.js';
import { makeCluster, type Cluster } from './cluster.js';

const keadm = (args: string[]) => spawnSync(process.execPath, [join(ROOT, 'dist', 'keadm.js'), ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, CHECK_EDGECORE_ENVIRONMENT: 'false' } });

describe('keadm for a newcomer', () => {
  let c: Cluster;
  const tmp = mkdtempSync(join(tmpdir(), 'ke-keadm2-'));
  beforeAll(async () => {
    c = await makeCluster();
    await c.startCloud();
  });
  afterAll(async () => {
    await c?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('every command takes --help and -h, and prints its flags', () => {
    for (const cmd of Object.keys(HELP)) {
      for (const flag of ['--help', '-h']) {
        const r = keadm([cmd, flag]);
        expect(r.status, `${cmd} ${flag}: ${r.stderr}`).toBe(0);
        expect(r.stdout).toContain(`Usage:\n  keadm ${cmd}`);
        expect(r.stdout).toMatch(/^\s+-h, --help\s+help for /m);
      }
    }
    expect(keadm(['join', '--help']).stdout).toMatch(/^\s+--cloudcore-ipport HOST:PORT\s+CloudHub's address/m);
    expect(keadm(['help', 'gettoken']).stdout).toMatch(/^\s+--ttl DURATION\s/m);
    expect(keadm(['--help']).stdout).toMatch(/^ {2}join\s+join this machine as an edge node/m);
  });

  it('gettoken --ttl makes a join token that lives that long; the token file keeps the cloud\'s', () => {
    const dirs = ['--config-dir', c.dir];
    const current = keadm(['gettoken', ...dirs]).stdout.trim();
    const long = keadm(['gettoken', '--ttl', '720h', ...dirs]);
    expect(long.status, long.stderr).toBe(0);
    const exp = JSON.parse(Buffer.from(long.stdout.trim().split('.')[2] as string, 'base64url').toString()).exp as number;
    expect(exp * 1000 - Date.now()).toBeGreaterThan(719 * 3600_000);
    expect(long.stdout.split('.')[0]).toBe(current.split('.')[0]); // the same CA
    expect(readFileSync(join(c.dir, 'tokens', 'token'), 'utf8').trim()).toBe(current);
    expect(keadm(['gettoken', '--ttl', 'soon', ...dirs]).stderr).toMatch(/--ttl soon is not a duration like 24h/);
  });

  it('join aimed at a port that is not CloudHub stops before the cloud issues a certificate, saying which port it needs', async () => {
    const token = keadm(['gettoken', '--config-dir', c.dir]).stdout.trim();
    // not spawnSync: the cloud answers from this process's children, and the test waits for the exit
    const r = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, [join(ROOT, 'dist', 'keadm.js'), 'join', `--cloudcore-ipport=localhost:${c.certPort}`, `--token=${token}`, '--certport', String(c.certPort), '--edgenode-name', 'wrong-port', '--config-dir', join(tmp, 'etc'), '--data-dir', join(tmp, 'var')], { env: { ...process.env, CHECK_EDGECORE_ENVIRONMENT: 'false' } });
      let stderr = '';
      p.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
      p.on('close', (status) => resolve({ status, stderr }));
    });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(`keadm join: localhost:${c.certPort} answers HTTP without asking for a client certificate: that is not CloudHub (the certificate service is port 10002, the API 6443; CloudHub is modules.cloudHub.websocket.port, 10000 by default): fix --cloudcore-ipport`);
    expect(c.cloud?.lines.some((l) => /issued the certificate of node wrong-port/.test(l))).toBe(false);
  });
});
