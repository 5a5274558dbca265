/**
 * The edge's certificate: first fetched with the join token, later renewed with itself.
 *
 * Join: GET /ca.crt (the server is not trusted yet, so the CA's sha256 must match the token's first
 * part), then GET /edge.crt with a fresh key's CSR, `Authorization: Bearer <jwt>` and `NodeName`,
 * now verifying the server against that CA. Renewal: the same request over a connection that
 * presents the current certificate instead of a token. Files are replaced atomically.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { dirname } from 'node:path';
import { derToPem, edgeCsrDer, newEdgeKeyPem, type EdgeKeyType } from './csr.js';
import { caHash, checkNotExpired, parseToken, TokenError } from './token.js';

export interface CertFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** A failure that retrying will not fix: a bad token, a CA that does not match, a refused name. */
export class JoinError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
    this.name = 'JoinError';
  }
}

interface Reply {
  status: number;
  body: Buffer;
}

function get(url: URL, opts: { ca?: string; cert?: string; key?: string; headers?: Record<string, string>; body?: Buffer; verify: boolean; timeoutMs?: number }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'GET',
        ca: opts.ca,
        cert: opts.cert,
        key: opts.key,
        rejectUnauthorized: opts.verify,
        headers: { ...opts.headers, ...(opts.body ? { 'content-length': String(opts.body.length) } : {}) },
        timeout: opts.timeoutMs ?? 15_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err: NodeJS.ErrnoException) => {
      const where = `${url.host}`;
      const why =
        err.code === 'ECONNREFUSED'
          ? `connection refused; is cloudcore running there and its certificate port open?`
          : err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN'
            ? `the host name does not resolve`
            : err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH'
              ? `no route to the host; check the address and the network`
              : err.message;
      reject(new JoinError(`cannot reach the cloud's certificate service at ${where}: ${why}`, false));
    });
    req.end(opts.body);
  });
}

function refusal(r: Reply, what: string): JoinError {
  const text = r.body.toString('utf8').trim().slice(0, 300);
  switch (r.status) {
    case 401:
      return new JoinError(`the cloud refused ${what}: ${text}; run "keadm gettoken" on the cloud for a valid token`, true);
    case 403:
    case 409:
      return new JoinError(`the cloud refused ${what}: ${text}`, true);
    case 404:
      return new JoinError(`the cloud answered HTTP 404 to ${what}${text ? `: ${text}` : ''}; is this cloudcore's certificate port (modules.cloudHub.https.port, 10002; keadm join --certport)?`, true);
    default:
      return new JoinError(`the cloud answered HTTP ${r.status} to ${what}${text ? `: ${text}` : ', with nothing said'}`, r.status >= 400 && r.status < 500);
  }
}

function writeAtomic(path: string, data: string, mode: number): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, data, { mode });
  renameSync(tmp, path);
}

export interface FetchedCa {
  pem: string;
}

/** Fetches the CA and checks it against the token's hash. */
export async function fetchCa(httpServer: string, token: string): Promise<FetchedCa> {
  let parsed;
  try {
    parsed = parseToken(token);
    checkNotExpired(parsed);
  } catch (err) {
    if (err instanceof TokenError) throw new JoinError(err.message, true);
    throw err;
  }
  const r = await get(new URL('/ca.crt', httpServer), { verify: false });
  if (r.status !== 200) throw refusal(r, 'the CA request');
  let ca: X509Certificate;
  try {
    ca = new X509Certificate(r.body);
  } catch {
    throw new JoinError(`${httpServer}/ca.crt did not answer a certificate`, true);
  }
  if (!ca.ca) throw new JoinError(`${httpServer}/ca.crt answered a certificate that is not a CA`, true);
  if (caHash(ca.raw) !== parsed.caHash) {
    throw new JoinError(`the CA served by ${httpServer} does not match the token (sha256 ${caHash(ca.raw).slice(0, 16)}…, token says ${parsed.caHash.slice(0, 16)}…); refusing to trust it: check the address or get a token from this cloud`, true);
  }
  return { pem: derToPem(ca.raw, 'CERTIFICATE') };
}

export type CloudDialect = 'cbor' | 'kubeedge';

/**
 * Which cloud this is: ours answers `GET /dialect` on the certificate service; KubeEdge's cloudcore
 * has no such path (404). Asked over TLS verified with the CA the token vouched for.
 */
export async function detectDialect(httpServer: string, caPem: string): Promise<CloudDialect> {
  const r = await get(new URL('/dialect', httpServer), { ca: caPem, verify: true });
  if (r.status === 404) return 'kubeedge';
  const said = r.body.toString('utf8').trim();
  if (r.status === 200 && said === 'cbor') return 'cbor';
  throw new JoinError(`${httpServer}/dialect answered HTTP ${r.status} ${JSON.stringify(said.slice(0, 80))}: neither our cloudcore nor KubeEdge's`, true);
}

