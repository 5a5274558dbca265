/**
 * The certificate authority: the CA, the cloud's server certificate and edge certificates
 * (`CN=system:node:<name>, O=system:nodes`, client auth). RSA keys are made by Node's crypto
 * (native, seconds on a Pi) and handed to node-forge, whose pure-JS key generation takes minutes.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';
import { signLeaf as signX509Leaf } from './x509.js';

const { pki } = forge;

export interface KeyPairPem {
  cert: string;
  key: string;
}

export function newRsaKeyPem(bits = 2048): string {
  return generateKeyPairSync('rsa', { modulusLength: bits }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
}

export function serialNumber(): string {
  const b = randomBytes(16);
  // positive and without a leading zero byte: DER wants the shortest encoding, and OpenSSL
  // refuses a certificate whose serial starts 0x00 0x0?..0x7? ("illegal padding")
  b[0] = ((b[0] as number) & 0x3f) | 0x40;
  return b.toString('hex');
}

function validity(cert: forge.pki.Certificate, days: number, now = Date.now()): void {
  const life = days * 86_400_000;
  cert.validity.notBefore = new Date(now - Math.min(5 * 60_000, life * 0.05)); // tolerate a little clock skew
  cert.validity.notAfter = new Date(now + life);
}

export function createCA(opts: { cn?: string; days?: number } = {}): KeyPairPem {
  const keyPem = newRsaKeyPem();
  const key = pki.privateKeyFromPem(keyPem);
  const cert = pki.createCertificate();
  cert.publicKey = pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = serialNumber();
  validity(cert, opts.days ?? 3650);
  const subject = [{ name: 'commonName', value: opts.cn ?? 'KubeEdge' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(key, forge.md.sha256.create());
  return { cert: pki.certificateToPem(cert), key: keyPem };
}

function signLeaf(
  ca: KeyPairPem,
  publicKey: forge.pki.PublicKey,
  subject: forge.pki.CertificateField[],
  days: number,
  usage: { server?: boolean; client?: boolean },
  sans: string[] = [],
): string {
  const caCert = pki.certificateFromPem(ca.cert);
  const caKey = pki.privateKeyFromPem(ca.key);
  const cert = pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serialNumber();
  validity(cert, days);
  cert.setSubject(subject);
  cert.setIssuer(caCert.subject.attributes);
  const ext: unknown[] = [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: usage.server === true, clientAuth: usage.client === true },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ];
  if (sans.length) ext.push({ name: 'subjectAltName', altNames: sans.map((s) => (isIP(s) ? { type: 7, ip: s } : { type: 2, value: s })) });
  cert.setExtensions(ext as never[]);
  cert.sign(caKey, forge.md.sha256.create());
  return pki.certificateToPem(cert);
}

/** The cloud's server certificate: every advertise address and `localhost` in its SANs. */
export function issueServerCert(ca: KeyPairPem, opts: { sans: string[]; days?: number }): KeyPairPem {
  const keyPem = newRsaKeyPem();
  const key = pki.privateKeyFromPem(keyPem);
  const sans = [...new Set([...opts.sans, 'localhost', '127.0.0.1'])];
  const cert = signLeaf(ca, pki.setRsaPublicKey(key.n, key.e), [{ name: 'commonName', value: 'KubeEdge' }], opts.days ?? 3650, { server: true, client: true }, sans);
  return { cert, key: keyPem };
}

/** Key (ECDSA P-256, as edges make theirs) and certificate of an edge in one step (tests; joins go through a CSR). */
export function issueEdgeCert(ca: KeyPairPem, nodeName: string, days = 365): KeyPairPem {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const cert = signX509Leaf({ caCertPem: ca.cert, caKeyPem: ca.key, spki, commonName: `system:node:${nodeName}`, organization: 'system:nodes', days, usage: { client: true } });
  return { cert, key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}
