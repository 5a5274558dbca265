/** Starts the bundled cloudcore and edgecores as processes in a temporary folder, over real mutual TLS. */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { makePki, type TestPki } from '../peers/pki.js';
import { runBundle, type Proc } from '../peers/proc.js';
import { freePort } from '../peers/proxy.js';
import { apiClient, type ApiClient } from '../peers/api.js';
import { writeKubeconfig } from '../peers/kubectl.js';

export interface Cluster {
  dir: string;
  pki: TestPki;
  hubPort: number;
  apiPort: number;
  certPort: number;
  cloud: Proc | undefined;
  api: ApiClient;
  startCloud(extra?: Record<string, unknown>, env?: Record<string, string>): Promise<Proc>;
  /** the current join token, as cloudcore wrote it */
  token(): string;
  /** an admin kubeconfig for kubectl on this cloud (written on each call: the API's port may have changed) */
  kubeconfig(): string;
  startEdge(node: string, opts?: { server?: string; heartbeat?: number; metaPort?: number; handshakeTimeout?: number; launcher?: string[]; readyTimeoutMs?: number; env?: Record<string, string>; token?: string; outboxLimit?: number; modules?: Record<string, Record<string, unknown>>; configFile?: string; dataSource?: string }): Promise<Edge>;
  stop(): Promise<void>;
}

export interface Edge {
  node: string;
  proc: Proc;
  metaPort: number;
  mqttPort: number;
  configFile: string;
  restart(): Promise<void>;
  meta(path: string): Promise<{ status: number; body: any }>;
}

export async function makeCluster(opts: { keepaliveInterval?: number; cloudModules?: Record<string, Record<string, unknown>>; sans?: string[] } = {}): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'ke-e2e-'));
  const pki = makePki(dir, opts.sans);
  const hubPort = await freePort();
  const apiPort = await freePort();
  const certPort = await freePort();
  const tokenFile = join(dir, 'admin.token');
  writeFileSync(tokenFile, 'test-admin-token\n');
  const procs: Proc[] = [];
  let started = false;
  const cluster: Cluster = {
    dir,
    pki,
    hubPort,
    apiPort,
    certPort,
    cloud: undefined,
    api: apiClient(apiPort, pki.ca.cert, 'test-admin-token'),
    async startCloud(extra = {}, env = {}) {
      const config = {
        apiVersion: 'cloudcore.config.kubeedge.io/v1alpha2',
        kind: 'CloudCore',
        database: { dataSource: join(dir, 'cloudcore.db') },
        modules: {
          cloudHub: {
            advertiseAddress: ['127.0.0.1'],
            keepaliveInterval: opts.keepaliveInterval ?? 2,
            tlsCAFile: pki.caFile,
            tlsCAKeyFile: pki.caKeyFile,
            tlsCertFile: pki.serverCertFile,
            tlsPrivateKeyFile: pki.serverKeyFile,
            tokenSecretFile: join(dir, 'tokens', 'tokensecret'),
            websocket: { address: '127.0.0.1', port: cluster.hubPort },
            https: { address: '127.0.0.1', port: cluster.certPort },
            ...extra,
          },
          apiServer: { address: '127.0.0.1', port: cluster.apiPort, tokenFile },
          ...opts.cloudModules,
        },
      };
      // where keadm looks for it with --config-dir <dir>
      mkdirSync(join(dir, 'config'), { recursive: true });
      const file = join(dir, 'config', 'cloudcore.yaml');
      writeFileSync(file, stringify(config));
      const proc = runBundle('cloudcore', ['--config', file], env);
      procs.push(proc);
      cluster.cloud = proc;
      try {
        await proc.waitFor(/cloudcore is running/);
      } catch (err) {
        // a port from freePort() can be taken by a parallel test before cloudcore binds it: on the
        // first start (no edge knows the ports yet) pick new ones and try again
        if (cluster.cloud === proc && !started && proc.lines.some((l) => l.includes('is in use by another process'))) {
          cluster.hubPort = await freePort();
          cluster.apiPort = await freePort();
          cluster.certPort = await freePort();
          cluster.api = apiClient(cluster.apiPort, pki.ca.cert, 'test-admin-token');
          return cluster.startCloud(extra, env);
        }
        throw err;
      }
      started = true;
      return proc;
    },
    token() {
      return readFileSync(join(dir, 'tokens', 'token'), 'utf8').trim();
    },
    kubeconfig() {
      return writeKubeconfig(join(dir, 'admin.kubeconfig'), cluster.apiPort, pki.ca.cert, 'test-admin-token');
    },
    async startEdge(node, o = {}) {
      const edgeDir = join(dir, node);
      mkdirSync(edgeDir, { recursive: true });
      // with a token the edge joins by itself (no certificate yet); else it gets one made here
      const certs = o.token ? { certFile: join(edgeDir, 'certs', 'server.crt'), keyFile: join(edgeDir, 'certs', 'server.key') } : pki.edge(node);
      const metaPort = o.metaPort ?? (await freePort());
      const mqttPort = await freePort();
      const config = {
        apiVersion: 'edgecore.config.kubeedge.io/v1alpha2',
        kind: 'EdgeCore',
        database: { dataSource: o.dataSource ?? join(edgeDir, 'edgecore.db') },
        modules: {
          edgeHub: {
            heartbeat: o.heartbeat ?? 1,
            ...(o.token ? { token: o.token, httpServer: `https://127.0.0.1:${cluster.certPort}` } : {}),
            tlsCaFile: o.token ? join(edgeDir, 'ca', 'rootCA.crt') : pki.caFile,
            tlsCertFile: certs.certFile,
            tlsPrivateKeyFile: certs.keyFile,
            websocket: { server: o.server ?? `127.0.0.1:${cluster.hubPort}`, handshakeTimeout: o.handshakeTimeout ?? 5 },
          },
          deviceTwin: { dmiSockPath: join(edgeDir, 'dmi.sock') },
          metaManager: { metaServer: { server: `127.0.0.1:${metaPort}` }, ...(o.outboxLimit ? { outboxLimit: o.outboxLimit } : {}) },
          eventBus: { mqttServerInternal: `tcp://127.0.0.1:${mqttPort}` },
          // pods' state in the test's folder; no podman unless a test gives its socket; quick back-off
          edged: {
            hostnameOverride: node,
            rootDirectory: join(edgeDir, 'edged'),
            tailoredKubeletConfig: { containerRuntimeEndpoint: `unix://${join(edgeDir, 'no-podman.sock')}`, crashLoopBackOff: { initialContainerRestartPeriod: '1s' } },
          },
        } as Record<string, Record<string, unknown>>,
      };
      for (const [k, v] of Object.entries(o.modules ?? {})) config.modules[k] = mergeDeep(config.modules[k] ?? {}, v);
      const configFile = o.configFile ?? join(edgeDir, 'edgecore.yaml');
      mkdirSync(dirname(configFile), { recursive: true });
      writeFileSync(configFile, stringify(config));
      const edge: Edge = {
        node,
        proc: runBundle('edgecore', ['--config', configFile], o.env ?? {}, o.launcher),
        metaPort,
        mqttPort,
        configFile,
        async restart() {
          await edge.proc.kill('SIGKILL');
          edge.proc = runBundle('edgecore', ['--config', configFile], o.env ?? {}, o.launcher);
          procs.push(edge.proc);
          await edge.proc.waitFor(/edgecore is running/);
        },
        async meta(path) {
          const res = await fetch(`http://127.0.0.1:${metaPort}${path}`);
          const text = await res.text();
          return { status: res.status, body: text ? JSON.parse(text) : undefined };
        },
      };
      procs.push(edge.proc);
      await edge.proc.waitFor(/edgecore is running/, o.readyTimeoutMs);
      return edge;
    },
    async stop() {
      await Promise.all(procs.map((p) => p.kill('SIGKILL')));
      killPodProcesses(dir);
      rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
    },
  };
  return cluster;
}

