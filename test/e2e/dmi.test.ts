/**
 * KubeEdge's DMI with a mapper written from api.proto in another language (Python, Debian's
 * grpcio): it registers with our edgecore and gets the devices of its protocol; its twin reports
 * reach status.twins; desired values reach it as UpdateDevice and deletions as RemoveDevice; it
 * gets everything again after it restarts, and after the cloud is SIGKILLed and edgecore restarted.
 */
import { join } from 'node:path';
import { statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, makeCluster, readyOf, statusTwin, type Cluster, type Edge } from './cluster.js';
import { pyMapper, type PyMapper } from '../peers/dmi.js';
import { GrpcError, Status, UnixClient } from '../../core/grpc.js';
import { encode } from '../../core/protobuf.js';
import { Manager } from '../../api/dmi/messages.js';

const API = '/apis/devices.kubeedge.io/v1beta1/namespaces/default';

const model = {
  apiVersion: 'devices.kubeedge.io/v1beta1',
  kind: 'DeviceModel',
  metadata: { name: 'boiler-model', namespace: 'default' },
  spec: {
    protocol: 'virtualplc',
    properties: [
      { name: 'temperature', type: 'FLOAT', accessMode: 'ReadOnly', unit: 'C' },
      { name: 'setpoint', type: 'INT', accessMode: 'ReadWrite' },
    ],
  },
};

const device = (name: string, protocolName: string): Record<string, any> => ({
  apiVersion: 'devices.kubeedge.io/v1beta1',
  kind: 'Device',
  metadata: { name, namespace: 'default' },
  spec: {
    deviceModelRef: { name: 'boiler-model' },
    nodeName: 'edge-dmi',
    protocol: { protocolName, configData: { endpoint: 'plc.local:4840', unitID: 3, secure: false } },
    properties: [
      { name: 'temperature', collectCycle: 1000, reportCycle: 2000, visitors: { protocolName, configData: { nodeID: 'ns=2;s=Temperature' } } },
      { name: 'setpoint', desired: { value: '20' }, visitors: { protocolName, configData: { nodeID: 'ns=2;s=Setpoint' } } },
    ],
  },
});

