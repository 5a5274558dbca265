/**
 * keadm join: checks everything it can first (token, name, address, files), fetches and verifies the
 * CA, gets the edge certificate, then writes the certificates and edgecore.yaml and starts edgecore.
 * A failure at any step leaves nothing of it behind.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { stringify } from 'yaml';
import { checkNotExpired, parseToken, TokenError } from '../core/pki/token.js';
import { DNS_SUBDOMAIN_RULE, isDnsSubdomain } from '../api/names.js';
import { checkCloudHub, detectDialect, fetchCa, requestCertificate } from '../core/pki/edge-certificate.js';
import { flags, UsageError } from './flags.js';
import { FileSet, PACKAGED_CONFIG_MARK } from './files.js';
import { edgePaths } from './paths.js';
import { runForeground, startService } from './service.js';
import { cloudcoreRunningHere } from '../core/environment.js';

function sameCertificate(a: string, b: string): boolean {
  try {
    return new X509Certificate(a).raw.equals(new X509Certificate(b).raw);
  } catch {
    return false;
  }
}


/** join's flags, checked: where the cloud is, the token, this node's name and labels */
function joinArgs(f: ReturnType<typeof flags>): { ipport: string; token: string; node: string; certPort: number; host: string; hubPort: number; labels?: Record<string, string>; runtimeEndpoint?: string } {
  const ipport = f.need('cloudcore-ipport', 'the cloud\'s address, IP:PORT of CloudHub (port 10000)');
  const token = f.need('token', 'run "keadm gettoken" on the cloud');
  const node = f.str('edgenode-name', hostname().toLowerCase()) as string;
  const certPort = Number(f.str('certport', '10002'));
  // as KubeEdge's keadm: --labels k=v,k2=v2 become the node's labels; --remote-runtime-endpoint the runtime's socket
  const labelText = f.str('labels');
  const labels = labelText ? Object.fromEntries(labelText.split(',').map((kv) => kv.split('=').map((x) => x.trim()) as [string, string])) : undefined;
  if (labels && Object.entries(labels).some(([k, v]) => !k || v === undefined)) throw new UsageError(`--labels ${JSON.stringify(labelText)} is not key=value[,key=value]`);
  const runtimeEndpoint = f.str('remote-runtime-endpoint');
  const m = /^(.+):(\d+)$/.exec(ipport);
  const host = m?.[1]?.replace(/^\[|\]$/g, '');
  const hubPort = Number(m?.[2]);
  if (!m || !host || (!isIP(host) && !isDnsSubdomain(host)) || !(hubPort >= 1 && hubPort <= 65535)) throw new UsageError(`--cloudcore-ipport ${JSON.stringify(ipport)} is not HOST:PORT (for example 192.168.1.10:10000 or cloud.example.org:10000)`);
  if (!Number.isInteger(certPort) || certPort < 1 || certPort > 65535) throw new UsageError(`--certport ${certPort} is not a port`);
  if (!isDnsSubdomain(node)) throw new UsageError(`node name ${JSON.stringify(node)} is invalid: use ${DNS_SUBDOMAIN_RULE} (--edgenode-name)`);
  try {
    checkNotExpired(parseToken(token));
  } catch (err) {
    if (err instanceof TokenError) throw new UsageError(err.message);
    throw err;
  }
  return { ipport, token, node, certPort, host, hubPort, ...(labels ? { labels } : {}), ...(runtimeEndpoint ? { runtimeEndpoint } : {}) };
}

/** the edgecore.yaml join writes */
function edgeConfig(p: ReturnType<typeof edgePaths>, j: { httpServer: string; token: string; dialect: string; ipport: string; node: string; labels?: Record<string, string> | undefined; runtimeEndpoint?: string | undefined }): unknown {
  return {
    apiVersion: 'edgecore.config.kubeedge.io/v1alpha2',
    kind: 'EdgeCore',
    database: { dataSource: p.db },
    modules: {
      edgeHub: { httpServer: j.httpServer, tlsCaFile: p.caCert, tlsCertFile: p.cert, tlsPrivateKeyFile: p.key, token: j.token, dialect: j.dialect, websocket: { server: j.ipport } },
      edged: {
        hostnameOverride: j.node,
        rootDirectory: p.edged,
        ...(j.labels ? { nodeLabels: j.labels } : {}),
        ...(j.runtimeEndpoint ? { tailoredKubeletConfig: { containerRuntimeEndpoint: j.runtimeEndpoint } } : {}),
      },
    },
  };
}

