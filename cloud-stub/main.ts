/** cloudcore: the composition root of the cloud side. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes, X509Certificate } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isIP } from 'node:net';
import { CLOUDCORE_KEYS } from '../api/config/cloudcore-keys.js';
import { createBus } from '../core/bus.js';
import { systemClock } from '../core/clock.js';
import { runProgram } from '../core/cli.js';
import { loadConfig, readRequiredFile } from '../core/configfile.js';
import { createLogger, type Logger } from '../core/log.js';
import { startModules } from '../core/module.js';
import { defaults } from '../core/schema.js';
import { createApiServer } from './apiserver/index.js';
import { createCloudHub } from './cloudhub/index.js';
import { createCertService } from './certs/service.js';
import { checkReadOnlyToken, loadTokenSecret, startTokenRotation } from '../core/pki/tokens.js';
import { counter, gauge, processMetrics, type Family } from '../core/metrics.js';
import type { ReadinessCheck } from '../core/health.js';
import { cloudCoreSchema, cloudFiles, type CloudCoreConfig, type CloudHubConfig } from '../api/config/cloudcore.js';
import { createCA, issueServerCert } from '../core/pki/pki.js';
import { adminKubeconfig } from '../core/pki/kubeconfig.js';
import { hostAddress } from '../core/pki/address.js';
import { createEdgeController } from './edgecontroller/index.js';
import { openJournal, type Journal } from '../core/journal.js';
import { ObjectStore } from './store/objects.js';
import { createSyncController } from './synccontroller/index.js';
import { createDeviceController } from './devicecontroller/index.js';
import { createScheduler } from './scheduler/index.js';
import { createRouter } from './router/index.js';
import { createKubeEdgeDialect } from './kubeedge/index.js';
import { EventLog } from './events.js';
import { createDashboard } from './dashboard/index.js';
import { presenter } from './apiserver/present.js';

const usage = `cloudcore: the cloud side of KubeEdge (CloudHub, EdgeController and its pod binder, DeviceController, SyncController, resource API).

Usage: cloudcore [--config FILE] | --minconfig | --defaultconfig | --version | --help
  --config FILE     config file (default /etc/kubeedge/config/cloudcore.yaml)
  --minconfig       print a minimal config
  --defaultconfig   print the full default config
`;

const readFile = (path: string, what: string): Buffer => readRequiredFile(path, what, 'run "keadm init" or fix modules.cloudHub in the config');

/** The admin bearer token: read from its file, or made with a random value when the file is missing. */
export function adminToken(path: string): string {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
  }
  return readFileSync(path, 'utf8').trim();
}

/**
 * As KubeEdge's cloudcore: a CA and a server certificate are made when their files are missing.
 * A server certificate that does not cover every advertised address and DNS name (one was added
 * to the config) is made again from the CA: edges trust the CA, not the certificate.
 */
