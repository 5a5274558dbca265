/**
 * Device problems where users look: a Device whose model is missing, then one whose Modbus slave
 * does not answer, each say why in the Device's status (a Ready condition with reason and message)
 * and in `keadm get devices`; once the slave answers, it is Ready and the reason goes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, makeCluster, readyOf, type Cluster } from './cluster.js';
import { keadm, apply } from '../peers/pods.js';
import { freePort } from '../peers/proxy.js';
import { pymodbusSlave } from '../peers/serial.js';

const DEVICES = '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices';

describe('device conditions', () => {
  let c: Cluster;
  let port: number;
  let slave: Awaited<ReturnType<typeof pymodbusSlave>> | undefined;
  beforeAll(async () => {
    c = await makeCluster();
    await c.startCloud();
    await c.startEdge('edge-dc');
    await eventually(async () => readyOf((await c.api.call('GET', '/api/v1/nodes/edge-dc')).body) === 'True', 15_000, 'Ready');
    port = await freePort();
  });
  afterAll(async () => {
    await slave?.stop();
    await c.stop();
  });

  const ready = async (name: string): Promise<{ status: string; reason: string; message: string } | undefined> =>
    (await c.api.call('GET', `${DEVICES}/${name}`)).body?.status?.conditions?.find((x: { type: string }) => x.type === 'Ready');
  const row = async (name: string): Promise<string> => (await keadm(c, ['get', 'devices'])).out.split('\n').find((l) => l.startsWith(`${name} `)) ?? '';

  it('says the model is missing, then that the slave does not answer, then Ready', async () => {
    await apply(c, {
      apiVersion: 'devices.kubeedge.io/v1beta1',
      kind: 'Device',
      metadata: { name: 'boiler', namespace: 'default' },
      spec: {
        deviceModelRef: { name: 'boiler-model' },
        nodeName: 'edge-dc',
        protocol: { protocolName: 'modbus', configData: { ip: '127.0.0.1', port, slaveID: 1, timeout: 300 } },
        properties: [{ name: 'pressure', collectCycle: 200, visitors: { protocolName: 'modbus', configData: { register: 'HoldingRegister', offset: 0, dataType: 'uint16' } } }],
      },
    });
    await eventually(async () => (await ready('boiler'))?.reason === 'ModelMissing', 15_000, 'ModelMissing in the status');
    expect(await ready('boiler')).toMatchObject({ status: 'False', message: 'device model default/boiler-model does not exist: apply it' });
    expect(await row('boiler')).toMatch(/^boiler\s+edge-dc\s+boiler-model\s+modbus\s+\S*\s*ModelMissing\s+\d+s$/);

    // the model comes; nothing listens on the slave's port yet
    await apply(c, { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'DeviceModel', metadata: { name: 'boiler-model', namespace: 'default' }, spec: { properties: [{ name: 'pressure', type: 'INT', accessMode: 'ReadOnly' }] } });
    await eventually(async () => (await ready('boiler'))?.reason === 'DeviceUnreachable', 20_000, 'DeviceUnreachable in the status');
    expect((await ready('boiler'))?.message).toMatch(/^cannot open: .*ECONNREFUSED|^cannot open: .*refused/i);
    expect(await row('boiler')).toMatch(/\soffline\s+DeviceUnreachable\s/);

    // the slave answers: Ready, and the reason is gone
    slave = await pymodbusSlave('tcp', port);
    await eventually(async () => (await ready('boiler'))?.status === 'True', 60_000, 'Ready once the slave answers');
    expect(await ready('boiler')).toMatchObject({ reason: 'Reading', message: '1 property read' });
    expect(await row('boiler')).toMatch(/^boiler\s+edge-dc\s+boiler-model\s+modbus\s+online\s+\d+s$/);
  });
});