describe('DMI: a Python grpcio mapper with our edgecore', () => {
  let c: Cluster;
  let edge: Edge;
  let mapper: PyMapper;
  let edgeSock: string;
  let mapperSock: string;
  const ready = async (name: string): Promise<{ status: string; reason: string; message: string } | undefined> =>
    (await c.api.call('GET', `${API}/devices/${name}`)).body?.status?.conditions?.find((x: { type: string }) => x.type === 'Ready');

  beforeAll(async () => {
    c = await makeCluster();
    await c.startCloud();
    edgeSock = join(c.dir, 'edge-dmi', 'dmi.sock');
    mapperSock = join(c.dir, 'virtualplc.sock');
    edge = await c.startEdge('edge-dmi');
    await eventually(async () => readyOf((await c.api.call('GET', '/api/v1/nodes/edge-dmi')).body) === 'True', 15_000, 'Ready');
    expect((await c.api.call('POST', `${API}/devicemodels`, model)).status).toBe(201);
    expect((await c.api.call('POST', `${API}/devices`, device('boiler', 'virtualplc'))).status).toBe(201);
    expect((await c.api.call('POST', `${API}/devices`, device('lamp', 'zigbee'))).status).toBe(201);
  });
  afterAll(async () => {
    await mapper?.kill();
    await c?.stop();
  });

  it('serves DeviceManagerService on an owner-only socket; a protocol with neither driver nor mapper says MapperMissing', async () => {
    expect(statSync(edgeSock).mode & 0o777).toBe(0o600);
    await eventually(async () => (await ready('boiler'))?.reason === 'MapperMissing', 20_000, 'boiler: MapperMissing');
    expect(await ready('lamp')).toMatchObject({ status: 'False', reason: 'MapperMissing', message: 'no driver in edgecore and no mapper registered for protocol "zigbee"' });
  });

  it('registers and gets the devices and models of its protocol, and only those', async () => {
    mapper = pyMapper(edgeSock, mapperSock, 'virtualplc');
    const reg = await mapper.next((e) => e.call === 'registered');
    expect(reg.devices.map((d: any) => `${d.namespace}/${d.name}`)).toEqual(['default/boiler']);
    expect(reg.models.map((m: any) => m.name)).toEqual(['boiler-model']);
    const boiler = reg.devices[0];
    expect(boiler.spec.deviceModelReference).toBe('boiler-model');
    expect(boiler.spec.protocol.protocolName).toBe('virtualplc');
    // configData as KubeEdge wraps it: each value a google.protobuf.Any
    expect(boiler.spec.protocol.configData.data.endpoint).toEqual({ '@type': 'type.googleapis.com/google.protobuf.StringValue', value: 'plc.local:4840' });
    expect(boiler.spec.protocol.configData.data.unitID).toEqual({ '@type': 'type.googleapis.com/google.protobuf.FloatValue', value: 3 });
    expect(boiler.spec.properties.find((p: any) => p.name === 'setpoint').desired.value).toBe('20');
    expect(boiler.spec.properties.find((p: any) => p.name === 'temperature')).toMatchObject({ collectCycle: '1000', reportCycle: '2000', reportToCloud: true });
    expect(reg.models[0].spec.properties.map((p: any) => [p.name, p.type, p.accessMode])).toEqual([
      ['temperature', 'FLOAT', 'ReadOnly'],
      ['setpoint', 'INT', 'ReadWrite'],
    ]);
    await eventually(async () => (await ready('boiler'))?.reason === 'MapperRegistered', 20_000, 'boiler: MapperRegistered');
    expect((await ready('lamp'))?.reason).toBe('MapperMissing');
  });

  it('its twin report reaches status.twins, and its device state status.state', async () => {
    expect(await mapper.command({ report: { device: 'boiler', twins: { temperature: '21.5' } } })).toMatchObject({ ok: true });
    await eventually(async () => (await statusTwin(c, 'boiler', 'temperature'))?.reported?.value === '21.5', 20_000, 'temperature in status.twins');
    expect(await mapper.command({ state: { device: 'boiler', state: 'online' } })).toMatchObject({ ok: true });
    await eventually(async () => (await c.api.call('GET', `${API}/devices/boiler`)).body.status?.state === 'online', 20_000, 'status.state online');
    // a device that is not on this node, and a state that is none, are refused by name
    expect(await mapper.command({ report: { device: 'nosuch', twins: { temperature: '1' } } })).toMatchObject({ ok: false, code: 'NOT_FOUND', error: 'device default/nosuch is not a member of this node' });
    expect(await mapper.command({ state: { device: 'boiler', state: 'sleepy' } })).toMatchObject({ ok: false, code: 'INVALID_ARGUMENT' });
  });

  it('a desired value applied on the cloud reaches it through UpdateDevice', async () => {
    const from = mapper.events.length;
    const cur = (await c.api.call('GET', `${API}/devices/boiler`)).body;
    cur.spec.properties[1].desired.value = '42';
    expect((await c.api.call('PUT', `${API}/devices/boiler`, cur)).status).toBe(200);
    const upd = await mapper.next((e) => e.call === 'UpdateDevice' && e.device.spec.properties.some((p: any) => p.name === 'setpoint' && p.desired?.value === '42'), 20_000, from);
    expect(upd.device.name).toBe('boiler');
  });

  it('after it restarts, it registers again and gets everything; while it is gone its devices say so', async () => {
    await mapper.kill();
    await eventually(async () => (await ready('boiler'))?.reason === 'MapperMissing', 30_000, 'boiler: MapperMissing once the mapper is gone');
    expect((await ready('boiler'))?.message).toMatch(/^mapper virtualplc-mapper of protocol "virtualplc" does not answer/);
    mapper = pyMapper(edgeSock, mapperSock, 'virtualplc');
    const reg = await mapper.next((e) => e.call === 'registered');
    expect(reg.devices.map((d: any) => d.name)).toEqual(['boiler']);
    expect(reg.devices[0].spec.properties.find((p: any) => p.name === 'setpoint').desired.value).toBe('42');
    await eventually(async () => (await ready('boiler'))?.reason === 'MapperRegistered', 20_000, 'boiler: MapperRegistered again');
  });

  it('with the cloud SIGKILLed and edgecore restarted, it still gets its devices', async () => {
    await c.cloud?.kill('SIGKILL');
    const from = mapper.events.length;
    await edge.restart();
    // edgecore remembers the mapper and gives it its devices from the store
    const again = await mapper.next((e) => e.call === 'RegisterDevice', 20_000, from);
    expect(again.device.name).toBe('boiler');
    expect(again.config).toEqual({ endpoint: 'plc.local:4840', unitID: 3, secure: false });
    // and a mapper that registers now, with the cloud still away, gets them too
    await mapper.kill();
    mapper = pyMapper(edgeSock, mapperSock, 'virtualplc');
    const reg = await mapper.next((e) => e.call === 'registered');
    expect(reg.devices.map((d: any) => d.name)).toEqual(['boiler']);
    // its reports wait for the cloud on disk
    expect(await mapper.command({ report: { device: 'boiler', twins: { temperature: '23.25' } } })).toMatchObject({ ok: true });
    await c.startCloud();
    await eventually(async () => (await statusTwin(c, 'boiler', 'temperature'))?.reported?.value === '23.25', 30_000, 'the offline report in status.twins');
  });

  it('bytes that are not a request, and a registration without its socket, are refused by name; nothing changes', async () => {
    const raw = new UnixClient(edgeSock);
    try {
      const err = await raw.call('/v1beta1.DeviceManagerService/ReportDeviceStatus', Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f]), 5_000).catch((e: GrpcError) => e);
      expect(err).toMatchObject({ code: Status.invalidArgument });
      expect((err as GrpcError).message).toMatch(/^not a request message: protobuf: /);
      const [regSchema] = Manager.MapperRegister;
      const noSocket = await raw.call('/v1beta1.DeviceManagerService/MapperRegister', encode(regSchema, { withData: true, mapper: { name: 'x', protocol: 'virtualplc' } }), 5_000).catch((e: GrpcError) => e);
      expect(noSocket).toMatchObject({ code: Status.invalidArgument, message: 'a mapper registers with its protocol and the address of its socket' });
      const unknown = await raw.call('/v1beta1.DeviceManagerService/Nope', Buffer.alloc(0), 5_000).catch((e: GrpcError) => e);
      expect(unknown).toMatchObject({ code: Status.unimplemented });
    } finally {
      raw.close();
    }
    // the registered mapper still gets what changes
    expect(await mapper.command({ report: { device: 'boiler', twins: { temperature: '24' } } })).toMatchObject({ ok: true });
    expect(edge.proc.child.exitCode).toBeNull();
  });

  it('deleting the Device reaches it as RemoveDevice, and its model then as RemoveDeviceModel', async () => {
    const from = mapper.events.length;
    expect((await c.api.call('DELETE', `${API}/devices/boiler`)).status).toBe(200);
    const rm = await mapper.next((e) => e.call === 'RemoveDevice', 20_000, from);
    expect(rm).toMatchObject({ deviceName: 'boiler', deviceNamespace: 'default' });
    expect(await mapper.next((e) => e.call === 'RemoveDeviceModel', 20_000, from)).toMatchObject({ modelName: 'boiler-model', modelNamespace: 'default' });
    expect(edge.proc.child.exitCode).toBeNull();
  });
});
