/**
 * A real KubeEdge v1.23 edgecore (../shared/kubeedge, edged on Debian's containerd) on our
 * cloudcore: it joins with our token (its ECDSA request signed), connects with JSON text frames, is
 * Ready in kubectl get nodes with the status and labels its edged registers and patches, and its
 * Lease is answered as KubeEdge's cloud answers it; a Device bound to it reaches its DeviceTwin (its membership answer on its own broker, read
 * with mosquitto_sub); a twin update and a state published by an app at that edge reach our
 * Device status; SIGKILL of it → NotReady.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from '../peers/proc.js';
import { pyMapper, type PyMapper } from '../peers/dmi.js';
import { kubeedgeBinary, kubectl, requireKubeEdge, realKubeEdge, type RealKubeEdge } from './real.js';

const keadm = (args: string[], input?: string) => spawnSync(process.execPath, [join(ROOT, 'dist', 'keadm.js'), ...args], { encoding: 'utf8', input, timeout: 60_000 });

async function until<T>(fn: () => T | undefined | false, what: string, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** the first unix socket under `dir` whose name says DMI */
function findSocket(dir: string): string | undefined {
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const p = join(e.parentPath, e.name);
    if (/dmi/.test(p) && e.isSocket()) return p;
  }
  return undefined;
}

