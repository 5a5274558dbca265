/**
 * The edge's key and PKCS#10 certificate request, made with Node's crypto and a few lines of DER,
 * so node-forge stays out of the edge bundle. The key is ECDSA P-256 as KubeEdge's edge makes it
 * (milliseconds on a Pi where RSA takes seconds, and a smaller handshake), or RSA 2048 when
 * configured. Subject `O=system:nodes, CN=system:node:<name>`, as KubeEdge asks.
 */
import { createPrivateKey, createPublicKey, generateKeyPair, sign } from 'node:crypto';
import { promisify } from 'node:util';
import { bitString, int, nul, oid, seq, set, tlv, utf8 } from './der.js';

const generate = promisify(generateKeyPair);

export type EdgeKeyType = 'ecdsa' | 'rsa';

export async function newEdgeKeyPem(type: EdgeKeyType = 'ecdsa'): Promise<string> {
  const { privateKey } = type === 'rsa' ? await generate('rsa', { modulusLength: 2048 }) : await generate('ec', { namedCurve: 'P-256' });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export function edgeCsrDer(keyPem: string, nodeName: string): Buffer {
  const key = createPrivateKey(keyPem);
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const name = seq(set(seq(oid('2.5.4.10'), utf8('system:nodes'))), set(seq(oid('2.5.4.3'), utf8(`system:node:${nodeName}`))));
  const info = seq(int(0), name, spki, tlv(0xa0));
  // ecdsa-with-SHA256 (no parameters) or sha256WithRSAEncryption (NULL parameters)
  const algorithm = key.asymmetricKeyType === 'ec' ? seq(oid('1.2.840.10045.4.3.2')) : seq(oid('1.2.840.113549.1.1.11'), nul());
  return seq(info, algorithm, bitString(sign('sha256', info, key)));
}

export function derToPem(der: Buffer, label: 'CERTIFICATE' | 'CERTIFICATE REQUEST'): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}
