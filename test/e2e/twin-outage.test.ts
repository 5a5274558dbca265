import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, makeCluster, statusTwin, thermostat, thermostatModel, type Cluster, type Edge } from './cluster.js';
import { mqttApp, type App } from '../peers/mqtt.js';

const API = '/apis/devices.kubeedge.io/v1beta1/namespaces/default';
const ID = 'default/thermo-o';

const twinOf = (c: Cluster, prop: string): Promise<any> => statusTwin(c, 'thermo-o', prop);

describe('twins through outages and SIGKILLs', () => {
  let c: Cluster;
  let edge: Edge;
  const apps: App[] = [];
  const app = async (): Promise<App> => {
    const a = await eventually(() => mqttApp(edge.mqttPort), 10_000, 'the edge broker');
    apps.push(a);
    return a;
  };
  const get = async (a: App): Promise<any> => (await a.request(`$hw/events/device/${ID}/twin/get`)).twin;

  beforeAll(async () => {
    c = await makeCluster();
    await c.startCloud();
    edge = await c.startEdge('edge-to');
    await c.api.call('POST', `${API}/devicemodels`, thermostatModel);
    await c.api.call('POST', `${API}/devices`, thermostat('thermo-o', 'edge-to', '10'));
  });
  afterAll(async () => {
    for (const a of apps) await a.close().catch(() => undefined);
    await c?.stop();
  });

  it('an update made while the cloud is away, across an edge SIGKILL, reaches the cloud after reconnection', async () => {
    const a1 = await app();
    await eventually(async () => (await get(a1).catch(() => undefined))?.setpoint?.expected?.value === '10', 15_000, 'device at the edge');
    await c.cloud?.kill('SIGKILL');
    await a1.publish(`$hw/events/device/${ID}/twin/update`, { event_id: 'off-1', twin: { temperature: { actual: { value: '30.5' } }, setpoint: { actual: { value: '10' } } } });
    await a1.next(`$hw/events/device/${ID}/twin/update/result`, (b) => b.event_id === 'off-1');
    await a1.publish(`$hw/events/device/${ID}/state/update`, { event_id: 'off-2', state: 'online' });
    await a1.next(`$hw/events/device/${ID}/state/update/result`, (b) => b.event_id === 'off-2');
    // answered means on disk: a SIGKILL now loses nothing
    await edge.restart();
    const a2 = await app();
    const t = await get(a2);
    expect(t.temperature.actual.value).toBe('30.5');
    expect(t.setpoint.expected.value).toBe('10');
    await c.startCloud();
    await eventually(async () => (await twinOf(c, 'temperature'))?.reported?.value === '30.5', 20_000, 'the offline update in status.twins');
    const dev = (await c.api.call('GET', `${API}/devices/thermo-o`)).body;
    expect(dev.status.state).toBe('online');
  });

  it('a desired value applied while the edge is away reaches it after reconnection, as a delta', async () => {
    await edge.proc.kill('SIGKILL');
    const cur = (await c.api.call('GET', `${API}/devices/thermo-o`)).body;
    cur.spec.properties[0].desired.value = '15';
    expect((await c.api.call('PUT', `${API}/devices/thermo-o`, cur)).status).toBe(200);
    // the cloud goes too, so that the app is listening before the edge hears of the change
    await c.cloud?.kill('SIGKILL');
    await edge.restart();
    const a3 = await app();
    expect((await get(a3)).setpoint.expected.value).toBe('10');
    await c.startCloud();
    const delta = await a3.next(`$hw/events/device/${ID}/twin/update/delta`, (b) => b.delta?.setpoint === '15', 20_000);
    expect(delta.delta).toEqual({ setpoint: '15' });
    expect((await get(a3)).setpoint.expected.value).toBe('15');
    await eventually(async () => (await twinOf(c, 'setpoint'))?.observedDesired?.value === '15', 20_000, 'observedDesired 15 in the cloud');
    // the value reported before the outages is still there
    expect((await twinOf(c, 'temperature')).reported.value).toBe('30.5');
  });
});
