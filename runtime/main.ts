/** edgecore: the composition root of the edge side. Every module is listed here. */
import { createBus } from '../core/bus.js';
import { systemClock } from '../core/clock.js';
import { runProgram } from '../core/cli.js';
import { loadConfig, readRequiredFile } from '../core/configfile.js';
import { createLogger, type Logger } from '../core/log.js';
import { EDGECORE_KEYS } from '../api/config/edgecore-keys.js';
import { startModules, type Module } from '../core/module.js';
import { DNS_SUBDOMAIN_RULE, isDnsSubdomain } from '../api/names.js';
import { defaults } from '../core/schema.js';
import { edgeCoreSchema, type EdgeCoreConfig } from '../api/config/edgecore.js';
import { createEdgeHub, type EdgeHub } from './edgehub/index.js';
import { certificateSource, ensureEdgeCertificate } from './edgehub/join.js';
import { cloudcoreRunningHere } from '../core/environment.js';
import { createMetaManager } from './metamanager/index.js';
import { createEventBus, eventBusTlsFiles, type EventBus } from './eventbus/index.js';
import { createDeviceTwin, type DeviceTwin } from './devicetwin/index.js';
import { openManifestFolder } from './devicetwin/manifests.js';
import { createDeviceManager, type DeviceManager } from './devicemanager/index.js';
import { createDmi } from './dmi/index.js';
import { createEdged, type Edged } from './edged/index.js';
import { createServiceBus } from './servicebus/index.js';
import { edgeMetrics } from './metrics.js';
import { systemdNotifier } from '../core/sdnotify.js';
import type { ReadinessCheck } from '../core/health.js';
import { modbusDriver } from '../drivers/modbus/index.js';
import { serialDriver } from '../drivers/serial/index.js';
import { gpioDriver } from '../drivers/gpio/index.js';

const usage = `edgecore: the KubeEdge edge runtime (EdgeHub, MetaManager, DeviceTwin, EventBus, ServiceBus, Edged).

Usage: edgecore [--config FILE] | --minconfig | --defaultconfig | --version | --help
  --config FILE     config file (default /etc/kubeedge/config/edgecore.yaml)
  --minconfig       print a minimal config
  --defaultconfig   print the full default config
Environment: CHECK_EDGECORE_ENVIRONMENT=false lets edgecore run on a host where cloudcore runs.
`;

/** what must hold before anything starts: no cloudcore on this host, a valid node name, the modules' needs */
function checkStart(config: EdgeCoreConfig): void {
  if (process.env.CHECK_EDGECORE_ENVIRONMENT !== 'false') {
    const pid = cloudcoreRunningHere();
    if (pid !== undefined) throw new Error(`a cloudcore runs on this host (pid ${pid}); set CHECK_EDGECORE_ENVIRONMENT=false to run edgecore beside it`);
  }
  const m = config.modules;
  const nodeName = m.edged.hostnameOverride;
  if (!isDnsSubdomain(nodeName)) throw new Error(`modules.edged.hostnameOverride ${JSON.stringify(nodeName)} is not a valid node name: ${DNS_SUBDOMAIN_RULE}`);
  if (m.deviceTwin.enable && !m.metaManager.enable && m.edgeHub.enable) throw new Error('modules.deviceTwin needs modules.metaManager (the devices the cloud sends); enable it or disable deviceTwin');
}

/** MetaServer's /readyz beside the store: the link (when there is a cloud) and the broker (when it is ours) */
function partsReady(config: EdgeCoreConfig, edgeHub: EdgeHub, eventBus: () => EventBus): () => ReadinessCheck[] {
  const { edgeHub: hub, eventBus: bus } = config.modules;
  return () => {
    const linked = hub.enable && edgeHub.stats().connected;
    const port = bus.enable && bus.mqttMode !== 2 ? eventBus().port() : undefined;
    return [
      ...(hub.enable ? [{ name: 'link', ok: linked, detail: linked ? `connected to ${hub.websocket.server}` : `not connected to the cloud at ${hub.websocket.server}` }] : []),
      ...(port !== undefined ? [{ name: 'broker', ok: port > 0, detail: port > 0 ? `MQTT on port ${port}` : 'the embedded broker is not listening' }] : []),
    ];
  };
}

/** the in-process drivers, and DMI for the protocols they do not take (all of them with deviceManager disabled) */
function deviceDrivers(config: EdgeCoreConfig, twin: DeviceTwin): { deviceManager: DeviceManager; dmi: Module } {
  const drivers = [modbusDriver(), serialDriver(), gpioDriver()];
  const inProcess = new Set(config.modules.deviceManager.enable ? drivers.map((d) => d.protocol) : []);
  const data = config.database.dataSource;
  return {
    deviceManager: createDeviceManager({ twin, drivers, push: { clientId: `edgecore-${config.modules.edged.hostnameOverride}`, mqttTls: () => eventBusTlsFiles(config.modules.eventBus) } }),
    dmi: createDmi({ twin, sockPath: config.modules.deviceTwin.dmiSockPath, inProcess: (p) => inProcess.has(p), mappersFile: data === ':memory:' ? undefined : `${data}.mappers` }),
  };
}

