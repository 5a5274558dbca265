import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { eventually, makeCluster, thermostat, thermostatModel, type Cluster, type Edge } from './cluster.js';
import { mqttApp, type App } from '../peers/mqtt.js';

describe('a standalone edge (edgeHub disabled): devices from a manifest folder', () => {
  let c: Cluster;
  let edge: Edge;
  let app: App;
  let dir: string;
  const write = (file: string, ...objects: unknown[]): void => writeFileSync(join(dir, file), objects.map((o) => stringify(o)).join('---\n'));
  const members = async (): Promise<string[]> => (await app.request('$hw/events/node/edge-sa/membership/get')).devices.map((d: any) => d.id);

  beforeAll(async () => {
    c = await makeCluster();
    dir = join(c.dir, 'devices');
    mkdirSync(dir);
    write('model.yaml', thermostatModel);
    write('thermo-a.yaml', thermostat('thermo-a', 'edge-sa', '20'));
    edge = await c.startEdge('edge-sa', { modules: { edgeHub: { enable: false }, deviceTwin: { manifestDir: dir } } });
    app = await mqttApp(edge.mqttPort);
  });
  afterAll(async () => {
    await app?.close();
    await c?.stop();
  });

  it('runs the twins of the folder’s devices with no cloud at all', async () => {
    expect(await members()).toEqual(['default/thermo-a']);
    await app.publish('$hw/events/device/default/thermo-a/twin/update', { event_id: 'a1', twin: { temperature: { actual: { value: '19.5' } } } });
    expect(await app.next('$hw/events/device/default/thermo-a/twin/update/result', (b) => b.event_id === 'a1')).toMatchObject({ twin: { temperature: { actual: { value: '19.5' } } } });
    expect(edge.proc.lines.some((l) => /outbox/.test(l) && /wait/.test(l))).toBe(false);
  });

  it('picks up a file added, changed or removed without a restart', async () => {
    write('thermo-b.yaml', thermostat('thermo-b', 'edge-sa', '5'));
    await app.next('$hw/events/node/edge-sa/membership/updated', (b) => b.added_devices?.some((d: any) => d.id === 'default/thermo-b'));
    write('thermo-a.yaml', thermostat('thermo-a', 'edge-sa', '22'));
    const delta = await app.next('$hw/events/device/default/thermo-a/twin/update/delta', (b) => b.delta?.setpoint === '22');
    expect(delta.delta).toEqual({ setpoint: '22' });
    rmSync(join(dir, 'thermo-b.yaml'));
    await app.next('$hw/events/node/edge-sa/membership/updated', (b) => b.removed_devices?.some((d: any) => d.id === 'default/thermo-b'));
    expect(await members()).toEqual(['default/thermo-a']);
  });

  it('reports a bad file by name and keeps the others working', async () => {
    writeFileSync(join(dir, 'broken.yaml'), 'kind: Device\nmetadata: {name: [oops\n');
    const bad = thermostat('thermo-c', 'edge-sa', '1') as any;
    bad.spec.protocol = { protocolName: ['zigbee'] };
    write('bad-protocol.yaml', bad);
    await edge.proc.waitFor(/broken\.yaml: document 1 is not valid YAML/);
    await edge.proc.waitFor(/bad-protocol\.yaml: document 1: Device "thermo-c" is invalid: spec\.protocol\.protocolName/);
    // a good file written after the bad ones is still taken
    write('thermo-d.yaml', thermostat('thermo-d', 'edge-sa', '7'));
    await eventually(async () => (await members()).includes('default/thermo-d'), 10_000, 'thermo-d');
    expect(await members()).toEqual(['default/thermo-a', 'default/thermo-d']);
    // a file made bad keeps what it said before
    writeFileSync(join(dir, 'thermo-d.yaml'), 'apiVersion: devices.kubeedge.io/v1beta1\nkind: Device\nmetadata: {name: thermo-d}\nspec: {}\n');
    await edge.proc.waitFor(/thermo-d\.yaml: document 1: Device "thermo-d" is invalid: spec\.deviceModelRef: is required \(keeping what it said before\)/);
    expect(await members()).toEqual(['default/thermo-a', 'default/thermo-d']);
    expect(edge.proc.child.exitCode).toBeNull();
  });

  it('keeps the twins through a SIGKILL', async () => {
    await edge.restart();
    await app.close();
    app = await eventually(() => mqttApp(edge.mqttPort), 10_000, 'broker');
    const t = (await app.request('$hw/events/device/default/thermo-a/twin/get')).twin;
    expect(t.temperature.actual.value).toBe('19.5');
    expect(t.setpoint.expected.value).toBe('22');
  });
});
