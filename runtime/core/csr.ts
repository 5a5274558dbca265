/**
 * The edge's key and PKCS#10 certificate request, made with Node's crypto (native RSA: seconds on a
 * Pi, where pure-JS generation takes minutes) and a few lines of DER, so node-forge stays out of
 * the edge bundle. Subject `O=system:nodes, CN=system:node:<name>`, as KubeEdge asks.
 */
import { createPrivateKey, createPublicKey, generateKeyPair, sign } from 'node:crypto';
import { promisify } from 'node:util';
import { bitString, int, nul, oid, seq, set, tlv, utf8 } from './der.js';

const generate = promisify(generateKeyPair);

export async function newEdgeKeyPem(): Promise<string> {
  const { privateKey } = await generate('rsa', { modulusLength: 2048 });
  return privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
}

export function edgeCsrDer(keyPem: string, nodeName: string): Buffer {
  const key = createPrivateKey(keyPem);
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const name = seq(set(seq(oid('2.5.4.10'), utf8('system:nodes'))), set(seq(oid('2.5.4.3'), utf8(`system:node:${nodeName}`))));
  const info = seq(int(0), name, spki, tlv(0xa0));
  const sha256WithRSA = seq(oid('1.2.840.113549.1.1.11'), nul());
  return seq(info, sha256WithRSA, bitString(sign('sha256', info, key)));
}

export function derToPem(der: Buffer, label: 'CERTIFICATE' | 'CERTIFICATE REQUEST'): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}