function ensureCloudCertificates(hub: CloudHubConfig, log: Logger): void {
  const write = (path: string, data: string, mode: number): void => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, data, { mode });
  };
  if (!existsSync(hub.tlsCAFile)) {
    if (existsSync(hub.tlsCertFile)) throw new Error(`${hub.tlsCertFile} exists but its CA ${hub.tlsCAFile} does not; restore the CA or remove both`);
    const ca = createCA();
    write(hub.tlsCAFile, ca.cert, 0o644);
    write(hub.tlsCAKeyFile, ca.key, 0o600);
    log.info(`made a new CA: ${hub.tlsCAFile}`);
  }
  const notIp = hub.advertiseAddress.find((a) => !isIP(a));
  if (notIp !== undefined) throw new Error(`modules.cloudHub.advertiseAddress ${JSON.stringify(notIp)} is not an IP address; list the addresses edges reach this cloud at (names go in dnsNames)`);
  const addresses = hub.advertiseAddress.length > 0 ? hub.advertiseAddress : [hostAddress()];
  const wanted = [...addresses, ...hub.dnsNames.filter((n) => n !== '')];
  let missing: string[] = [];
  if (existsSync(hub.tlsCertFile)) {
    let have: X509Certificate | undefined;
    try {
      have = new X509Certificate(readFile(hub.tlsCertFile, 'server certificate'));
    } catch {
      /* unreadable: made again below */
    }
    missing = have ? wanted.filter((w) => (isIP(w) ? have.checkIP(w) : have.checkHost(w)) === undefined) : wanted;
    if (missing.length === 0) return;
    if (!existsSync(hub.tlsCAKeyFile)) {
      log.warn(`the server certificate ${hub.tlsCertFile} does not cover ${missing.join(', ')}, and without the CA key (${hub.tlsCAKeyFile}) no new one can be made; edges must reach this cloud by an address it covers`);
      return;
    }
  }
  const ca = { cert: readFile(hub.tlsCAFile, 'CA certificate').toString(), key: readFile(hub.tlsCAKeyFile, 'CA key').toString() };
  const server = issueServerCert(ca, { sans: wanted });
  write(hub.tlsCertFile, server.cert, 0o644);
  write(hub.tlsPrivateKeyFile, server.key, 0o600);
  log.info(`made the server certificate ${hub.tlsCertFile} for ${[...wanted, 'localhost'].join(', ')}${missing.length ? ` (the one before did not cover ${missing.join(', ')})` : ''}`);
}

/** as keadm init writes it: kubectl works after the binary deployment too */
function ensureKubeconfig(config: CloudCoreConfig, file: string, ca: Buffer, token: string, log: Logger): void {
  if (existsSync(file)) return;
  const { cloudHub, apiServer } = config.modules;
  writeFileSync(file, adminKubeconfig(cloudHub.advertiseAddress[0] ?? hostAddress(), apiServer.port, ca.toString(), token), { mode: 0o600 });
  log.info(`wrote ${file} for kubectl (export KUBECONFIG=${file})`);
}

function storeMetrics(journal: Journal): Family[] {
  const { fileBytes, compactions } = journal.stats();
  return [
    gauge('cloudcore_store_bytes', 'Size of the store\'s file on disk, in bytes.', fileBytes),
    counter('cloudcore_store_compactions_total', 'Times the store\'s file was rewritten without its dead entries.', compactions),
  ];
}

/** the certificate service: edges join with a token and renew with their certificate */
function certServiceOf(hub: CloudHubConfig, tls: { ca: Buffer; cert: Buffer; key: Buffer }, tokenSecret: Buffer, store: ObjectStore): ReturnType<typeof createCertService> {
  return createCertService({
    address: hub.https.address,
    port: hub.https.port,
    ca: { cert: tls.ca.toString(), key: hub.https.enable ? readFile(hub.tlsCAKeyFile, 'CA key').toString() : '' },
    server: { cert: tls.cert.toString(), key: tls.key.toString() },
    tokenSecret,
    signingDays: hub.edgeCertSigningDuration,
    store,
  });
}

/** /readyz: where edges connect and join, listening when enabled */
function listening(name: string, enabled: boolean, port: number): ReadinessCheck {
  return { name, ok: !enabled || port > 0, detail: enabled ? (port > 0 ? `listening on ${port}` : 'not listening') : 'disabled' };
}