export async function join(argv: readonly string[]): Promise<number> {
  const f = flags(argv, ['cloudcore-ipport', 'token', 'edgenode-name', 'certport', 'config-dir', 'data-dir', 'labels', 'remote-runtime-endpoint'], ['foreground'], {
    'kubeedge-version': 'edgecore is this bundle, nothing is downloaded',
    'image-repository': 'nothing is pulled to install the edge',
    runtimetype: 'the runtime is podman, or processes (runtimeClassName: process)',
    cgroupdriver: 'process pods use the cgroups edgecore finds',
    'cert-path': 'certificates go under --config-dir',
    'hub-protocol': 'the link is a WebSocket',
    'with-mqtt': 'the MQTT broker is built in (modules.eventBus)',
    tarballpath: 'nothing is downloaded',
  });
  const { ipport, token, node, certPort, host, hubPort, labels, runtimeEndpoint } = joinArgs(f);
  const dirs = f.dirs();
  // edgecore would refuse to start here: say so before the cloud issues a certificate for nothing
  const cloudcorePid = process.env.CHECK_EDGECORE_ENVIRONMENT === 'false' ? undefined : cloudcoreRunningHere();
  if (cloudcorePid !== undefined) throw new Error(`a cloudcore runs on this host (pid ${cloudcorePid}); join from another host, or set CHECK_EDGECORE_ENVIRONMENT=false to run edgecore beside it`);
  const p = edgePaths(dirs);
  // beside a cloudcore that shares the config folder, the CA file is already there
  const caThere = existsSync(p.caCert);
  const files = new FileSet();
  if (!caThere) files.add(p.caCert, '');
  const packaged = (text: string): boolean => text.startsWith(PACKAGED_CONFIG_MARK);
  files.add(p.cert, '').add(p.key, '').add(p.config, '', 0o644, packaged);
  files.check(); // before any network call, so a fixable local problem is reported first

  const httpServer = `https://${host.includes(':') ? `[${host}]` : host}:${certPort}`;
  const ca = await fetchCa(httpServer, token);
  if (caThere && !sameCertificate(readFileSync(p.caCert, 'utf8'), ca.pem)) throw new Error(`${p.caCert} holds another CA than this cloud's; run "keadm reset" first`);
  const dialect = await detectDialect(httpServer, ca.pem);
  // a wrong port would be found only once edgecore runs, after a certificate was issued for nothing
  await checkCloudHub(host, hubPort, ca.pem);
  const pair = await requestCertificate({ httpServer, nodeName: node, caPem: ca.pem, token });
  const config = edgeConfig(p, { httpServer, token, dialect, ipport, node, labels, runtimeEndpoint });
  const out = new FileSet();
  if (!caThere) out.add(p.caCert, ca.pem);
  out.add(p.cert, pair.cert).add(p.key, pair.key, 0o600).add(p.config, stringify(config), 0o644, packaged);
  out.commit();
  process.stdout.write(`node ${node} joined ${ipport}${dialect === 'kubeedge' ? ' (a KubeEdge cloudcore: JSON frames)' : ''}: certificate and config written under ${dirs.configDir}\n`);
  try {
    if (f.bool('foreground')) {
      process.stdout.write(`KubeEdge edgecore is running, For logs visit: stdout\n`);
      return await runForeground('edgecore', p.config, { CHECK_EDGECORE_ENVIRONMENT: process.env.CHECK_EDGECORE_ENVIRONMENT ?? '' });
    }
    const started = await startService('edgecore', p.config, dirs.dataDir);
    process.stdout.write(`KubeEdge edgecore is running, For logs visit: ${started.logs}\n`);
    return 0;
  } catch (err) {
    out.rollback();
    throw err;
  }
}
