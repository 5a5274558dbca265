/**
 * The certificate service (port 10002), as KubeEdge's:
 *   GET /ca.crt    the CA certificate, DER
 *   GET /edge.crt  a PKCS#10 CSR (PEM or DER) in the body, `NodeName: <name>` and either
 *                  `Authorization: Bearer <jwt>` (a join) or, for a renewal, the node's current
 *                  client certificate on the TLS connection. Answers the certificate, DER.
 *   GET /dialect   `cbor`: what this cloud's link speaks. KubeEdge's cloudcore answers 404 here, which
 *                  is how keadm join tells the two apart.
 * A node name belongs to the first key that joined under it; another key gets 409 until the node is
 * deleted. Every refusal is logged with its reason (never the token).
 */
import { createHash, X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Module, ModuleContext } from '../../core/module.js';
import type { Logger } from '../../core/log.js';
import { errorText } from '../../core/errors.js';
import { readBounded } from '../../core/http.js';
import { isDnsSubdomain } from '../../api/names.js';
import { boundPort, closeServer, listen } from '../../core/net.js';
import type { ObjectStore } from '../store/objects.js';
import { type KeyPairPem } from '../../core/pki/pki.js';
import { readCertificateRequest, signLeaf, type CertificateRequest } from '../../core/pki/x509.js';
import { verifyJwt } from '../../core/pki/jwt.js';

export interface CertServiceDeps {
  address: string;
  port: number;
  ca: KeyPairPem;
  server: { cert: string; key: string };
  tokenSecret: Buffer;
  signingDays: number;
  store: ObjectStore;
}

export interface CertService extends Module {
  port(): number;
}

const MAX_CSR = 16 * 1024;

class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function readCsr(body: Buffer): CertificateRequest {
  try {
    return readCertificateRequest(body);
  } catch (err) {
    throw new Refusal(400, `the body is not a usable PKCS#10 certificate request: ${errorText(err)}`);
  }
}

/**
 * Who asks for a node's certificate: the node itself renewing (its current certificate, signed by
 * this CA, unexpired, on this connection: true), or a join with a valid token (false); anyone else
 * is refused, saying why.
 */
function askerOf(req: IncomingMessage, node: string, caCert: X509Certificate, tokenSecret: Buffer): boolean {
  const peer = (req.socket as TLSSocket).getPeerX509Certificate?.();
  if (peer) {
    if (!peer.checkIssued(caCert) || !peer.verify(caCert.publicKey)) throw new Refusal(401, 'the client certificate is not signed by this cloud');
    if (Date.parse(peer.validTo) <= Date.now()) throw new Refusal(401, 'the client certificate has expired; join again with a token');
    const cn = /CN=([^\n,]+)/.exec(peer.subject)?.[1];
    if (cn !== `system:node:${node}`) throw new Refusal(403, `certificate of ${cn ?? '?'} may not renew node ${node}`);
    return true;
  }
  const auth = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!auth) throw new Refusal(401, 'a join needs "Authorization: Bearer <token>"; a renewal needs the node certificate');
  const check = verifyJwt(tokenSecret, auth[1] as string);
  if (!check.ok) throw new Refusal(401, `token refused: ${check.reason}`);
  return false;
}

async function readCsrBody(req: IncomingMessage): Promise<Buffer> {
  const body = await readBounded(req, MAX_CSR);
  if (!body) throw new Refusal(413, `a certificate request is at most ${MAX_CSR} bytes`);
  return body;
}

function refuse(log: Logger, req: IncomingMessage, res: ServerResponse, err: unknown): void {
  const status = err instanceof Refusal ? err.status : 500;
  log.warn(`refused ${req.method ?? ''} ${req.url ?? ''} from ${req.socket.remoteAddress ?? '?'} (NodeName ${JSON.stringify(req.headers['nodename'] ?? '')}): ${errorText(err)}`);
  if (!res.headersSent) res.writeHead(status, { 'content-type': 'text/plain' }).end(errorText(err) + '\n');
}

export function createCertService(deps: CertServiceDeps): CertService {
  let server: Server | undefined;
  let ctx: ModuleContext | undefined;
  const caCert = new X509Certificate(deps.ca.cert);
  const caDer = caCert.raw;

  const issue = async (req: IncomingMessage, body: Buffer): Promise<Buffer> => {
    const nodeHeader = req.headers['nodename'];
    const node = typeof nodeHeader === 'string' ? nodeHeader : '';
    if (!isDnsSubdomain(node)) throw new Refusal(400, `NodeName header ${JSON.stringify(node)} is not a valid node name (lowercase DNS subdomain)`);
    const renewal = askerOf(req, node, caCert, deps.tokenSecret);
    const csr = readCsr(body);
    const cn = csr.commonName;
    if (cn !== `system:node:${node}`) throw new Refusal(403, `the request names ${JSON.stringify(cn)}, not system:node:${node}`);
    const fingerprint = createHash('sha256').update(csr.spki).digest('hex');
    const bound = deps.store.nodeKey(node);
    if (!renewal && bound !== undefined && bound !== fingerprint) {
      throw new Refusal(409, `node name ${node} is already taken by another key; delete that node ("keadm delete node ${node}") or join under another name`);
    }
    await deps.store.bindNodeKey(node, fingerprint);
    const pem = signLeaf({ caCertPem: deps.ca.cert, caKeyPem: deps.ca.key, spki: csr.spki, commonName: `system:node:${node}`, organization: 'system:nodes', days: deps.signingDays, usage: { client: true } });
    ctx?.log.info(`${renewal ? 'renewed' : 'issued'} the certificate of node ${node} (valid ${deps.signingDays} days)`);
    return new X509Certificate(pem).raw;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/ca.crt') return void res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(caDer);
    if (req.method === 'GET' && path === '/dialect') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('cbor');
    if (req.method === 'GET' && path === '/edge.crt') {
      const der = await issue(req, await readCsrBody(req)); // before the head: a refusal has its own
      return void res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(der);
    }
    throw new Refusal(404, `no such path: ${req.method ?? ''} ${path}`);
  };

  return {
    name: 'certservice',
    group: 'cloudhub',
    port: () => boundPort(server),
    async start(c) {
      ctx = c;
      // client certificates are asked for but optional: joins have none, renewals present theirs
      server = createServer({ cert: deps.server.cert, key: deps.server.key, ca: deps.ca.cert, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' }, (req, res) => {
        handle(req, res).catch((err: unknown) => refuse(c.log, req, res, err));
      });
      await listen(server, deps.port, deps.address);
      c.log.info(`certificate service on https://${deps.address}:${this.port()}`);
    },
    async stop() {
      await closeServer(server);
      server = undefined;
    },
  } satisfies CertService;
}
