import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCA, issueEdgeCert, serialNumber } from '../../../core/pki/pki.js';

describe('certificate authority', () => {
  it('makes serials that are positive DER integers without padding (OpenSSL refuses those)', () => {
    for (let i = 0; i < 20_000; i++) {
      const s = serialNumber();
      expect(s).toMatch(/^[4-7][0-9a-f]{31}$/);
    }
  });

  it('issues edge certificates that OpenSSL parses and verifies', () => {
    const ca = createCA();
    const caX = new X509Certificate(ca.cert);
    const one = new X509Certificate(issueEdgeCert(ca, 'edge-1').cert);
    expect(one.subject).toContain('CN=system:node:edge-1');
    expect(one.subject).toContain('O=system:nodes');
    expect(one.checkIssued(caX)).toBe(true);
    expect(one.verify(caX.publicKey)).toBe(true);
  });
});
