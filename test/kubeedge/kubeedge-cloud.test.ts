/**
 * Our edgecore on a real KubeEdge v1.23 cloud (../shared/kubeedge: kube-apiserver, etcd, cloudcore):
 * keadm join with the real cloud's token and the same flags as against ours finds out it joins
 * KubeEdge (and writes `dialect: kubeedge`); the node registers itself and is Ready in the real
 * kubectl get nodes, with its lease; a Device with Modbus properties on a pymodbus slave, applied
 * with kubectl, is driven by our Modbus driver and its reading lands in the real DeviceStatus; a
 * desired value applied with kubectl reaches the slave's register; a pod applied with kubectl runs
 * and its status shows in the real API; after the real cloudcore is
 * SIGKILLed and restarted, the edge reconnects and a new reading still arrives.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runBundle, type Proc } from '../peers/proc.js';
import { freePort } from '../peers/proxy.js';
import { modbusClient, pymodbusSlave } from '../peers/serial.js';
import { requireKubeEdge, realKubeEdge, type RealKubeEdge } from './real.js';

/** what a timed-out wait adds to its error: where the edge's messages stood */
let diagnose = async (): Promise<string> => '';

async function until<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, what: string, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${await diagnose()}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const manifest = (port: number, setpoint: string) => `apiVersion: devices.kubeedge.io/v1beta1
kind: DeviceModel
metadata: {name: plc, namespace: default}
spec:
  protocol: modbus
  properties:
  - {name: temperature, type: FLOAT, accessMode: ReadOnly}
  - {name: counter, type: INT, accessMode: ReadOnly}
  - {name: setpoint, type: INT, accessMode: ReadWrite}
---
apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata: {name: plc-1, namespace: default}
spec:
  deviceModelRef: {name: plc}
  nodeName: pi-1
  protocol:
    protocolName: modbus
    configData: {ip: 127.0.0.1, port: ${port}, slaveID: 1, timeout: 500}
  properties:
  - name: temperature
    collectCycle: 500
    visitors: {protocolName: modbus, configData: {register: InputRegister, offset: 0, dataType: int16, scale: 0.1}}
  - name: counter
    collectCycle: 500
    visitors: {protocolName: modbus, configData: {register: HoldingRegister, offset: 30, dataType: uint16}}
  - name: setpoint
    collectCycle: 500
    desired: {value: "${setpoint}"}
    visitors: {protocolName: modbus, configData: {register: HoldingRegister, offset: 60, dataType: int16}}
`;

