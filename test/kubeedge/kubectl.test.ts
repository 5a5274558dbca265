/**
 * kubectl on our cloudcore, as a KubeEdge user drives a cloud: keadm init writes an admin
 * kubeconfig; with it, kubectl (the machine's, v1.32) applies a DeviceModel and a Device from a file,
 * reads them back (-o yaml, with server-side columns), applies a change ("configured", and the same
 * file again "unchanged"), sees the change with get -w, describes, deletes, and shows a joined edge
 * Ready.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from '../peers/proc.js';
import { kubectl } from './real.js';

const keadm = (args: string[]) => spawnSync(process.execPath, [join(ROOT, 'dist', 'keadm.js'), ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, CHECK_EDGECORE_ENVIRONMENT: 'false' } });

describe('kubectl on our cloudcore', () => {
  let dir: string;
  let kubeconfig: string;
  const cloud = (): string[] => ['--config-dir', join(dir, 'cloud', 'etc'), '--data-dir', join(dir, 'cloud', 'var')];
  const edge = (): string[] => ['--config-dir', join(dir, 'edge', 'etc'), '--data-dir', join(dir, 'edge', 'var')];
  const manifest = (desired: string) => `apiVersion: devices.kubeedge.io/v1beta1
kind: DeviceModel
metadata: {name: thermo-model}
spec:
  properties: [{name: temperature, type: INT, accessMode: ReadWrite}]
---
apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata: {name: thermo-1, labels: {site: plant-1}}
spec:
  deviceModelRef: {name: thermo-model}
  nodeName: pi-1
  properties: [{name: temperature, desired: {value: "${desired}"}}]
`;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ke-kubectl-'));
    const init = keadm(['init', '--advertise-address', '127.0.0.1', ...cloud()]);
    expect(init.status, init.stderr).toBe(0);
    kubeconfig = join(dir, 'cloud', 'etc', 'admin.kubeconfig');
    expect(init.stdout).toContain(`kubectl: export KUBECONFIG=${kubeconfig}`);
    const token = keadm(['gettoken', ...cloud()]).stdout.trim();
    // by host name: the cloud's certificate covers localhost (and every name in modules.cloudHub.dnsNames)
    const join_ = keadm(['join', '--cloudcore-ipport=localhost:10000', `--token=${token}`, '--edgenode-name', 'pi-1', ...edge()]);
    expect(join_.status, join_.stderr).toBe(0);
    expect(readFileSync(join(dir, 'edge', 'etc', 'config', 'edgecore.yaml'), 'utf8')).toMatch(/server: localhost:10000/);
  });
  afterAll(() => {
    keadm(['reset', '--force', ...edge()]);
    keadm(['reset', '--force', ...cloud()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('gets nodes: the edge Ready', async () => {
    let out = '';
    for (let i = 0; i < 50 && !/^pi-1\s+Ready/m.test(out); i++) {
      out = kubectl(kubeconfig, ['get', 'nodes']).stdout;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(out).toMatch(/^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION$/m);
    expect(out).toMatch(/^pi-1\s+Ready\s+agent,edge\s+\d+s\s+v\S+-kubeedge-lite$/m);
    expect(kubectl(kubeconfig, ['get', 'nodes', '-o', 'wide']).stdout).toMatch(/^pi-1\s+Ready.*\s(127\.0\.0\.1|\d+\.\d+\.\d+\.\d+)\s/m);
  });

  it('applies, reads, changes, watches, describes and deletes devices', async () => {
    const file = join(dir, 'devices.yaml');
    writeFileSync(file, manifest('25'));
    expect(kubectl(kubeconfig, ['apply', '-f', file]).stdout).toBe('devicemodel.devices.kubeedge.io/thermo-model created\ndevice.devices.kubeedge.io/thermo-1 created\n');
    const got = parse(kubectl(kubeconfig, ['get', 'device', 'thermo-1', '-o', 'yaml']).stdout);
    expect(got.spec.properties[0].desired.value).toBe('25');
    expect(got.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']).toContain('"thermo-1"');
    expect(kubectl(kubeconfig, ['get', 'devices', '-l', 'site=plant-1']).stdout).toMatch(/^thermo-1\s+pi-1\s+thermo-model\s/m);
    expect(kubectl(kubeconfig, ['get', 'devices', '-l', 'site=plant-2']).stderr).toContain('No resources found');
    expect(kubectl(kubeconfig, ['apply', '-f', file]).stdout).toBe('devicemodel.devices.kubeedge.io/thermo-model unchanged\ndevice.devices.kubeedge.io/thermo-1 unchanged\n');

    // get -w sees the change applied from another kubectl
    const watch = spawn('kubectl', ['--kubeconfig', kubeconfig, 'get', 'device', 'thermo-1', '-w', '-o', 'jsonpath={.spec.properties[0].desired.value}{"\\n"}']);
    let seen = '';
    watch.stdout.on('data', (b: Buffer) => (seen += b.toString()));
    for (let i = 0; i < 50 && !seen.includes('25'); i++) await new Promise((r) => setTimeout(r, 100));
    writeFileSync(file, manifest('21'));
    expect(kubectl(kubeconfig, ['apply', '-f', file]).stdout).toBe('devicemodel.devices.kubeedge.io/thermo-model unchanged\ndevice.devices.kubeedge.io/thermo-1 configured\n');
    for (let i = 0; i < 50 && !seen.includes('21'); i++) await new Promise((r) => setTimeout(r, 100));
    watch.kill();
    // (a status the edge writes meanwhile is one more MODIFIED event of the same spec)
    expect([...new Set(seen.trim().split('\n'))]).toEqual(['25', '21']);

    const described = kubectl(kubeconfig, ['describe', 'device', 'thermo-1']).stdout;
    expect(described).toMatch(/^Name:\s+thermo-1$/m);
    expect(described).toMatch(/^Labels:\s+site=plant-1$/m);
    expect(described).toMatch(/Node Name:\s+pi-1/);
    // the edge reports its device: its DeviceStatus, as KubeEdge 1.23 keeps it
    let statusShown = '';
    for (let i = 0; i < 50 && !statusShown.includes('thermo-1'); i++) {
      statusShown = kubectl(kubeconfig, ['get', 'devicestatuses']).stdout;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(statusShown).toMatch(/^thermo-1\s+\S+\s+\d+s$/m);
    expect(kubectl(kubeconfig, ['delete', 'device', 'thermo-1']).stdout).toBe('device.devices.kubeedge.io "thermo-1" deleted\n');
    expect(kubectl(kubeconfig, ['get', 'devices']).stderr).toContain('No resources found in default namespace.');
    expect(readFileSync(kubeconfig, 'utf8')).toContain('certificate-authority-data');
  });
});