export async function startEdgeCore(config: EdgeCoreConfig): Promise<() => Promise<void>> {
  checkStart(config);
  const log = createLogger({ scope: 'edgecore' });
  const m = config.modules;
  const nodeName = m.edged.hostnameOverride;
  const hub = m.edgeHub;
  if (hub.enable) await ensureEdgeCertificate(hub, nodeName, log.child('edgehub'));
  const edgeHub = createEdgeHub({
    config: hub,
    nodeName,
    nodeLabels: m.edged.nodeLabels,
    tls: () => ({ ca: readRequiredFile(hub.tlsCaFile, 'CA certificate'), cert: readRequiredFile(hub.tlsCertFile, 'edge certificate'), key: readRequiredFile(hub.tlsPrivateKeyFile, 'edge key') }),
    certificates: certificateSource(hub, nodeName),
    outboxDepth: () => metaManager.outbox()?.stats().queued ?? 0,
  });
  let edged: Edged | undefined;
  const metaManager = createMetaManager({
    config: m.metaManager,
    dataSource: config.database.dataSource,
    present: (kind, obj) => edged?.present(kind, obj) ?? obj,
    readiness: partsReady(config, edgeHub, () => eventBus),
    metrics: edgeMetrics({
      ...(hub.enable ? { link: () => edgeHub.stats() } : {}),
      outbox: () => metaManager.outbox()?.stats(),
      modules: () => [...metaManager.metrics(), ...(m.deviceTwin.enable ? deviceTwin.metrics() : []), ...(m.deviceTwin.enable && m.deviceManager.enable ? deviceManager.metrics() : []), ...(m.eventBus.enable ? eventBus.metrics() : [])],
    }),
  });
  const eventBus = createEventBus({ config: m.eventBus, nodeName, outbox: metaManager.enqueue, ...(hub.enable ? { rules: metaManager.source(['rule']) } : {}) });
  // standalone, devices come from the manifest folder; else from the cloud through MetaManager
  const manifests = hub.enable || !m.deviceTwin.enable ? undefined : openManifestFolder(m.deviceTwin.manifestDir, log.child('manifests'));
  const deviceTwin = createDeviceTwin({
    nodeName,
    dataSource: config.database.dataSource,
    source: manifests ?? metaManager.source(['devicemodel', 'device']), // models first, so a device finds its model
    outbox: hub.enable ? metaManager.enqueue : undefined,
  });
  const { deviceManager, dmi } = deviceDrivers(config, deviceTwin);
  edged = createEdged({ nodeName, config: m.edged, source: metaManager.source(['configmap', 'secret', 'pod']), outbox: hub.enable ? metaManager.enqueue : undefined });
  const bus = createBus(log.child('bus'));
  const stop = await startModules(
    [
      { module: metaManager, enabled: m.metaManager.enable },
      { module: edgeHub, enabled: hub.enable && hub.websocket.enable },
      { module: deviceTwin, enabled: m.deviceTwin.enable },
      { module: eventBus, enabled: m.eventBus.enable },
      { module: deviceManager, enabled: m.deviceTwin.enable && m.deviceManager.enable },
      { module: dmi, enabled: m.deviceTwin.enable && m.deviceTwin.dmiSockPath !== '' },
      { module: edged, enabled: m.edged.enable },
      { module: createServiceBus({ config: m.serviceBus }), enabled: m.serviceBus.enable },
    ],
    { bus, log, clock: systemClock },
  );
  log.info(`edgecore is running as node ${nodeName}${hub.enable ? '' : ` (standalone: edgeHub disabled; devices from ${m.deviceTwin.manifestDir})`}`);
  return underSystemd(nodeName, () => (m.metaManager.enable ? unhealthy(metaManager.readiness(), metaManager.outboxStalledMs()) : undefined), log, async () => {
    manifests?.close();
    await stop();
  });
}

/** under systemd (Type=notify, WatchdogSec=): ready now, the watchdog petted while healthy; the stop says so */
function underSystemd(nodeName: string, health: () => string | undefined, log: Logger, stop: () => Promise<void>): () => Promise<void> {
  const systemd = systemdNotifier();
  systemd.ready(`node ${nodeName}`);
  systemd.startWatchdog(health, log.child('watchdog'));
  return async () => {
    systemd.stopping();
    await stop();
  };
}

/** the outbox may wait this long with the link up before edgecore counts as hung */
const OUTBOX_STALL_MS = 5 * 60_000;

/**
 * What the systemd watchdog goes by (the readiness of /readyz, but for the link: a cloud that is
 * away is no reason to restart): why edgecore is unhealthy, or undefined when it is not.
 */
export function unhealthy(checks: readonly ReadinessCheck[], outboxStalledMs: number): string | undefined {
  const failing = checks.filter((c) => !c.ok && c.name !== 'link');
  if (failing.length > 0) return failing.map((c) => `${c.name}: ${c.detail}`).join('; ');
  if (outboxStalledMs > OUTBOX_STALL_MS) return `the outbox has not moved for ${Math.round(outboxStalledMs / 1000)} s with the link up`;
  return undefined;
}

export function minimalEdgeConfig(): unknown {
  return {
    apiVersion: 'edgecore.config.kubeedge.io/v1alpha2',
    kind: 'EdgeCore',
    database: { dataSource: '/var/lib/kubeedge/edgecore.db' },
    modules: {
      edgeHub: {
        heartbeat: 15,
        httpServer: 'https://127.0.0.1:10002',
        websocket: { server: '127.0.0.1:10000' },
        token: '',
      },
      edged: { hostnameOverride: defaults(edgeCoreSchema).modules.edged.hostnameOverride },
    },
  };
}

export function runEdgeCore(argv: readonly string[]): Promise<void> {
  return runProgram<EdgeCoreConfig>(
    {
      name: 'edgecore',
      defaultConfigPath: '/etc/kubeedge/config/edgecore.yaml',
      usage,
      minConfig: minimalEdgeConfig,
      defaultConfig: () => defaults(edgeCoreSchema),
      load: (file) => loadConfig(file, edgeCoreSchema, EDGECORE_KEYS),
      run: (config) => startEdgeCore(config),
    },
    argv,
  );
}
