/** keadm init: the CA, the cloud's server certificate, the token secret and cloudcore.yaml; then cloudcore. */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { stringify } from 'yaml';
import { createCA, issueServerCert } from '../core/pki/pki.js';
import { adminKubeconfig } from '../core/pki/kubeconfig.js';
import { hostAddress } from '../core/pki/address.js';
import { flags, UsageError } from './flags.js';
import { FileSet } from './files.js';
import { cloudPaths } from './paths.js';
import { runForeground, startService } from './service.js';


/** the cloudcore.yaml init writes: its files, and where edges reach it */
function cloudConfig(p: ReturnType<typeof cloudPaths>, addresses: readonly string[]): unknown {
  return {
    apiVersion: 'cloudcore.config.kubeedge.io/v1alpha2',
    kind: 'CloudCore',
    database: { dataSource: p.db },
    modules: {
      cloudHub: { advertiseAddress: addresses, tlsCAFile: p.caCert, tlsCAKeyFile: p.caKey, tlsCertFile: p.serverCert, tlsPrivateKeyFile: p.serverKey, tokenSecretFile: p.tokenSecret },
      apiServer: { tokenFile: p.adminToken },
    },
  };
}

export async function init(argv: readonly string[]): Promise<number> {
  const f = flags(argv, ['advertise-address', 'config-dir', 'data-dir'], ['foreground'], {
    'kube-config': 'this cloudcore keeps its own store; no Kubernetes is needed',
    master: 'this cloudcore keeps its own store; no Kubernetes is needed',
    'kubeedge-version': 'cloudcore is this bundle, nothing is downloaded',
    'image-repository': 'nothing is pulled',
    profile: 'there is one profile',
    set: 'set keys in cloudcore.yaml instead',
    domainname: 'names go in modules.cloudHub.dnsNames',
  });
  const dirs = f.dirs();
  const addresses = (f.str('advertise-address') ?? hostAddress()).split(',').map((a) => a.trim()).filter(Boolean);
  for (const a of addresses) if (!isIP(a)) throw new UsageError(`--advertise-address: ${JSON.stringify(a)} is not an IP address`);
  const p = cloudPaths(dirs);

  const ca = createCA();
  const server = issueServerCert(ca, { sans: addresses });
  const config = cloudConfig(p, addresses);
  const adminToken = randomBytes(32).toString('hex');
  const files = new FileSet()
    .add(p.caCert, ca.cert)
    .add(p.caKey, ca.key, 0o600)
    .add(p.serverCert, server.cert)
    .add(p.serverKey, server.key, 0o600)
    .add(p.tokenSecret, randomBytes(32).toString('hex') + '\n', 0o600)
    .add(p.adminToken, adminToken + '\n', 0o600)
    // kubectl on this cloud: the API's CA, the admin token, the first advertise address
    .add(p.kubeconfig, adminKubeconfig(addresses[0] as string, 6443, ca.cert, adminToken), 0o600)
    .add(p.config, stringify(config));
  files.check();
  files.commit();
  process.stdout.write(`cloud certificates and config written under ${dirs.configDir} (advertise address ${addresses.join(', ')})\n`);
  process.stdout.write(`kubectl: export KUBECONFIG=${p.kubeconfig}\n`);
  try {
    if (f.bool('foreground')) {
      process.stdout.write(`KubeEdge cloudcore is running, For logs visit: stdout\n`);
      return await runForeground('cloudcore', p.config);
    }
    const started = await startService('cloudcore', p.config, dirs.dataDir);
    process.stdout.write(`KubeEdge cloudcore is running, For logs visit: ${started.logs}\n`);
    return 0;
  } catch (err) {
    files.rollback();
    throw err;
  }
}
