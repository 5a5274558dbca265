/** The machine's kubectl, against a kubeconfig a test writes. */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
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

/**
 * kubectl in a terminal, as a person runs `kubectl exec -it`: script(1) gives it a pty; `lines` are
 * typed one by one, a second after it starts and then 300 ms apart. Resolves with the terminal's
 * output and kubectl's exit code.
 */
export function kubectlInTerminal(kubeconfig: string, args: string[], lines: string[], timeoutMs = 30_000): Promise<{ status: number | null; output: string }> {
  const quoted = ['kubectl', '--kubeconfig', kubeconfig, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const child = spawn('script', ['-qfec', quoted, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (output += d.toString('utf8')));
  child.stdin.on('error', () => undefined);
  lines.forEach((l, i) => setTimeout(() => child.stdin.writable && child.stdin.write(`${l}\r`), 1000 + 300 * i));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) => {
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, output });
    });
  });
}