/** Asks for a certificate for a new key; with `token` a join, with `current` a renewal. */
export async function requestCertificate(opts: { httpServer: string; nodeName: string; caPem: string; token?: string; current?: { cert: string; key: string }; key?: string; keyType?: EdgeKeyType }): Promise<{ cert: string; key: string }> {
  const key = opts.key ?? (await newEdgeKeyPem(opts.keyType));
  const csr = edgeCsrDer(key, opts.nodeName);
  const headers: Record<string, string> = { NodeName: opts.nodeName, 'content-type': 'application/octet-stream' };
  if (opts.token) headers.Authorization = `Bearer ${parseToken(opts.token).jwt}`;
  const r = await get(new URL('/edge.crt', opts.httpServer), { verify: true, ca: opts.caPem, cert: opts.current?.cert, key: opts.current?.key, headers, body: csr });
  if (r.status !== 200) throw refusal(r, opts.token ? 'the join' : 'the renewal');
  const cert = new X509Certificate(r.body);
  if (!cert.checkIssued(new X509Certificate(opts.caPem))) throw new JoinError('the certificate answered is not issued by the CA', true);
  return { cert: derToPem(cert.raw, 'CERTIFICATE'), key };
}

export function saveCertificate(files: CertFiles, caPem: string | undefined, pair: { cert: string; key: string }): void {
  if (caPem !== undefined) writeAtomic(files.caFile, caPem, 0o644);
  writeAtomic(files.keyFile, pair.key, 0o600);
  writeAtomic(files.certFile, pair.cert, 0o644);
}

/** When the certificate files are there and the certificate is still valid: its validity window. */
export function currentCertificate(files: CertFiles, nowMs = Date.now()): { notBefore: number; notAfter: number } | undefined {
  if (!existsSync(files.certFile) || !existsSync(files.keyFile) || !existsSync(files.caFile)) return undefined;
  try {
    const c = new X509Certificate(readFileSync(files.certFile));
    const notAfter = Date.parse(c.validTo);
    return notAfter > nowMs ? { notBefore: Date.parse(c.validFrom), notAfter } : undefined;
  } catch {
    return undefined;
  }
}

/** The moment to renew: 70–90% into the lifetime, drawn at random so a fleet does not renew at once. */
export function renewalAt(validity: { notBefore: number; notAfter: number }, random: () => number = Math.random): number {
  const life = validity.notAfter - validity.notBefore;
  return validity.notBefore + life * (0.7 + 0.2 * random());
}

/**
 * Before a certificate is asked for: is CloudHub at host:port? It asks every client for a
 * certificate (mutual TLS); the certificate service and the API do not, and answer HTTP. Throws a
 * JoinError saying what answered there instead, or why nothing did.
 */
export function checkCloudHub(host: string, port: number, caPem: string, timeoutMs = 10_000): Promise<void> {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err?: JoinError): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    const socket = tlsConnect({ host, port, ca: caPem, ...(isIP(host) ? {} : { servername: host }), timeout: timeoutMs });
    socket.on('secureConnect', () => {
      // TLS 1.3 finishes the client's side first: a server that wants a certificate says so now, by an alert
      socket.write(`GET / HTTP/1.1\r\nHost: ${where}\r\nConnection: close\r\n\r\n`);
    });
    socket.on('data', (d: Buffer) => {
      if (/^HTTP\/1\.[01] \d{3}/.test(d.toString('latin1'))) done(new JoinError(`${where} answers HTTP without asking for a client certificate: that is not CloudHub (the certificate service is port 10002, the API 6443; CloudHub is modules.cloudHub.websocket.port, 10000 by default): fix --cloudcore-ipport`, true));
    });
    socket.on('timeout', () => done(new JoinError(`${where} did not answer within ${timeoutMs / 1000} s: check --cloudcore-ipport and the network`, false)));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (/certificate required|handshake failure|alert number 116|peer did not return a certificate/i.test(err.message)) return done(); // it wants ours: CloudHub
      if (err.code === 'ECONNREFUSED') return done(new JoinError(`nothing listens on ${where}: CloudHub is modules.cloudHub.websocket.port on the cloud (10000 by default): fix --cloudcore-ipport, or start cloudcore`, false));
      if (err.code === 'ERR_TLS_CERT_ALTNAME_INVALID') return done(new JoinError(`the cloud's certificate does not cover ${host}: add it to modules.cloudHub.${isIP(host) ? 'advertiseAddress' : 'dnsNames'} in cloudcore.yaml and restart cloudcore (it makes a new certificate), or join by an address it covers`, true));
      if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return done(new JoinError(`the host name ${host} does not resolve: use the cloud's IP, or a name this host can resolve`, false));
      done(new JoinError(`CloudHub at ${where}: ${err.message}`, false));
    });
    socket.on('end', () => done());
  });
}
