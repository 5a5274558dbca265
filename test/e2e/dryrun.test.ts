/**
 * Dry runs change nothing: kubectl's --dry-run=server (apply, create, patch, delete) and kubectl diff
 * against a Device whose setpoint an edge writes into a real Modbus slave (pymodbus). The register,
 * the stored object, its resourceVersion and what the edge holds all stay as they were.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { eventually, makeCluster, type Cluster, type Edge } from './cluster.js';
import { kubectl } from '../peers/kubectl.js';
import { modbusClient, pymodbusSlave } from '../peers/serial.js';
import { freePort } from '../peers/proxy.js';

const API = '/apis/devices.kubeedge.io/v1beta1/namespaces/default';
const NODE = 'edge-dry';

const model = { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'DeviceModel', metadata: { name: 'boiler' }, spec: { properties: [{ name: 'setpoint', type: 'INT', accessMode: 'ReadWrite' }] } };
const boiler = (name: string, port: number, setpoint: string) => ({
  apiVersion: 'devices.kubeedge.io/v1beta1',
  kind: 'Device',
  metadata: { name },
  spec: {
    deviceModelRef: { name: 'boiler' },
    nodeName: NODE,
    protocol: { protocolName: 'modbus', configData: { ip: '127.0.0.1', port, slaveID: 1, timeout: 300 } },
    properties: [{ name: 'setpoint', collectCycle: 200, desired: { value: setpoint }, visitors: { protocolName: 'modbus', configData: { register: 'HoldingRegister', offset: 60, dataType: 'int16' } } }],
  },
});

describe('dry runs through kubectl change nothing', () => {
  let c: Cluster;
  let edge: Edge;
  let port: number;
  let slave: Awaited<ReturnType<typeof pymodbusSlave>>;
  let kubeconfig: string;
  const register = async (): Promise<number> => {
    const m = await modbusClient(port);
    try {
      return (await m.readHoldingRegisters(60, 1)).data[0] as number;
    } finally {
      m.close(() => undefined);
    }
  };
  const file = (name: string, ...objs: unknown[]): string => {
    const f = join(c.dir, name);
    writeFileSync(f, objs.map((o) => stringify(o)).join('---\n'));
    return f;
  };
  const k = (...args: string[]) => kubectl(kubeconfig, args);

  beforeAll(async () => {
    port = await freePort();
    slave = await pymodbusSlave('tcp', port);
    c = await makeCluster();
    await c.startCloud();
    edge = await c.startEdge(NODE);
    kubeconfig = c.kubeconfig();
    const applied = k('apply', '-f', file('boiler-220.yaml', model, boiler('boiler-1', port, '220')));
    expect(applied.status, applied.stderr).toBe(0);
    await eventually(async () => (await register()) === 220, 20_000, 'setpoint 220 in the register');
  }, 60_000);
  afterAll(async () => {
    await slave?.stop();
    await c?.stop();
  });

  it('apply, diff, create, patch and delete with --dry-run=server: the register, the object, its version and the edge are unchanged', async () => {
    const before = (await c.api.call('GET', `${API}/devices/boiler-1`)).body;
    const atEdge = (await edge.meta(`${API}/devices/boiler-1`)).body;
    const changed = file('boiler-270.yaml', boiler('boiler-1', port, '270'));

    const apply = k('apply', '--dry-run=server', '-f', changed);
    expect(apply.status, apply.stderr).toBe(0);
    expect(apply.stdout).toContain('device.devices.kubeedge.io/boiler-1 configured (server dry run)');
    // diff shows the change it would make (exit 1: there are differences), and makes none
    const diff = k('diff', '-f', changed);
    expect(diff.status, diff.stderr).toBe(1);
    expect(diff.stdout).toMatch(/^-\s+value: "220"$/m);
    expect(diff.stdout).toMatch(/^\+\s+value: "270"$/m);

    const create = k('create', '--dry-run=server', '-f', file('boiler-2.yaml', boiler('boiler-2', port, '300')));
    expect(create.status, create.stderr).toBe(0);
    expect(create.stdout).toContain('device.devices.kubeedge.io/boiler-2 created (server dry run)');
    expect((await c.api.call('GET', `${API}/devices/boiler-2`)).status).toBe(404);

    const merge = k('patch', 'device', 'boiler-1', '--type=merge', '--dry-run=server', '-p', JSON.stringify({ metadata: { labels: { dry: 'run' } } }), '-o', 'yaml');
    expect(merge.status, merge.stderr).toBe(0);
    expect(merge.stdout).toContain('dry: run'); // answered as if done
    const json = k('patch', 'device', 'boiler-1', '--type=json', '--dry-run=server', '-p', JSON.stringify([{ op: 'replace', path: '/spec/properties/0/desired/value', value: '280' }]));
    expect(json.status, json.stderr).toBe(0);
    expect(json.stdout).toContain('device.devices.kubeedge.io/boiler-1 patched');

    const del = k('delete', 'device', 'boiler-1', '--dry-run=server');
    expect(del.status, del.stderr).toBe(0);
    expect(del.stdout).toContain('device.devices.kubeedge.io "boiler-1" deleted (server dry run)');
    const delModel = k('delete', '-f', file('model.yaml', model), '--dry-run=server');
    expect(delModel.status, delModel.stderr).toBe(0);

    // a refused dry run is refused as the real write would be, and records nothing
    const bad = k('apply', '--dry-run=server', '-f', file('bad.yaml', { ...boiler('boiler-1', port, 'hot'), spec: { ...boiler('boiler-1', port, 'hot').spec, deviceModelRef: {} } }));
    expect(bad.status).not.toBe(0);
    const events = (await c.api.call('GET', '/api/v1/events')).body.items as { reason: string }[];
    expect(events.filter((e) => e.reason === 'Refused')).toEqual([]);

    // two collect cycles and a sync later: nothing moved anywhere
    await new Promise((r) => setTimeout(r, 1500));
    expect(await register()).toBe(220);
    const after = (await c.api.call('GET', `${API}/devices/boiler-1`)).body;
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(after.spec).toEqual(before.spec);
    expect(after.metadata.labels).toBeUndefined();
    expect((await c.api.call('GET', `${API}/devicemodels/boiler`)).status).toBe(200);
    const edgeAfter = (await edge.meta(`${API}/devices/boiler-1`)).body;
    expect(edgeAfter.metadata.resourceVersion).toBe(atEdge.metadata.resourceVersion);
    expect(edgeAfter.spec).toEqual(atEdge.spec);
  });

  it('refuses a dryRun value other than All, as Kubernetes does', async () => {
    const r = await c.api.call('POST', `${API}/devices?dryRun=Some`, boiler('boiler-3', port, '1'));
    expect(r.status).toBe(400);
    expect(r.body.message).toBe('dryRun: Unsupported value: "Some": supported values: "All"');
    expect((await c.api.call('GET', `${API}/devices/boiler-3`)).status).toBe(404);
  });
});
