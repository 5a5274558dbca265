/** Writes a CA, a cloud server certificate and edge certificates into a folder, as keadm would. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCA, issueEdgeCert, issueServerCert, type KeyPairPem } from '../../core/pki/pki.js';

export interface TestPki {
  dir: string;
  ca: KeyPairPem;
  caFile: string;
  caKeyFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  edge(node: string): { certFile: string; keyFile: string; cert: string; key: string };
}

/** `sans`: more addresses the cloud's server certificate covers (a board under qemu reaches the host as 10.0.2.2) */
export function makePki(dir: string, sans: string[] = []): TestPki {
  mkdirSync(join(dir, 'ca'), { recursive: true });
  mkdirSync(join(dir, 'certs'), { recursive: true });
  const ca = createCA();
  const server = issueServerCert(ca, { sans: ['127.0.0.1', 'localhost', ...sans] });
  const files = {
    caFile: join(dir, 'ca', 'rootCA.crt'),
    caKeyFile: join(dir, 'ca', 'rootCA.key'),
    serverCertFile: join(dir, 'certs', 'server.crt'),
    serverKeyFile: join(dir, 'certs', 'server.key'),
  };
  writeFileSync(files.caFile, ca.cert);
  writeFileSync(files.caKeyFile, ca.key, { mode: 0o600 });
  writeFileSync(files.serverCertFile, server.cert);
  writeFileSync(files.serverKeyFile, server.key, { mode: 0o600 });
  const edges = new Map<string, ReturnType<TestPki['edge']>>();
  return {
    dir,
    ca,
    ...files,
    edge(node) {
      const have = edges.get(node);
      if (have) return have;
      const pair = issueEdgeCert(ca, node);
      const certFile = join(dir, 'certs', `${node}.crt`);
      const keyFile = join(dir, 'certs', `${node}.key`);
      writeFileSync(certFile, pair.cert);
      writeFileSync(keyFile, pair.key, { mode: 0o600 });
      const out = { certFile, keyFile, ...pair };
      edges.set(node, out);
      return out;
    },
  };
}
