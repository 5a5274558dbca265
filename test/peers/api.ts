/** A small client for cloudcore's resource API, as a script would use it. */
import { request } from 'node:https';

export interface ApiClient {
  call(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }>;
}

export function apiClient(port: number, ca: string, token: string): ApiClient {
  return {
    call(method, path, body, tok = token) {
      return new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path, method, ca, headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' } }, (res) => {
          let data = '';
          res.on('data', (c: Buffer) => (data += c.toString('utf8')));
          res.on('end', () => {
            let parsed: unknown = data;
            try {
              parsed = JSON.parse(data);
            } catch {
              /* keep text */
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
        });
        req.on('error', reject);
        if (body !== undefined) req.write(JSON.stringify(body));
        req.end();
      });
    },
  };
}
