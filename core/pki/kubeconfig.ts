/** The admin kubeconfig for kubectl on this cloud: the API's address, its CA, the admin token. */
import { stringify } from 'yaml';

export function adminKubeconfig(address: string, port: number, caPem: string, token: string): string {
  const host = address.includes(':') ? `[${address}]` : address;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'kubeedge', cluster: { server: `https://${host}:${port}`, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
    users: [{ name: 'admin', user: { token } }],
    contexts: [{ name: 'kubeedge', context: { cluster: 'kubeedge', user: 'admin' } }],
    'current-context': 'kubeedge',
  });
}
