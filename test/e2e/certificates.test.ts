/**
 * The certificate service signs any standard CSR, as KubeEdge's does: ECDSA (P-256, P-384) and RSA
 * requests made by openssl (an independent peer) get a certificate that openssl verifies against
 * the CA, with the node's subject and client-auth usage; a request whose signature does not match
 * its key, and one on a curve it does not take, are refused with the reason.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCluster, type Cluster } from './cluster.js';
import { derToPem } from '../../core/pki/csr.js';

describe('the certificate service takes any standard CSR', () => {
  let c: Cluster;
  let dir: string;
  beforeAll(async () => {
    c = await makeCluster();
    await c.startCloud();
    dir = mkdtempSync(join(tmpdir(), 'ke-csr-'));
  });
  afterAll(async () => {
    await c?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const jwt = (): string => c.token().split('.').slice(1).join('.');
  const ask = (node: string, csrDer: Buffer): Promise<{ status: number; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: c.certPort, path: '/edge.crt', method: 'GET', ca: c.pki.ca.cert, headers: { NodeName: node, Authorization: `Bearer ${jwt()}`, 'content-length': String(csrDer.length) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (b: Buffer) => chunks.push(b));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      req.end(csrDer);
    });
  const csr = (node: string, keyArgs: string[]): Buffer => {
    const key = join(dir, `${node}.key`);
    execFileSync('openssl', ['genpkey', ...keyArgs, '-out', key], { stdio: 'ignore' });
    return execFileSync('openssl', ['req', '-new', '-key', key, '-subj', `/O=system:nodes/CN=system:node:${node}`, '-outform', 'DER']);
  };

  for (const [kind, args] of [
    ['ECDSA P-256', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']],
    ['ECDSA P-384', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384']],
    ['RSA 2048', ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']],
  ] as const) {
    it(`signs an openssl ${kind} request; openssl verifies the certificate`, async () => {
      const node = `csr-${kind.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
      const r = await ask(node, csr(node, [...args]));
      expect(r.status).toBe(200);
      const certFile = join(dir, `${node}.crt`);
      writeFileSync(certFile, derToPem(r.body, 'CERTIFICATE'));
      const verify = spawnSync('openssl', ['verify', '-CAfile', c.pki.caFile, '-purpose', 'sslclient', certFile], { encoding: 'utf8' });
      expect(verify.stdout.trim()).toBe(`${certFile}: OK`);
      const text = execFileSync('openssl', ['x509', '-in', certFile, '-noout', '-subject', '-ext', 'keyUsage,extendedKeyUsage'], { encoding: 'utf8' });
      expect(text).toContain(`subject=O = system:nodes, CN = system:node:${node}`);
      expect(text).toMatch(/TLS Web Client Authentication/);
      // the certificate carries the request's own key
      const pub = execFileSync('openssl', ['x509', '-in', certFile, '-noout', '-pubkey'], { encoding: 'utf8' });
      expect(pub).toBe(execFileSync('openssl', ['pkey', '-in', join(dir, `${node}.key`), '-pubout'], { encoding: 'utf8' }));
    });
  }

  it('refuses a request not signed by its own key, and a curve it does not take', async () => {
    const good = csr('csr-tampered', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']);
    const bad = Buffer.from(good);
    bad[bad.length - 3] = (bad[bad.length - 3] as number) ^ 0xff; // in the signature
    const r = await ask('csr-tampered', bad);
    expect(r.status).toBe(400);
    expect(r.body.toString()).toMatch(/not a usable PKCS#10 certificate request: it is not signed by its own key/);
    const p521 = await ask('csr-p521', csr('csr-p521', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-521']));
    expect(p521.status).toBe(400);
    expect(p521.body.toString()).toMatch(/an ECDSA key on secp521r1: use P-256 or P-384/);
    expect(readFileSync(c.pki.caFile, 'utf8')).toContain('BEGIN CERTIFICATE');
  });
});