export async function startCloudCore(config: CloudCoreConfig): Promise<() => Promise<void>> {
  const log = createLogger({ scope: 'cloudcore' });
  const m = config.modules;
  const hub = m.cloudHub;
  ensureCloudCertificates(hub, log);
  const hubTls = { ca: readFile(hub.tlsCAFile, 'CA certificate'), cert: readFile(hub.tlsCertFile, 'server certificate'), key: readFile(hub.tlsPrivateKeyFile, 'server key') };
  const files = cloudFiles(config);
  const token = m.apiServer.enable ? adminToken(files.adminToken) : '';
  if (m.apiServer.enable) ensureKubeconfig(config, files.kubeconfig, hubTls.ca, token, log);
  const journal = await openJournal(config.database.dataSource, log.child('store'));
  const store = new ObjectStore(journal);
  const processFamilies = processMetrics();
  const tokenSecret = loadTokenSecret(files.tokenSecret);
  const tokens = startTokenRotation({ secret: tokenSecret, caDer: new X509Certificate(hubTls.ca).raw, file: files.joinToken, refreshHours: hub.tokenRefreshDuration, clock: systemClock });

  const cloudHub = createCloudHub({ config: hub, tls: () => hubTls, store });
  const certService = certServiceOf(hub, hubTls, tokenSecret, store);
  const router = createRouter({ config: m.router, store, edges: cloudHub, dataSource: config.database.dataSource, tls: () => hubTls, token: () => token });
  const events = new EventLog();
  const edgeController = createEdgeController({ store, events, changed: (n) => dashboard.nodeChanged(n), ...(m.router.enable ? { onUpload: (node, topic, content, version) => router.fromEdge(node, topic, content, version) } : {}) });
  // the dashboard's files are built beside cloudcore.js (dist/ui)
  const dashboard = createDashboard({ store, present: presenter(store, (n) => edgeController.liveStatus(n)), events, files: join(dirname(fileURLToPath(import.meta.url)), 'ui') });
  const syncController = createSyncController({ store, online: () => cloudHub.sessions().keys() });
  const apiServer = createApiServer({
    config: m.apiServer,
    tls: () => hubTls,
    token: () => token,
    readOnly: (t) => checkReadOnlyToken(tokenSecret, t),
    events,
    ui: (req, res, url, role) => dashboard.handle(req, res, url, role),
    store,
    liveStatus: (n) => edgeController.liveStatus(n),
    metrics: () => [...cloudHub.metrics(), ...storeMetrics(journal), ...processFamilies()],
    edges: cloudHub,
    readiness: () => [listening('cloudhub', hub.enable, cloudHub.port()), listening('certservice', hub.enable && hub.https.enable, certService.port())],
  });

  const stopModules = await startModules(
    [
      { module: edgeController, enabled: m.edgeController.enable },
      // binding pods to nodes goes with EdgeController, which sends nodes their pods
      { module: createScheduler({ store, liveStatus: (n) => edgeController.liveStatus(n) }), enabled: m.edgeController.enable },
      { module: syncController, enabled: m.syncController.enable },
      { module: createDeviceController({ store, events }), enabled: m.deviceController.enable },
      { module: createKubeEdgeDialect({ store }), enabled: true },
      { module: cloudHub, enabled: hub.enable && hub.websocket.enable },
      { module: certService, enabled: hub.enable && hub.https.enable },
      { module: apiServer, enabled: m.apiServer.enable },
      { module: router, enabled: m.router.enable },
    ],
    { bus: createBus(log.child('bus')), log, clock: systemClock },
  );
  log.info(`cloudcore is running`);
  return async () => {
    tokens.stop();
    dashboard.close();
    await stopModules();
    await journal.close();
  };
}

export function minimalCloudConfig(): unknown {
  return {
    apiVersion: 'cloudcore.config.kubeedge.io/v1alpha2',
    kind: 'CloudCore',
    // the host's own address, so an edge on another machine can reach it (as KubeEdge's --minconfig)
    modules: { cloudHub: { advertiseAddress: [hostAddress()], nodeLimit: 1000 } },
  };
}

export function runCloudCore(argv: readonly string[]): Promise<void> {
  return runProgram<CloudCoreConfig>(
    {
      name: 'cloudcore',
      defaultConfigPath: '/etc/kubeedge/config/cloudcore.yaml',
      usage,
      minConfig: minimalCloudConfig,
      defaultConfig: () => defaults(cloudCoreSchema),
      load: (file) => loadConfig(file, cloudCoreSchema, CLOUDCORE_KEYS),
      run: (config) => startCloudCore(config),
    },
    argv,
  );
}
