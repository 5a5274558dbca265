/**
 * Certificate requests of any standard key (RSA, ECDSA P-256 and P-384: KubeEdge's edge sends
 * ECDSA), read and checked with Node's crypto, and edge certificates signed for them. node-forge
 * reads RSA keys only, so requests are parsed here with a few lines of DER, and the certificate's
 * TBS is written here too and signed by the CA key with Node's crypto.
 */
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { bitString, bool, children, int, nul, octets, oid, oidText, read, seq, set, time, tlv, uint, utf8, type Element } from './der.js';

/** signature algorithms of requests, OID → hash */
const SIGNATURE_HASH: Record<string, string> = {
  '1.2.840.113549.1.1.11': 'sha256', // sha256WithRSAEncryption
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.3.2': 'sha256', // ecdsa-with-SHA256
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
};

export interface CertificateRequest {
  /** the subject's commonName and organizations */
  commonName: string | undefined;
  organizations: string[];
  /** SubjectPublicKeyInfo, DER, as the request has it */
  spki: Buffer;
  publicKey: KeyObject;
}

function nameAttributes(name: Element): { oid: string; value: string }[] {
  const out: { oid: string; value: string }[] = [];
  for (const rdn of children(name)) {
    for (const atv of children(rdn)) {
      const [type, value] = children(atv);
      if (type && value) out.push({ oid: oidText(type), value: value.content.toString('utf8') });
    }
  }
  return out;
}

/** Reads a PKCS#10 request (DER or PEM) and checks it is signed by its own key; throws saying what is wrong. */
export function readCertificateRequest(body: Buffer): CertificateRequest {
  const text = body.toString('latin1');
  const pem = /-----BEGIN (?:NEW )?CERTIFICATE REQUEST-----([\s\S]*?)-----END (?:NEW )?CERTIFICATE REQUEST-----/.exec(text);
  const der = pem ? Buffer.from((pem[1] as string).replace(/\s+/g, ''), 'base64') : body;
  const top = read(der);
  if (top.tag !== 0x30 || top.raw.length !== der.length) throw new Error('not a DER SEQUENCE');
  const [info, algorithm, signature] = children(top);
  if (!info || !algorithm || !signature || signature.tag !== 0x03) throw new Error('not a CertificationRequest');
  const [version, subject, spki] = children(info);
  if (!version || version.tag !== 0x02 || !subject || !spki) throw new Error('not a CertificationRequestInfo');
  const algOid = oidText(children(algorithm)[0] as Element);
  const hash = SIGNATURE_HASH[algOid];
  if (!hash) throw new Error(`its signature algorithm ${algOid} is not one of RSA or ECDSA with SHA-256/384/512`);
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: spki.raw, format: 'der', type: 'spki' });
  } catch (err) {
    throw new Error(`its public key cannot be read: ${(err as Error).message}`);
  }
  const type = publicKey.asymmetricKeyType;
  const curve = publicKey.asymmetricKeyDetails?.namedCurve;
  if (type === 'ec' && curve !== 'prime256v1' && curve !== 'secp384r1') throw new Error(`an ECDSA key on ${curve ?? '?'}: use P-256 or P-384`);
  if (type !== 'ec' && type !== 'rsa') throw new Error(`a ${type ?? '?'} key: use RSA or ECDSA`);
  if (type === 'rsa' && (publicKey.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw new Error('an RSA key under 2048 bits');
  if (!verify(hash, info.raw, publicKey, signature.content.subarray(1))) throw new Error('it is not signed by its own key');
  const attrs = nameAttributes(subject);
  return {
    commonName: attrs.find((a) => a.oid === '2.5.4.3')?.value,
    organizations: attrs.filter((a) => a.oid === '2.5.4.10').map((a) => a.value),
    spki: spki.raw,
    publicKey,
  };
}

/** the subject Name of a certificate, DER, as it is (the issuer of what it signs) */
function subjectOf(cert: Buffer): Buffer {
  const tbs = children(children(read(cert))[0] as Element);
  const at = tbs[0]?.tag === 0xa0 ? 1 : 0; // [0] version
  return (tbs[at + 4] as Element).raw; // serial, signature, issuer, validity, subject
}

/** the key identifier of a SubjectPublicKeyInfo: SHA-1 of its key bits (RFC 5280, method 1) */
function keyIdentifier(spki: Buffer): Buffer {
  const bits = children(read(spki))[1] as Element;
  return createHash('sha1').update(bits.content.subarray(1)).digest();
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
}

export interface LeafOptions {
  caCertPem: string;
  caKeyPem: string;
  spki: Buffer;
  commonName: string;
  organization?: string;
  days: number;
  usage: { server?: boolean; client?: boolean };
  sans?: string[];
}

/** A leaf certificate for a public key, signed by the CA (RSA or ECDSA), PEM. */
export function signLeaf(o: LeafOptions): string {
  const caCert = new X509Certificate(o.caCertPem);
  const caKey = createPrivateKey(o.caKeyPem);
  const ec = caKey.asymmetricKeyType === 'ec';
  const signatureAlgorithm = ec ? seq(oid('1.2.840.10045.4.3.2')) : seq(oid('1.2.840.113549.1.1.11'), nul());
  const serial = randomBytes(16);
  serial[0] = ((serial[0] as number) & 0x3f) | 0x40; // positive, shortest encoding (OpenSSL refuses padding)
  const now = Date.now();
  const life = o.days * 86_400_000;
  const subject = seq(
    ...(o.organization ? [set(seq(oid('2.5.4.10'), utf8(o.organization)))] : []),
    set(seq(oid('2.5.4.3'), utf8(o.commonName))),
  );
  const purposes = [...(o.usage.server ? ['1.3.6.1.5.5.7.3.1'] : []), ...(o.usage.client ? ['1.3.6.1.5.5.7.3.2'] : [])];
  const caSpki = caCert.publicKey.export({ type: 'spki', format: 'der' });
  // digitalSignature, and keyEncipherment for an RSA key; DER counts the unused trailing bits
  const leafEc = createPublicKey({ key: o.spki, format: 'der', type: 'spki' }).asymmetricKeyType === 'ec';
  const keyUsage = leafEc ? Buffer.from([7, 0x80]) : Buffer.from([5, 0xa0]);
  const exts = [
    extension('2.5.29.19', true, seq()), // basicConstraints: not a CA
    extension('2.5.29.15', true, tlv(0x03, keyUsage)),
    extension('2.5.29.37', false, seq(...purposes.map(oid))),
    extension('2.5.29.14', false, octets(keyIdentifier(o.spki))),
    extension('2.5.29.35', false, seq(tlv(0x80, keyIdentifier(caSpki)))),
  ];
  if (o.sans?.length) {
    const names = o.sans.map((s) => (isIP(s) ? tlv(0x87, isIP(s) === 4 ? Buffer.from(s.split('.').map(Number)) : ipv6Bytes(s)) : tlv(0x82, Buffer.from(s))));
    exts.push(extension('2.5.29.17', false, seq(...names)));
  }
  const tbs = seq(
    tlv(0xa0, int(2)), // v3
    uint(serial),
    signatureAlgorithm,
    subjectOf(caCert.raw),
    seq(time(new Date(now - Math.min(5 * 60_000, life * 0.05))), time(new Date(now + life))),
    subject,
    o.spki,
    tlv(0xa3, seq(...exts)),
  );
  const der = seq(tbs, signatureAlgorithm, bitString(sign('sha256', tbs, caKey)));
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
}

function ipv6Bytes(ip: string): Buffer {
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.from(groups.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]));
}