/** Process pods outlive edgecore by design: a test's end kills those whose shim names its folder. */
export function killPodProcesses(dir: string): void {
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`${dir}/`)) continue;
      process.kill(-Number(pid), 'SIGKILL');
    } catch {
      /* gone, or not a group leader */
    }
  }
}

function mergeDeep(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur) ? mergeDeep(cur as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

export async function eventually<T>(fn: () => Promise<T | undefined | false>, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function readyOf(node: any): string | undefined {
  return node?.status?.conditions?.find((c: any) => c.type === 'Ready')?.status;
}

export function device(name: string, nodeName: string, desired = '20'): Record<string, unknown> {
  return {
    apiVersion: 'devices.kubeedge.io/v1beta1',
    kind: 'Device',
    metadata: { name, namespace: 'default' },
    spec: {
      deviceModelRef: { name: 'thermometer' },
      nodeName,
      protocol: { protocolName: 'modbus', configData: { ip: '127.0.0.1', port: 5020, slaveID: 1 } },
      properties: [{ name: 'setpoint', desired: { value: desired } }],
    },
  };
}

export const thermometerModel = {
  apiVersion: 'devices.kubeedge.io/v1beta1',
  kind: 'DeviceModel',
  metadata: { name: 'thermometer', namespace: 'default' },
  spec: { properties: [{ name: 'setpoint', type: 'INT', accessMode: 'ReadWrite' }] },
};

export const thermostatModel = {
  apiVersion: 'devices.kubeedge.io/v1beta1',
  kind: 'DeviceModel',
  metadata: { name: 'thermostat', namespace: 'default' },
  spec: {
    properties: [
      { name: 'temperature', type: 'FLOAT', accessMode: 'ReadOnly', unit: 'C' },
      { name: 'setpoint', type: 'INT', accessMode: 'ReadWrite' },
      { name: 'label', type: 'STRING', accessMode: 'ReadWrite' },
    ],
  },
};

/** a device driven by a local MQTT app (no protocol: no driver polls it) */
export function thermostat(name: string, nodeName: string, setpoint: string): Record<string, unknown> {
  return {
    apiVersion: 'devices.kubeedge.io/v1beta1',
    kind: 'Device',
    metadata: { name, namespace: 'default' },
    spec: { deviceModelRef: { name: 'thermostat' }, nodeName, properties: [{ name: 'setpoint', desired: { value: setpoint } }] },
  };
}

/** One twin of a Device's `status.twins`, as the cloud's API shows it. */
export async function statusTwin(c: Cluster, device: string, prop: string, namespace = 'default'): Promise<any> {
  const r = await c.api.call('GET', `/apis/devices.kubeedge.io/v1beta1/namespaces/${namespace}/devices/${device}`);
  return r.body?.status?.twins?.find((t: any) => t.propertyName === prop);
}
