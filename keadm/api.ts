/** keadm's client of the resource API, found through cloudcore.yaml in the config folder. */
import { request as httpsRequest } from 'node:https';
import { readNeeded } from './files.js';
import { readCloudConfig } from './cloudconfig.js';
import type { Dirs } from './paths.js';
import { RESOURCES, typeByWord, type ResourceType } from '../api/resources.js';

export interface ApiReply {
  status: number;
  body: unknown;
  /** the API's `Warning` headers, as text (an unknown field dropped) */
  warnings: string[];
}

/** `299 - "text"` → text */
function warningsOf(header: string | string[] | undefined): string[] {
  return (Array.isArray(header) ? header : header ? [header] : []).map((h) => {
    const m = /^\d{3} \S+ "((?:[^"\\]|\\.)*)"/.exec(h);
    return m ? (JSON.parse(`"${m[1] as string}"`) as string) : h;
  });
}

export interface Api {
  call(method: string, path: string, body?: unknown): Promise<ApiReply>;
  /** a GET whose body is passed on as it comes (a followed log); resolves when it ends */
  stream(path: string, onData: (chunk: Buffer) => void): Promise<ApiReply>;
}

/** The type a word names (`pods`, `po`, `device`), or an error listing what there is. */
export function typeOf(word: string): ResourceType {
  const t = typeByWord(word);
  if (!t) throw new Error(`unknown resource type ${JSON.stringify(word)}: use one of ${RESOURCES.map((r) => r.plural).join(', ')}`);
  return t;
}

/** how kubectl names an object in its messages: `pod/hello`, `device.devices.kubeedge.io/thermo-1` */
export function objectLabel(t: ResourceType, name: string): string {
  return `${t.kind}${t.group ? `.${t.group}` : ''}/${name}`;
}

export function openApi(dirs: Dirs): Api {
  const { config, files } = readCloudConfig(dirs);
  const port = config.modules.apiServer.port;
  const ca = readNeeded(config.modules.cloudHub.tlsCAFile, 'CA certificate', 'run "keadm init" first (or pass --config-dir)');
  const token = readNeeded(files.adminToken, 'admin token', 'cloudcore makes it when it starts: is it running?').trim();
  const request = (method: string, path: string, body: unknown, onData?: (chunk: Buffer) => void): Promise<ApiReply> =>
    new Promise((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port, path, method, ca, servername: 'localhost', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } }, (res) => {
        const ok = (res.statusCode ?? 0) < 300;
        let data = '';
        res.on('data', (c: Buffer) => (ok && onData ? onData(c) : (data += c.toString('utf8'))));
        res.on('end', () => {
          let parsed: unknown = data;
          try {
            parsed = JSON.parse(data);
          } catch {
            /* keep the text */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, warnings: warningsOf(res.headers.warning) });
        });
      });
      req.on('error', (err: NodeJS.ErrnoException) =>
        reject(new Error(err.code === 'ECONNREFUSED' ? `cannot reach the resource API on 127.0.0.1:${port}: is cloudcore running?` : `resource API: ${err.message}`)),
      );
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  return {
    call: (method, path, body) => request(method, path, body),
    stream: (path, onData) => request('GET', path, undefined, onData),
  };
}

/** The message of a Kubernetes Status, or the body as text. */
export function statusMessage(r: ApiReply): string {
  const b = r.body as { message?: unknown } | string;
  return typeof b === 'object' && b !== null && typeof b.message === 'string' ? b.message : String(b).slice(0, 300);
}
