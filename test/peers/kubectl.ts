/** The machine's kubectl, against a kubeconfig a test writes. */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';

export function kubectl(kubeconfig: string, args: string[], input?: string): SpawnSyncReturns<string> {
  return spawnSync('kubectl', ['--kubeconfig', kubeconfig, ...args], { encoding: 'utf8', input, timeout: 60_000 });
}

/** a kubeconfig for an API at https://127.0.0.1:PORT with the CA and a bearer token, as keadm init writes one */
export function writeKubeconfig(file: string, port: number, caPem: string, token: string): string {
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'test', cluster: { server: `https://127.0.0.1:${port}`, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
      users: [{ name: 'admin', user: { token } }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: 'admin' } }],
      'current-context': 'test',
    }),
    { mode: 0o600 },
  );
  return file;
}
