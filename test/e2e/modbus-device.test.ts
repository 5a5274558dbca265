import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, makeCluster, statusTwin, type Cluster, type Edge } from './cluster.js';
import { mqttApp } from '../peers/mqtt.js';
import { modbusClient, pymodbusSlave, type ModbusClient } from '../peers/serial.js';
import { freePort } from '../peers/proxy.js';

const API = '/apis/devices.kubeedge.io/v1beta1/namespaces/default';

const model = {
  apiVersion: 'devices.kubeedge.io/v1beta1',
  kind: 'DeviceModel',
  metadata: { name: 'plc' },
  spec: {
    properties: [
      { name: 'temperature', type: 'FLOAT', accessMode: 'ReadOnly' },
      { name: 'setpoint', type: 'INT', accessMode: 'ReadWrite' },
      { name: 'counter', type: 'INT', accessMode: 'ReadOnly' },
    ],
  },
};

const plc = (port: number, setpoint: string, counterOffset = 30) => ({
  apiVersion: 'devices.kubeedge.io/v1beta1',
  kind: 'Device',
  metadata: { name: 'plc-1' },
  spec: {
    deviceModelRef: { name: 'plc' },
    nodeName: 'edge-mb',
    protocol: { protocolName: 'modbus', configData: { ip: '127.0.0.1', port, slaveID: 1, timeout: 300 } },
    properties: [
      { name: 'temperature', collectCycle: 200, visitors: { protocolName: 'modbus', configData: { register: 'InputRegister', offset: 0, dataType: 'int16', scale: 0.1 } } },
      { name: 'setpoint', collectCycle: 200, desired: { value: setpoint }, visitors: { protocolName: 'modbus', configData: { register: 'HoldingRegister', offset: 60, dataType: 'int16' } } },
      { name: 'counter', collectCycle: 200, visitors: { protocolName: 'modbus', configData: { register: 'HoldingRegister', offset: counterOffset, dataType: 'uint16' } } },
    ],
  },
});

describe('a Modbus device end to end: cloud manifest → driver → twin → cloud status, and back', () => {
  let c: Cluster;
  let edge: Edge;
  let port: number;
  let slave: Awaited<ReturnType<typeof pymodbusSlave>>;
  const status = async (): Promise<any> => (await c.api.call('GET', `${API}/devices/plc-1`)).body.status ?? {};
  const reported = async (prop: string): Promise<string | undefined> => (await statusTwin(c, 'plc-1', prop))?.reported?.value;
  const client = async <T>(fn: (m: ModbusClient) => Promise<T>): Promise<T> => {
    const m = await modbusClient(port);
    try {
      return await fn(m);
    } finally {
      m.close(() => undefined);
    }
  };
  const register = (addr: number): Promise<number> => client(async (m) => (await m.readHoldingRegisters(addr, 1)).data[0] as number);

  beforeAll(async () => {
    port = await freePort();
    slave = await pymodbusSlave('tcp', port);
    c = await makeCluster();
    await c.startCloud();
    edge = await c.startEdge('edge-mb');
  });
  afterAll(async () => {
    await slave?.stop();
    await c?.stop();
  });

  it('a register value appears in status.twins; a desired value lands in the slave’s register', async () => {
    expect((await c.api.call('POST', `${API}/devicemodels`, model)).status).toBe(201);
    expect((await c.api.call('POST', `${API}/devices`, plc(port, '25'))).status).toBe(201);
    await eventually(async () => (await reported('temperature')) === '21.5', 20_000, 'temperature in status.twins');
    expect(await reported('counter')).toBe('100');
    // the desired value given with the device was written, read back and reported
    await eventually(async () => (await register(60)) === 25, 20_000, 'setpoint 25 in the register');
    await eventually(async () => (await reported('setpoint')) === '25', 20_000, 'setpoint reported');
    expect((await status()).state).toBe('online');
    // a new desired value applied on the cloud
    const cur = (await c.api.call('GET', `${API}/devices/plc-1`)).body;
    cur.spec.properties[1].desired.value = '-7';
    expect((await c.api.call('PUT', `${API}/devices/plc-1`, cur)).status).toBe(200);
    await eventually(async () => (await register(60)) === 0xfff9, 20_000, 'setpoint -7 in the register');
    await eventually(async () => (await reported('setpoint')) === '-7', 20_000, 'setpoint -7 reported');
    const sp = (await status()).twins.find((t: any) => t.propertyName === 'setpoint');
    expect(sp.observedDesired.value).toBe('-7');
  });

  it('takes a changed device without a restart', async () => {
    const cur = (await c.api.call('GET', `${API}/devices/plc-1`)).body;
    cur.spec.properties[2].visitors.configData.offset = 35;
    expect((await c.api.call('PUT', `${API}/devices/plc-1`, cur)).status).toBe(200);
    await eventually(async () => (await reported('counter')) === '105', 20_000, 'the new register read');
  });

  it('keeps reading a healthy device while another cannot be reached; ReadOnly and reportToCloud are honoured', async () => {
    const dead = plc(await freePort(), '1') as any; // nothing listens there
    dead.metadata.name = 'plc-dead';
    expect((await c.api.call('POST', `${API}/devices`, dead)).status).toBe(201);
    await eventually(async () => (await c.api.call('GET', `${API}/devices/plc-dead`)).body.status?.state === 'offline', 20_000, 'plc-dead offline');
    await edge.proc.waitFor(/default\/plc-dead: cannot open: .*ECONNREFUSED.*; retrying in \d+ ms/);
    // the healthy one still follows its registers at its own pace
    await client((m) => m.writeRegister(35, 4242));
    await eventually(async () => (await reported('counter')) === '4242', 5000, 'a changed register reported while plc-dead retries');
    // a desired value for a ReadOnly property is not written; a property with reportToCloud: false stays at the edge
    const cur = (await c.api.call('GET', `${API}/devices/plc-1`)).body;
    cur.spec.properties[0].desired = { value: '99' };
    cur.spec.properties[2].reportToCloud = false;
    expect((await c.api.call('PUT', `${API}/devices/plc-1`, cur)).status).toBe(200);
    await edge.proc.waitFor(/default\/plc-1: temperature is ReadOnly in its model; desired value 99 not written/);
    await client((m) => m.writeRegister(35, 4343));
    const app = await mqttApp(edge.mqttPort);
    try {
      await eventually(async () => (await app.request('$hw/events/device/default/plc-1/twin/get')).twin?.counter?.actual?.value === '4343', 10_000, 'counter 4343 at the edge');
    } finally {
      await app.close();
    }
    await eventually(async () => (await reported('counter')) === undefined, 10_000, 'counter no longer reported to the cloud');
    expect(await reported('temperature')).toBe('21.5');
  });

  it('follows the transport: offline when the slave goes away, online when it is back', async () => {
    await slave.stop();
    await eventually(async () => (await status()).state === 'offline', 20_000, 'offline');
    slave = await pymodbusSlave('tcp', port);
    await eventually(async () => (await status()).state === 'online', 40_000, 'online again');
    expect(await reported('temperature')).toBe('21.5');
  });
});
