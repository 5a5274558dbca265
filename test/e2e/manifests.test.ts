import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCluster, device, thermometerModel, type Cluster } from './cluster.js';

const API = '/apis/devices.kubeedge.io/v1beta1/namespaces/default';

describe('Device and DeviceModel manifests are checked as the CRDs describe them', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await makeCluster();
    await c.startCloud();
    expect((await c.api.call('POST', `${API}/devicemodels`, thermometerModel)).status).toBe(201);
  });
  afterAll(() => c.stop());

  const refused = async (path: string, body: unknown, fields: string[]): Promise<void> => {
    const before = (await c.api.call('GET', path)).body.items.length;
    const r = await c.api.call('POST', path, body);
    expect(r.status).toBe(422);
    expect(r.body).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'Invalid', code: 422 });
    expect(r.body.details.causes.map((x: any) => x.field).sort()).toEqual([...fields].sort());
    expect((await c.api.call('GET', path)).body.items.length).toBe(before); // nothing changed
  };

  it('refuses missing fields, wrong types and unknown enums, naming each field', async () => {
    await refused(`${API}/devicemodels`, { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'DeviceModel', metadata: { name: 'm1' }, spec: { properties: [{ name: 'temp', type: 'NUMBER' }, { name: 'temp', type: 'INT', accessMode: 'ReadOnly' }] } }, [
      'spec.properties[0].type',
      'spec.properties[0].accessMode',
      'spec.properties[1].name',
    ]);
    await refused(`${API}/devicemodels`, { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'DeviceModel', metadata: { name: 'm2' } }, ['spec']);
    const bad = device('bad-1', 'edge-1') as any;
    bad.spec.protocol = { protocolName: 7, configData: {} };
    bad.spec.properties = [{ name: 'setpoint', desired: { value: 21 } }, { name: 'humidity' }];
    await refused(`${API}/devices`, bad, ['spec.protocol.protocolName', 'spec.properties[0].desired.value', 'spec.properties[1].name']);
    const modbus = device('bad-2', 'edge-1') as any;
    modbus.spec.protocol.configData = { ip: '10.0.0.7', port: 70000, slaveID: 1 };
    modbus.spec.properties = [{ name: 'setpoint', visitors: { protocolName: 'modbus', configData: { register: 'HoldingRegisters', offset: -1, dataType: 'int24' } } }];
    await refused(`${API}/devices`, modbus, ['spec.protocol.configData.port', 'spec.properties[0].visitors.configData.register', 'spec.properties[0].visitors.configData.offset', 'spec.properties[0].visitors.configData.dataType']);
    const noRef = device('bad-3', 'edge-1') as any;
    delete noRef.spec.deviceModelRef;
    await refused(`${API}/devices`, noRef, ['spec.deviceModelRef']);
  });

  it('takes a well-formed device of each protocol', async () => {
    const gpio = device('led-1', 'edge-1') as any;
    gpio.spec.protocol = { protocolName: 'gpio', configData: {} };
    gpio.spec.properties = [{ name: 'setpoint', visitors: { protocolName: 'gpio', configData: { pin: 17, direction: 'out', activeLow: false } } }];
    expect((await c.api.call('POST', `${API}/devices`, gpio)).status).toBe(201);
    const serial = device('meter-1', 'edge-1') as any;
    serial.spec.protocol = { protocolName: 'serial', configData: { serialPort: '/dev/ttyUSB0', baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1 } };
    serial.spec.properties = [{ name: 'setpoint', visitors: { protocolName: 'serial', configData: { command: 'READ\\r\\n', delimiter: '\\n', pattern: 'T=([0-9.]+)', dataType: 'float', scale: 0.1 } } }];
    expect((await c.api.call('POST', `${API}/devices`, serial)).status).toBe(201);
    const rtu = device('plc-1', 'edge-1') as any;
    rtu.spec.protocol = { protocolName: 'modbus', configData: { serialPort: '/dev/ttyS0', baudRate: 19200, dataBits: 8, parity: 'even', stopBits: 1, slaveID: 3 } };
    rtu.spec.properties = [{ name: 'setpoint', collectCycle: 1000, reportCycle: 1000, reportToCloud: true, visitors: { protocolName: 'modbus', configData: { register: 'HoldingRegister', offset: 2, limit: 2, scale: 0.1, isSwap: true, isRegisterSwap: false, dataType: 'float32' } } }];
    expect((await c.api.call('POST', `${API}/devices`, rtu)).status).toBe(201);
    // any protocol, as KubeEdge's CRD: a mapper's, whose configData is the mapper's to judge
    const opcua = device('boiler-1', 'edge-1') as any;
    opcua.spec.protocol = { protocolName: 'opcua', configData: { url: 'opc.tcp://10.0.0.9:4840', securityMode: 'None' } };
    opcua.spec.properties = [{ name: 'setpoint', visitors: { protocolName: 'opcua', configData: { nodeID: 'ns=2;s=Setpoint' } } }];
    expect((await c.api.call('POST', `${API}/devices`, opcua)).status).toBe(201);
  });
});
