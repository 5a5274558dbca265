/**
 * The first hour's failures, each as the one line a user sees, naming the cause and the fix: no
 * config file, a second cloudcore on the same ports, keadm run by a user who cannot read the
 * cloud's files, a join aimed at a port that is not the certificate service, an edge that has
 * never reached its cloud.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:https';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { createCA } from '../../core/pki/pki.js';
import { listen } from '../../core/net.js';
import { ROOT } from '../peers/proc.js';
import { freePort } from '../peers/proxy.js';
import { makeCluster, type Cluster } from './cluster.js';

const node = (prog: string, args: string[], pre: string[] = []) =>
  spawnSync(pre[0] ?? process.execPath, [...pre.slice(1), ...(pre.length ? [process.execPath] : []), join(ROOT, 'dist', `${prog}.js`), ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, CHECK_EDGECORE_ENVIRONMENT: 'false' },
  });
const oneLine = (r: { status: number | null; stderr: string }): string => {
  expect(r.status).toBe(1);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  return r.stderr.trim();
};

describe('errors that say what to do', () => {
  let c: Cluster;
  const tmp = mkdtempSync(join(tmpdir(), 'ke-errors-'));
  beforeAll(async () => {
    c = await makeCluster();
    await c.startCloud();
  });
  afterAll(async () => {
    await c.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("cloudcore's health, to anyone: /healthz, and /readyz naming each part; the API itself still wants the token", async () => {
    const healthz = await c.api.call('GET', '/healthz', undefined, '');
    expect(healthz).toEqual({ status: 200, body: 'ok' });
    const readyz = await c.api.call('GET', '/readyz', undefined, '');
    expect(readyz.status).toBe(200);
    expect(readyz.body).toBe(`[+]cloudhub ok (listening on ${c.hubPort})\n[+]certservice ok (listening on ${c.certPort})\nreadyz check passed\n`);
    expect((await c.api.call('GET', '/api/v1/nodes', undefined, '')).status).toBe(401);
  });

  it('no config file: how to write one', () => {
    const path = join(tmp, 'nope.yaml');
    expect(oneLine(node('cloudcore', ['--config', path]))).toBe(`cloudcore: no config at ${path}; write one with "cloudcore --minconfig > ${path}" (--defaultconfig prints every key), or pass --config FILE`);
    expect(oneLine(node('edgecore', ['--config', path]))).toBe(`edgecore: no config at ${path}; write one with "edgecore --minconfig > ${path}" (--defaultconfig prints every key), or pass --config FILE`);
  });

  it('a second cloudcore on the same ports: which port is taken', () => {
    const config = parse(readFileSync(join(c.dir, 'config', 'cloudcore.yaml'), 'utf8'));
    config.database.dataSource = join(tmp, 'second.db'); // its own store: only the ports are shared
    const file = join(tmp, 'second.yaml');
    writeFileSync(file, stringify(config));
    expect(oneLine(node('cloudcore', ['--config', file]))).toMatch(/^cloudcore: 127\.0\.0\.1:\d+ is in use by another process \(is one already running here\?\); stop it or set another port in the config$/);
  });

  it("keadm as a user who cannot read the cloud's files: run it as root", () => {
    const asNobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
    expect(oneLine(node('keadm', ['get', 'nodes', '--config-dir', c.dir], asNobody))).toBe(`keadm get: cannot read cloudcore config ${join(c.dir, 'config', 'cloudcore.yaml')}: permission denied; run keadm as root (sudo)`);
    expect(oneLine(node('keadm', ['gettoken', '--config-dir', c.dir], asNobody))).toMatch(/^keadm gettoken: cannot read cloudcore config \S+: permission denied; run keadm as root \(sudo\)$/);
  });

  it('keadm join aimed at a port that answers 404: which port it needs', async () => {
    const ca = createCA();
    const server = createServer({ cert: ca.cert, key: ca.key }, (_req, res) => res.writeHead(404).end());
    const port = await freePort();
    await listen(server, port, '127.0.0.1');
    try {
      const token = `${'a'.repeat(64)}.eyJhbGciOiJIUzI1NiJ9.${Buffer.from(JSON.stringify({ exp: 4e9 })).toString('base64url')}.c2ln`;
      // not spawnSync: the server answers from this process
      const r = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
        const p = spawn(process.execPath, [join(ROOT, 'dist', 'keadm.js'), 'join', '--cloudcore-ipport=127.0.0.1:10000', `--token=${token}`, '--certport', String(port), '--config-dir', join(tmp, 'j', 'etc'), '--data-dir', join(tmp, 'j', 'var')], { env: { ...process.env, CHECK_EDGECORE_ENVIRONMENT: 'false' } });
        let stderr = '';
        p.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
        p.on('close', (status) => resolve({ status, stderr }));
      });
      expect(oneLine(r)).toBe("keadm join: the cloud answered HTTP 404 to the CA request; is this cloudcore's certificate port (modules.cloudHub.https.port, 10002; keadm join --certport)?");
    } finally {
      server.close();
    }
  });

  it('an edge that never reached its cloud says where it tries, not that a link was lost', async () => {
    const nowhere = await freePort();
    const edge = await c.startEdge('edge-lonely', { server: `127.0.0.1:${nowhere}` });
    await edge.proc.waitFor(new RegExp(`cannot reach the cloud at 127\\.0\\.0\\.1:${nowhere}: .*ECONNREFUSED.* \\(modules\\.edgeHub\\.websocket\\.server\\); retrying`), 15_000);
    expect(edge.proc.count(/link to the cloud lost/)).toBe(0);
  });
});
