/**
 * Provisioning: time from `keadm join` to the node Ready (and keadm init), and certificate
 * issuance per second through the certificate service, beside openssl signing the same requests.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../test/peers/proc.js';
import { makeCluster } from '../test/e2e/cluster.js';
import { fetchCa, requestCertificate } from '../core/pki/edge-certificate.js';
import { derToPem, edgeCsrDer, newEdgeKeyPem } from '../core/pki/csr.js';
import { percentile, report, type Row } from './lib/report.js';

const keadm = (args: string[]) => spawnSync(process.execPath, [join(ROOT, 'dist', 'keadm.js'), ...args], { encoding: 'utf8', env: { ...process.env, CHECK_EDGECORE_ENVIRONMENT: 'false' } });

async function joinToReady(runs: number): Promise<{ init: number[]; join: number[] }> {
  const init: number[] = [];
  const joined: number[] = [];
  for (let i = 0; i < runs; i++) {
    const base = mkdtempSync(join(tmpdir(), 'ke-bench-'));
    const cloud = ['--config-dir', join(base, 'c', 'etc'), '--data-dir', join(base, 'c', 'var')];
    const edge = ['--config-dir', join(base, 'e', 'etc'), '--data-dir', join(base, 'e', 'var')];
    try {
      let t0 = performance.now();
      const r = keadm(['init', '--advertise-address', '127.0.0.1', ...cloud]);
      if (r.status !== 0) throw new Error(r.stderr);
      init.push(performance.now() - t0);
      const token = keadm(['gettoken', ...cloud]).stdout.trim();
      t0 = performance.now();
      const j = keadm(['join', '--cloudcore-ipport=127.0.0.1:10000', `--token=${token}`, '--edgenode-name', `bench-${i}`, ...edge]);
      if (j.status !== 0) throw new Error(j.stderr);
      for (;;) {
        const out = keadm(['get', 'nodes', `bench-${i}`, '-o', 'json', ...cloud]).stdout;
        if (out.includes('"status": "True"')) break;
        await new Promise((res) => setTimeout(res, 20));
      }
      joined.push(performance.now() - t0);
    } finally {
      keadm(['reset', ...edge]);
      keadm(['reset', '--force', ...cloud]);
      rmSync(base, { recursive: true, force: true });
    }
  }
  return { init: init.sort((a, b) => a - b), join: joined.sort((a, b) => a - b) };
}

async function issuance(n: number): Promise<{ ours: number; openssl: number }> {
  const c = await makeCluster();
  try {
    await c.startCloud();
    const token = c.token();
    const ca = await fetchCa(`https://127.0.0.1:${c.certPort}`, token);
    const key = await newEdgeKeyPem();
    const t0 = performance.now();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < n) {
        const i = next++;
        // one key for all: the cloud's signing is measured, not the edge's key generation
        await requestCertificate({ httpServer: `https://127.0.0.1:${c.certPort}`, nodeName: `issue-${i}`, caPem: ca.pem, token, key });
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    const ours = n / ((performance.now() - t0) / 1000);
    // the peer: openssl signing CSRs with the same CA, one process each, as a shell script would
    const csrFile = join(c.dir, 'req.csr');
    writeFileSync(csrFile, derToPem(edgeCsrDer(key, 'peer'), 'CERTIFICATE REQUEST'));
    const m = Math.min(n, 50);
    const t1 = performance.now();
    for (let i = 0; i < m; i++) execFileSync('openssl', ['x509', '-req', '-in', csrFile, '-CA', c.pki.caFile, '-CAkey', c.pki.caKeyFile, '-CAcreateserial', '-days', '365', '-sha256', '-out', join(c.dir, 'peer.crt')], { stdio: 'ignore' });
    const openssl = m / ((performance.now() - t1) / 1000);
    return { ours, openssl };
  } finally {
    await c.stop();
  }
}

const rows: Row[] = [];
const runs = Number(process.env.BENCH_JOINS ?? 3);
const t = await joinToReady(runs);
rows.push({ metric: `keadm init to "cloudcore is running" (median of ${runs})`, ours: percentile(t.init, 50), unit: 'ms' });
rows.push({ metric: `keadm join to node Ready (median of ${runs})`, ours: percentile(t.join, 50), unit: 'ms' });
const iss = await issuance(Number(process.env.BENCH_CERTS ?? 200));
rows.push({ metric: 'edge certificates issued per second (join requests over HTTPS)', ours: iss.ours, peer: iss.openssl, peerName: 'openssl x509 -req per process', ratio: iss.ours / iss.openssl, unit: 'certs/s' });
report('provisioning', rows);
process.exit(0);