describe('a real KubeEdge edgecore on our cloudcore', () => {
  beforeAll(() => requireKubeEdge());
  let dir: string;
  let kubeconfig: string;
  let real: RealKubeEdge;
  let mapper: PyMapper | undefined;
  const cloud = (): string[] => ['--config-dir', join(dir, 'etc'), '--data-dir', join(dir, 'var')];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ke-realedge-'));
    expect(keadm(['init', '--advertise-address', '127.0.0.1', ...cloud()]).status).toBe(0);
    kubeconfig = join(dir, 'etc', 'admin.kubeconfig');
    real = realKubeEdge();
    const up = real.up('edge', { TOKEN: keadm(['gettoken', ...cloud()]).stdout.trim(), NODE: 'ke-edge' });
    expect(up.status, `${up.stdout}\n${up.stderr}\n${real.edgeLog().slice(-3000)}`).toBe(0);
  });
  afterAll(async () => {
    await mapper?.kill();
    real?.down();
    keadm(['reset', '--force', ...cloud()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('joins with our token and is Ready', async () => {
    const nodes = await until(() => {
      const out = kubectl(kubeconfig, ['get', 'nodes']).stdout;
      return /^ke-edge\s+Ready\s/m.test(out) && out;
    }, 'ke-edge Ready');
    expect(nodes).toMatch(/^ke-edge\s+Ready/m);
    const log = readFileSync(join(dir, 'var', 'cloudcore.log'), 'utf8');
    expect(log).toMatch(/issued the certificate of node ke-edge/);
    expect(log).toMatch(/ke-edge is a KubeEdge edgecore \(JSON frames\): speaking its dialect/);
    expect(real.edgeLog()).toContain('Websocket connect to cloud access successful');
  });

  it('has the Node its edged registers and patches, and keeps its Lease', async () => {
    // edged's node insert and status patches: its labels, capacity and nodeInfo in our Node
    const node = await until(() => {
      const n = JSON.parse(kubectl(kubeconfig, ['get', 'node', 'ke-edge', '-o', 'json']).stdout || 'null');
      return n?.status?.nodeInfo?.kubeletVersion && n;
    }, 'the node status edged reports');
    expect(node.status.nodeInfo.kubeletVersion).toMatch(/kubeedge/);
    expect(Number(node.status.capacity.pods)).toBeGreaterThan(0);
    expect(node.metadata.labels).toMatchObject({ 'kubernetes.io/hostname': 'ke-edge', 'node-role.kubernetes.io/edge': '' });
    expect(node.status.conditions.find((c: { type: string }) => c.type === 'Ready').status).toBe('True');
    // its Lease: asked for (NotFound at first), made, then renewed every 10 s, each answered
    const log = (): string => readFileSync(join(dir, 'var', 'cloudcore.log'), 'utf8');
    await new Promise((r) => setTimeout(r, 12_000)); // past a renewal (every 10 s)
    expect(log()).not.toMatch(/ke-edge: edged asked .* which this cloud does not serve/);
    expect(log()).not.toMatch(/ke-edge: \w+ (null\/node|kube-node-lease).* (refused|failed)/);
    // kubelet's own words when a node update or a lease renewal is refused
    expect(real.edgeLog()).not.toMatch(/Unable to register node|Error updating node status|failed to update lease|failed to ensure lease exists|Failed to update lease/i);
    expect(real.edgeLog()).toMatch(/Successfully registered node|Node was previously registered/);
  });

  it('gets a Device bound to it, and its app’s twin update and state reach our Device status', async () => {
    keadm(
      ['apply', '-f', '-', ...cloud()],
      `apiVersion: devices.kubeedge.io/v1beta1
kind: DeviceModel
metadata: {name: thermo-model}
spec:
  properties: [{name: temperature, type: INT, accessMode: ReadWrite}]
---
apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata: {name: thermo-1}
spec:
  deviceModelRef: {name: thermo-model}
  nodeName: ke-edge
  properties: [{name: temperature, desired: {value: "25"}}]
`,
    );
    // its DeviceTwin has it: ask for membership on the edge's own broker (1884), as an app would
    const member = await until(() => {
      const r = spawnSync('bash', ['-c', `mosquitto_sub -p 1884 -t '$hw/events/node/ke-edge/membership/get/result' -C 1 -W 3 & sleep 0.5; mosquitto_pub -p 1884 -t '$hw/events/node/ke-edge/membership/get' -m '{"event_id":"m1"}'; wait`], { encoding: 'utf8' });
      return r.stdout.includes('thermo-1') && r.stdout;
    }, 'thermo-1 in the edge’s membership');
    expect(JSON.parse(member).devices).toEqual([{ id: 'default/thermo-1', name: 'thermo-1' }]);
    spawnSync('mosquitto_pub', ['-p', '1884', '-t', '$hw/events/device/default/thermo-1/twin/update', '-m', '{"event_id":"e1","timestamp":0,"twin":{"temperature":{"actual":{"value":"21"}}}}']);
    spawnSync('mosquitto_pub', ['-p', '1884', '-t', '$hw/events/device/default/thermo-1/state/update', '-m', '{"event_id":"s1","state":"online"}']);
    const status = await until(() => {
      const d = parse(kubectl(kubeconfig, ['get', 'device', 'thermo-1', '-o', 'yaml']).stdout);
      return d?.status?.state === 'online' && d.status.twins?.[0]?.reported ? d.status : undefined;
    }, 'the reported value and state in the Device status');
    expect(status.twins[0]).toMatchObject({ propertyName: 'temperature', reported: { value: '21' } });
    expect(status.lastOnlineTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(kubectl(kubeconfig, ['get', 'devicestatus', 'thermo-1', '-o', 'jsonpath={.status.twins[0].reported.value}']).stdout).toBe('21');
  });

  it('serves the same Python DMI mapper as our edgecore does', async () => {
    keadm(
      ['apply', '-f', '-', ...cloud()],
      `apiVersion: devices.kubeedge.io/v1beta1
kind: DeviceModel
metadata: {name: boiler-model}
spec:
  protocol: virtualplc
  properties: [{name: temperature, type: FLOAT, accessMode: ReadOnly}, {name: setpoint, type: INT, accessMode: ReadWrite}]
---
apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata: {name: boiler}
spec:
  deviceModelRef: {name: boiler-model}
  nodeName: ke-edge
  protocol: {protocolName: virtualplc, configData: {endpoint: "plc.local:4840", unitID: 3}}
  properties:
  - {name: temperature, collectCycle: 1000, reportCycle: 2000, visitors: {protocolName: virtualplc, configData: {nodeID: "ns=2;s=Temperature"}}}
  - {name: setpoint, desired: {value: "20"}, visitors: {protocolName: virtualplc, configData: {nodeID: "ns=2;s=Setpoint"}}}
---
apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata: {name: boiler-2}
spec:
  deviceModelRef: {name: boiler-model}
  nodeName: ke-edge
  protocol: {protocolName: virtualplc, configData: {endpoint: "plc2.local:4840"}}
  properties: [{name: setpoint, visitors: {protocolName: virtualplc, configData: {nodeID: "ns=2;s=Setpoint"}}}]
---
apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata: {name: lamp}
spec:
  deviceModelRef: {name: boiler-model}
  nodeName: ke-edge
  protocol: {protocolName: zigbee}
  properties: [{name: setpoint, visitors: {protocolName: zigbee, configData: {cluster: 6}}}]
`,
    );
    const sock = await until(() => findSocket(join(real.dir, 'edge')), 'the real edgecore’s DMI socket');
    const own = join(real.dir, 'virtualplc.sock');
    let m = pyMapper(sock, own, 'virtualplc');
    mapper = m;
    // the devices and models of its protocol (the lamp of another protocol, and thermo-1 of none, are not its)
    const reg = await m.next((e) => e.call === 'registered', 30_000);
    expect(reg.devices.map((d: any) => `${d.namespace}/${d.name}`).sort()).toEqual(['default/boiler', 'default/boiler-2']);
    expect([...new Set(reg.models.map((x: any) => x.name))]).toEqual(['boiler-model']);
    const boiler = reg.devices.find((d: any) => d.name === 'boiler');
    expect(boiler.spec.protocol.configData.data.unitID).toEqual({ '@type': 'type.googleapis.com/google.protobuf.FloatValue', value: 3 });
    expect(boiler.spec.properties.find((p: any) => p.name === 'setpoint').desired.value).toBe('20');
    // its twin report reaches our Device status
    expect(await m.command({ report: { device: 'boiler', twins: { temperature: '21.5' } } })).toMatchObject({ ok: true });
    await until(() => parse(kubectl(kubeconfig, ['get', 'device', 'boiler', '-o', 'yaml']).stdout)?.status?.twins?.find((t: any) => t.propertyName === 'temperature')?.reported?.value === '21.5', 'the mapper’s report in the Device status', 60_000);
    // a desired value applied on the cloud: UpdateDevice
    let from = m.events.length;
    keadm(['apply', '-f', '-', ...cloud()], kubectl(kubeconfig, ['get', 'device', 'boiler', '-o', 'yaml']).stdout.replace(/value: "?20"?/, 'value: "42"'));
    const upd = await m.next((e) => e.call === 'UpdateDevice', 60_000, from);
    expect(upd.device.spec.properties.find((p: any) => p.name === 'setpoint').desired.value).toBe('42');
    // restarted, it registers again and gets everything
    await m.kill();
    m = pyMapper(sock, own, 'virtualplc');
    mapper = m;
    const again = await m.next((e) => e.call === 'registered', 30_000);
    expect(again.devices.map((d: any) => d.name).sort()).toEqual(['boiler', 'boiler-2']);
    expect(again.devices.find((d: any) => d.name === 'boiler').spec.properties.find((p: any) => p.name === 'setpoint').desired.value).toBe('42');
    // deleted: RemoveDevice (KubeEdge finds the mapper from the deleted Device's spec, which our cloud now sends)
    from = m.events.length;
    keadm(['delete', 'device', 'boiler-2', ...cloud()]);
    expect(await m.next((e) => e.call === 'RemoveDevice', 60_000, from)).toMatchObject({ deviceName: 'boiler-2', deviceNamespace: 'default' });
    await m.kill();
  });

  it('goes NotReady when it is killed', async () => {
    const pid = Number(readFileSync(join(real.dir, 'edge', 'edgecore.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    const out = await until(() => {
      const o = kubectl(kubeconfig, ['get', 'nodes']).stdout;
      return /^ke-edge\s+NotReady\s/m.test(o) && o;
    }, 'ke-edge NotReady', 60_000);
    expect(out).toMatch(/^ke-edge\s+NotReady/m);
  });

  it('with the cloud SIGKILLed and KubeEdge\'s edgecore started again, the mapper registering again still gets its devices', async () => {
    process.kill(Number(readFileSync(join(dir, 'var', 'cloudcore.pid'), 'utf8')), 'SIGKILL');
    // as up.sh starts it (down.sh stops it by its pid file)
    const edgeDir = join(real.dir, 'edge');
    const before = real.edgeLog().length;
    const log = openSync(join(edgeDir, 'edgecore.log'), 'a');
    const child = spawn(kubeedgeBinary('edgecore'), ['--config', join(edgeDir, 'edgecore.yaml'), '-v=2'], { env: { ...process.env, CHECK_EDGECORE_ENVIRONMENT: 'false' }, stdio: ['ignore', log, log], detached: true });
    child.unref();
    writeFileSync(join(edgeDir, 'edgecore.pid'), String(child.pid));
    const m = pyMapper(await until(() => findSocket(edgeDir), 'the DMI socket'), join(real.dir, 'virtualplc.sock'), 'virtualplc');
    mapper = m;
    const reg = await m.next((e) => e.call === 'registered', 90_000);
    expect(reg.devices.map((d: any) => d.name)).toEqual(['boiler']);
    expect(reg.devices[0].spec.properties.find((p: any) => p.name === 'setpoint').desired.value).toBe('42');
    // the edgecore started here took it, from its store: its cloud is gone
    await until(() => /save mapper info of virtualplc-mapper/.test(real.edgeLog().slice(before)), 'the new edgecore’s word for the registration', 10_000);
    expect(real.edgeLog().slice(before)).not.toContain('Websocket connect to cloud access successful');
    await m.kill();
  }, 120_000);
});
