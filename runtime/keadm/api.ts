/** keadm's client of the resource API, found through cloudcore.yaml in the config folder. */
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { parse } from 'yaml';
import { cloudPaths, type Dirs } from './paths.js';

export interface ApiReply {
  status: number;
  body: unknown;
}

export interface Api {
  call(method: string, path: string, body?: unknown): Promise<ApiReply>;
}

export type ResourceKind = 'nodes' | 'devices' | 'devicemodels';

export function kindOf(word: string): ResourceKind {
  const w = word.toLowerCase();
  if (['node', 'nodes', 'no'].includes(w)) return 'nodes';
  if (['device', 'devices'].includes(w)) return 'devices';
  if (['devicemodel', 'devicemodels'].includes(w)) return 'devicemodels';
  throw new Error(`unknown kind ${JSON.stringify(word)}: use nodes, devices or devicemodels`);
}

export function pathOf(kind: ResourceKind, namespace: string, name?: string): string {
  const base = kind === 'nodes' ? '/api/v1/nodes' : `/apis/devices.kubeedge.io/v1beta1/namespaces/${encodeURIComponent(namespace)}/${kind}`;
  return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
}

export function openApi(dirs: Dirs): Api {
  const p = cloudPaths(dirs);
  if (!existsSync(p.config)) throw new Error(`no cloudcore config at ${p.config}; run keadm on the cloud host (or pass --config-dir)`);
  const cfg = parse(readFileSync(p.config, 'utf8')) as { modules?: { apiServer?: { port?: number; tokenFile?: string }; cloudHub?: { tlsCAFile?: string } } };
  const port = cfg.modules?.apiServer?.port ?? 6443;
  const tokenFile = cfg.modules?.apiServer?.tokenFile ?? '/etc/kubeedge/admin.token';
  const ca = readFileSync(cfg.modules?.cloudHub?.tlsCAFile ?? p.caCert);
  const token = readFileSync(tokenFile, 'utf8').trim();
  return {
    call(method, path, body) {
      return new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path, method, ca, servername: 'localhost', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } }, (res) => {
          let data = '';
          res.on('data', (c: Buffer) => (data += c.toString('utf8')));
          res.on('end', () => {
            let parsed: unknown = data;
            try {
              parsed = JSON.parse(data);
            } catch {
              /* keep the text */
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
        });
        req.on('error', (err: NodeJS.ErrnoException) =>
          reject(new Error(err.code === 'ECONNREFUSED' ? `cannot reach the resource API on 127.0.0.1:${port}: is cloudcore running?` : `resource API: ${err.message}`)),
        );
        req.end(body === undefined ? undefined : JSON.stringify(body));
      });
    },
  };
}

/** The message of a Kubernetes Status, or the body as text. */
export function statusMessage(r: ApiReply): string {
  const b = r.body as { message?: unknown } | string;
  return typeof b === 'object' && b !== null && typeof b.message === 'string' ? b.message : String(b).slice(0, 300);
}