describe('our edgecore on a real KubeEdge cloud', () => {
  beforeAll(() => requireKubeEdge());
  let real: RealKubeEdge;
  let edge: Proc;
  let port: number;
  let slave: Awaited<ReturnType<typeof pymodbusSlave>>;
  const dirs = (): string[] => ['--config-dir', join(real.dir, 'ours', 'etc'), '--data-dir', join(real.dir, 'ours', 'var')];
  const reported = (prop: string): string | undefined => {
    const ds = parse(real.kubectl(['get', 'devicestatus', 'plc-1', '-o', 'yaml']).stdout || 'null');
    return ds?.status?.twins?.find((t: { propertyName: string }) => t.propertyName === prop)?.reported?.value || undefined;
  };
  const holding = async (addr: number, write?: number): Promise<number> => {
    const m = await modbusClient(port);
    try {
      if (write !== undefined) await m.writeRegister(addr, write);
      return (await m.readHoldingRegisters(addr, 1)).data[0] as number;
    } finally {
      m.close(() => undefined);
    }
  };

  beforeAll(async () => {
    real = realKubeEdge();
    const up = real.up('cloud');
    expect(up.status, `${up.stdout}\n${up.stderr}`).toBe(0);
    port = await freePort();
    slave = await pymodbusSlave('tcp', port);
    diagnose = async () => {
      const outbox = await fetch('http://127.0.0.1:10550/outbox').then((r) => r.text(), (e: Error) => e.message);
      const cloud = readFileSync(join(real.dir, 'cloudcore.log'), 'utf8').split('\n').filter((l) => /device|twin|plc-1|upstream|error/i.test(l)).slice(-30);
      const device = await fetch('http://127.0.0.1:10550/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices/plc-1').then((r) => r.text(), (e: Error) => e.message);
      const status = real.kubectl(['get', 'devicestatus', 'plc-1', '-o', 'json']).stdout;
      return `edge outbox: ${outbox}\nedge's device: ${device}\nDeviceStatus: ${status}\nedge log:\n${edge.lines.slice(-30).join('\n')}\ncloudcore.log:\n${cloud.join('\n')}`;
    };
    // the same flags as against our cloudcore; --foreground keeps it a child of this test
    edge = runBundle('keadm', ['join', '--cloudcore-ipport=127.0.0.1:10000', `--token=${real.token()}`, '--edgenode-name=pi-1', ...dirs(), '--foreground']);
    await edge.waitFor(/joined 127\.0\.0\.1:10000 \(a KubeEdge cloudcore: JSON frames\)/, 30_000);
  });
  afterAll(async () => {
    await edge?.kill('SIGTERM'); // keadm passes it on to its edgecore
    await slave?.stop();
    real?.down();
  });

  it('joins with the real token, says it speaks KubeEdge, and is Ready in the real kubectl with its lease', async () => {
    const config = parse(readFileSync(join(real.dir, 'ours', 'etc', 'config', 'edgecore.yaml'), 'utf8'));
    expect(config.modules.edgeHub.dialect).toBe('kubeedge');
    const nodes = await until(() => {
      const out = real.kubectl(['get', 'nodes', '-o', 'wide']).stdout;
      return /^pi-1\s+Ready\s/m.test(out) && out;
    }, 'pi-1 Ready');
    expect(nodes).toMatch(/^pi-1\s+Ready\s+agent,edge\s/m);
    const node = JSON.parse(real.kubectl(['get', 'node', 'pi-1', '-o', 'json']).stdout);
    expect(Number(node.status.capacity.pods)).toBe(110);
    expect(node.status.nodeInfo.operatingSystem).toBe('linux');
    expect(node.status.addresses).toContainEqual({ type: 'Hostname', address: 'pi-1' });
    await until(() => real.kubectl(['get', 'lease', '-n', 'kube-node-lease', 'pi-1', '-o', 'jsonpath={.spec.holderIdentity}']).stdout === 'pi-1', 'the node lease');
    await edge.waitFor(/node pi-1 registered with the KubeEdge cloud/);
  });

  it('drives a Device applied with kubectl: the reading in DeviceStatus, a desired value in the register', async () => {
    const applied = real.kubectl(['apply', '-f', '-'], manifest(port, '25'));
    expect(applied.status, applied.stderr).toBe(0);
    expect(await until(() => reported('temperature'), 'temperature in the DeviceStatus')).toBe('21.5');
    await until(async () => (await holding(60)) === 25, 'setpoint 25 in the register');
    const changed = real.kubectl(['apply', '-f', '-'], manifest(port, '37'));
    expect(changed.stdout).toMatch(/device.devices.kubeedge.io\/plc-1 configured/);
    await until(async () => (await holding(60)) === 37, 'setpoint 37 in the register');
    expect(await until(() => reported('setpoint') === '37' && '37', 'setpoint 37 reported')).toBe('37');
    // KubeEdge's cloud sends `desired: {value: ""}` for properties given none: that is no desired value
    expect(edge.count(/is ReadOnly in its model/)).toBe(0);
  });

  it('runs a pod applied with kubectl, and its status reaches the real API', async () => {
    const applied = real.kubectl(
      ['apply', '-f', '-'],
      // no controller-manager runs here to make the namespace's default ServiceAccount
      `apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: default}
---
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: process}
handler: process
---
apiVersion: v1
kind: Pod
metadata: {name: hello, namespace: default}
spec:
  nodeName: pi-1
  runtimeClassName: process
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  containers:
  - {name: app, image: process, command: [/bin/sh, -c, 'echo hello from pi-1; while true; do sleep 1; done']}
`,
    );
    expect(applied.status, applied.stderr).toBe(0);
    const pod = await until(() => {
      const p = JSON.parse(real.kubectl(['get', 'pod', 'hello', '-o', 'json']).stdout || 'null');
      return p?.status?.phase === 'Running' && p;
    }, 'hello Running in the real API');
    expect(pod.status.containerStatuses[0]).toMatchObject({ name: 'app', ready: true, restartCount: 0 });
    expect(real.kubectl(['delete', 'pod', 'hello', '--wait=false']).status).toBe(0);
  });

  it('notices a frozen cloudcore, and keeps the twin flowing after it is SIGKILLed and restarted', async () => {
    await holding(30, 100);
    await until(() => reported('counter') === '100', 'counter 100 reported');
    const connects = edge.count(/connected to wss:/);
    // frozen: its socket stays open and says nothing; the edge's pings go unanswered (heartbeat 15 s)
    process.kill(Number(readFileSync(join(real.dir, 'cloudcore.pid'), 'utf8')), 'SIGSTOP');
    await edge.waitFor(/no answer from the cloud for \d+ ms: link is dead/, 60_000);
    real.restartCloudcore();
    await until(() => edge.count(/connected to wss:/) > connects, 'the edge reconnected', 90_000);
    await holding(30, 4242);
    expect(await until(() => reported('counter') === '4242' && '4242', 'counter 4242 reported after the restart', 60_000)).toBe('4242');
    expect(real.kubectl(['get', 'node', 'pi-1']).stdout).toMatch(/^pi-1\s+Ready\s/m);
  });
});
