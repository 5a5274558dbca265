/** Getting and keeping the edge certificate, for edgecore's start and for EdgeHub's renewals. */
import { readFileSync } from 'node:fs';
import type { Logger } from '../../core/log.js';
import type { EdgeHubConfig } from '../../api/config/edgecore.js';
import { createBackoff } from '../../core/backoff.js';
import { currentCertificate, fetchCa, JoinError, requestCertificate, saveCertificate, type CertFiles } from '../../core/pki/edge-certificate.js';
import type { EdgeKeyType } from '../../core/pki/csr.js';
import type { CertificateSource } from './index.js';

export function certFiles(hub: EdgeHubConfig): CertFiles {
  return { caFile: hub.tlsCaFile, certFile: hub.tlsCertFile, keyFile: hub.tlsPrivateKeyFile };
}

/**
 * Makes sure a valid certificate is on disk before the link starts: with none, joins with the token.
 * Retries while the cloud cannot be reached; throws (a fatal start-up error) when retrying cannot help.
 */
export async function ensureEdgeCertificate(hub: EdgeHubConfig, nodeName: string, log: Logger): Promise<void> {
  const files = certFiles(hub);
  if (currentCertificate(files)) return;
  if (!hub.token) throw new Error(`no valid edge certificate at ${files.certFile} and no modules.edgeHub.token to get one; run "keadm join" or put a token in the config`);
  const backoff = createBackoff(1000, 30_000);
  for (;;) {
    try {
      const ca = await fetchCa(hub.httpServer, hub.token);
      const pair = await requestCertificate({ httpServer: hub.httpServer, nodeName, caPem: ca.pem, token: hub.token, keyType: hub.certificateKeyType as EdgeKeyType });
      saveCertificate(files, ca.pem, pair);
      log.info(`joined as node ${nodeName}: certificate stored in ${files.certFile}`);
      return;
    } catch (err) {
      if (!(err instanceof JoinError) || err.permanent) throw err;
      const wait = backoff.next();
      log.warn(`${err.message}; retrying in ${Math.round(wait / 1000)} s`);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

export function certificateSource(hub: EdgeHubConfig, nodeName: string): CertificateSource {
  const files = certFiles(hub);
  return {
    validity: () => currentCertificate(files),
    async renew() {
      const current = { cert: readFileSync(files.certFile, 'utf8'), key: readFileSync(files.keyFile, 'utf8') };
      const pair = await requestCertificate({ httpServer: hub.httpServer, nodeName, caPem: readFileSync(files.caFile, 'utf8'), current, keyType: hub.certificateKeyType as EdgeKeyType });
      saveCertificate(files, undefined, pair);
    },
  };
}
