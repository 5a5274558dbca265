/** cloudcore: the composition root of the cloud side. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { createBus } from '../runtime/core/bus.js';
import { systemClock } from '../runtime/core/clock.js';
import { runProgram } from '../runtime/core/cli.js';
import { loadConfig } from '../runtime/core/configfile.js';
import { errorText } from '../runtime/core/errors.js';
import { createLogger } from '../runtime/core/log.js';
import { startModules } from '../runtime/core/module.js';
import { defaults } from '../runtime/core/schema.js';
import { createApiServer } from './apiserver/index.js';
import { createCloudHub } from './cloudhub/index.js';
import { cloudCoreSchema, type CloudCoreConfig } from './config.js';
import { createEdgeController } from './edgecontroller/index.js';
import { openJournal } from './store/journal.js';
import { ObjectStore } from './store/objects.js';
import { createSyncController } from './synccontroller/index.js';

const usage = `cloudcore: the cloud side of KubeEdge (CloudHub, EdgeController, DeviceController, SyncController, resource API).

Usage: cloudcore [--config FILE] | --minconfig | --defaultconfig | --version | --help
  --config FILE     config file (default /etc/kubeedge/config/cloudcore.yaml)
  --minconfig       print a minimal config
  --defaultconfig   print the full default config
`;

function readFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read ${what} ${path}: ${errorText(err)} (run "keadm init" or fix modules.cloudHub in the config)`);
  }
}

/** The admin bearer token: read from its file, or made with a random value when the file is missing. */
export function adminToken(path: string): string {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
  }
  return readFileSync(path, 'utf8').trim();
}

export async function startCloudCore(config: CloudCoreConfig): Promise<() => Promise<void>> {
  const log = createLogger({ scope: 'cloudcore' });
  const m = config.modules;
  const hubTls = { ca: readFile(m.cloudHub.tlsCAFile, 'CA certificate'), cert: readFile(m.cloudHub.tlsCertFile, 'server certificate'), key: readFile(m.cloudHub.tlsPrivateKeyFile, 'server key') };
  const token = m.apiServer.enable ? adminToken(m.apiServer.tokenFile) : '';
  const journal = await openJournal(config.database.dataSource, log.child('store'));
  const store = new ObjectStore(journal);
  const bus = createBus(log.child('bus'));

  const cloudHub = createCloudHub({ config: m.cloudHub, tls: () => hubTls, store });
  const edgeController = createEdgeController({ store });
  const syncController = createSyncController({ store, online: () => cloudHub.sessions().keys() });
  const apiServer = createApiServer({ config: m.apiServer, tls: () => hubTls, token: () => token, store, liveStatus: (n) => edgeController.liveStatus(n) });

  const stopModules = await startModules(
    [
      { module: edgeController, enabled: m.edgeController.enable },
      { module: syncController, enabled: m.syncController.enable },
      { module: cloudHub, enabled: m.cloudHub.enable && m.cloudHub.websocket.enable },
      { module: apiServer, enabled: m.apiServer.enable },
    ],
    { bus, log, clock: systemClock },
  );
  log.info(`cloudcore is running`);
  return async () => {
    await stopModules();
    await journal.close();
  };
}

export function minimalCloudConfig(): unknown {
  return {
    apiVersion: 'cloudcore.config.kubeedge.io/v1alpha2',
    kind: 'CloudCore',
    modules: { cloudHub: { advertiseAddress: ['127.0.0.1'], nodeLimit: 1000 } },
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
      load: (file) => loadConfig(file, cloudCoreSchema),
      run: (config) => startCloudCore(config),
    },
    argv,
  );
}
