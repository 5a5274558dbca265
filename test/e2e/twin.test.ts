import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { eventually, makeCluster, statusTwin, thermostat, thermostatModel, type Cluster, type Edge } from './cluster.js';
import { mqttApp, startMosquitto, type App } from '../peers/mqtt.js';
import { ROOT } from '../peers/proc.js';
import { openRawEdge } from '../peers/rawedge.js';
import { cborCodec } from '../../core/codec.js';
import { newMessage } from '../../core/message.js';

const API = '/apis/devices.kubeedge.io/v1beta1/namespaces/default';

const keadmApply = (c: Cluster, objects: unknown[]): string => {
  const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'keadm.js'), 'apply', '-f', '-', '--config-dir', c.dir], {
    input: objects.map((o) => stringify(o)).join('---\n'),
    encoding: 'utf8',
  });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout;
};

const twinOf = statusTwin;

const get = (app: App, id: string): Promise<any> => app.request(`$hw/events/device/${id}/twin/get`);

describe('twins end to end, through the embedded broker (mqtt.js as the app)', () => {
  let c: Cluster;
  let edge: Edge;
  let app: App;
  beforeAll(async () => {
    c = await makeCluster();
    await c.startCloud();
    edge = await c.startEdge('edge-tw');
    app = await mqttApp(edge.mqttPort);
  });
  afterAll(async () => {
    await app?.close();
    await c?.stop();
  });

  it('keadm apply → membership at the edge → an actual value reaches status.twins → a new desired value is an update/delta', async () => {
    expect(keadmApply(c, [thermostatModel, thermostat('thermo-1', 'edge-tw', '21')])).toMatch(/devicemodel.devices.kubeedge.io\/thermostat created\ndevice.devices.kubeedge.io\/thermo-1 created/);
    const updated = await app.next('$hw/events/node/edge-tw/membership/updated', (b) => b.added_devices?.some((d: any) => d.id === 'default/thermo-1'));
    expect(updated.removed_devices).toEqual([]);
    const members = await app.request('$hw/events/node/edge-tw/membership/get');
    expect(members.devices.map((d: any) => d.id)).toEqual(['default/thermo-1']);

    // the desired value applied with the device is expected at the edge, and differs from actual
    const delta0 = await app.next('$hw/events/device/default/thermo-1/twin/update/delta');
    expect(delta0.delta).toEqual({ setpoint: '21' });
    const g = await get(app, 'default/thermo-1');
    expect(g.twin.setpoint).toMatchObject({ expected: { value: '21' }, optional: false, metadata: { type: 'int' } });
    expect(g.twin.temperature).toMatchObject({ metadata: { type: 'float' } });
    expect(g.twin.setpoint.expected_version).toBeUndefined();

    await app.publish('$hw/events/device/default/thermo-1/twin/update', { event_id: 'u1', timestamp: Date.now(), twin: { temperature: { actual: { value: '22.5' } }, setpoint: { actual: { value: '21' } } } });
    const result = await app.next('$hw/events/device/default/thermo-1/twin/update/result', (b) => b.event_id === 'u1');
    expect(Object.keys(result.twin).sort()).toEqual(['setpoint', 'temperature']);
    expect(result.twin.temperature.actual.value).toBe('22.5');
    expect(typeof result.twin.temperature.actual.metadata.timestamp).toBe('number');
    const doc = await app.next('$hw/events/device/default/thermo-1/twin/update/document', (b) => b.event_id === 'u1');
    expect(doc.twin.temperature.last).toBeNull();
    expect(doc.twin.temperature.current.actual.value).toBe('22.5');

    const reported = await eventually(async () => {
      const t = await twinOf(c, 'thermo-1', 'temperature');
      return t?.reported?.value === '22.5' && t;
    }, 15_000, 'temperature in status.twins');
    expect(reported.reported.metadata.timestamp).toMatch(/^\d+$/);
    const sp = await twinOf(c, 'thermo-1', 'setpoint');
    expect(sp).toMatchObject({ reported: { value: '21' }, observedDesired: { value: '21' } });

    // a new desired value on the cloud → a delta for exactly that twin
    const before = app.received.length;
    keadmApply(c, [thermostat('thermo-1', 'edge-tw', '23')]);
    const delta = await eventually(async () => app.received.slice(before).find((m) => m.topic.endsWith('thermo-1/twin/update/delta'))?.body, 15_000, 'delta');
    expect(delta.delta).toEqual({ setpoint: '23' });
    expect(delta.twin.setpoint.expected.value).toBe('23');
    expect(delta.event_id).not.toBe('u1');
    await eventually(async () => (await twinOf(c, 'thermo-1', 'setpoint'))?.observedDesired?.value === '23', 15_000, 'observedDesired 23');

    // device state follows state/update
    await app.publish('$hw/events/device/default/thermo-1/state/update', { event_id: 's1', state: 'Online' });
    const st = await app.next('$hw/events/device/default/thermo-1/state/update/result', (b) => b.event_id === 's1');
    expect(st.device).toMatchObject({ name: 'thermo-1', state: 'online' });
    expect(st.device.lastOnlineTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const dev = await eventually(async () => {
      const r = await c.api.call('GET', `${API}/devices/thermo-1`);
      return r.body.status?.state === 'online' && r.body;
    }, 15_000, 'status.state online');
    expect(dev.status.lastOnlineTime).toBe(st.device.lastOnlineTime);
    // a report does not change the Device's spec or resourceVersion
    expect(dev.spec.properties[0].desired.value).toBe('23');
  });

  it('moves a device to another node: removed from this edge', async () => {
    await c.api.call('POST', `${API}/devices`, thermostat('thermo-move', 'edge-tw', '1'));
    await app.next('$hw/events/node/edge-tw/membership/updated', (b) => b.added_devices?.some((d: any) => d.id === 'default/thermo-move'));
    const cur = (await c.api.call('GET', `${API}/devices/thermo-move`)).body;
    expect((await c.api.call('PUT', `${API}/devices/thermo-move`, { ...cur, spec: { ...cur.spec, nodeName: 'elsewhere' } })).status).toBe(200);
    await app.next('$hw/events/node/edge-tw/membership/updated', (b) => b.removed_devices?.some((d: any) => d.id === 'default/thermo-move'));
    const r = await get(app, 'default/thermo-move');
    expect(r).toMatchObject({ code: 404 });
  });

  it('refuses bad twin payloads with 400 on the result topic, changing nothing', async () => {
    const id = 'default/thermo-1';
    const before = (await get(app, id)).twin;
    const refused = async (payload: unknown, reason: RegExp, topic = 'twin/update'): Promise<void> => {
      const eventId = `bad-${Math.random()}`;
      const body = typeof payload === 'string' ? payload : JSON.stringify({ event_id: eventId, ...(payload as object) });
      const from = app.received.length;
      await app.publish(`$hw/events/device/${id}/${topic}`, body);
      const r = await eventually(async () => app.received.slice(from).find((m) => m.topic === `$hw/events/device/${id}/${topic}/result`)?.body, 10_000, `error for ${body.slice(0, 60)}`);
      expect(r.code).toBe(400);
      expect(r.reason).toMatch(reason);
      if (typeof payload !== 'string') expect(r.event_id).toBe(eventId);
    };
    await refused('not json {', /not valid JSON/);
    await refused('[1,2]', /JSON object/);
    await refused({ twin: { setpoint: { actual: { value: 24 } } } }, /must be a string/);
    await refused({ twin: { setpoint: { actual: { value: 'warm' } } } }, /not of type int/);
    await refused({ twin: { temperature: { actual: { value: '1e999' } } } }, /not of type float/);
    await refused({ twin: { humidity: { actual: { value: '40' } } } }, /not a property/);
    await refused({ twin: { ['k'.repeat(129)]: { actual: { value: '1' } } } }, /key .* not allowed/);
    await refused({ twin: { label: { actual: { value: 'x'.repeat(513) } } } }, /not allowed/);
    await refused({ twin: { label: { actual: { value: 'has spaces' } } } }, /not allowed/);
    // one bad key refuses the whole message
    await refused({ twin: { setpoint: { actual: { value: '25' } }, label: { actual: { value: 'bad value!' } } } }, /label/);
    await refused({ twin: 'x' }, /twin must be an object/);
    await refused({ state: 'sleepy' }, /state must be one of/, 'state/update');
    await refused('x'.repeat(70 * 1024), /over the 65536-byte limit/);
    expect((await get(app, id)).twin).toEqual(before);
    // a get needs no payload at all
    await app.client.publishAsync(`$hw/events/device/${id}/twin/get`, '', { qos: 1 });
    expect((await app.next(`$hw/events/device/${id}/twin/get/result`, (b) => b.event_id === '')).twin).toEqual(before);
    // an unknown device is a 404 on its own result topic
    await app.publish('$hw/events/device/default/nope/twin/update', { event_id: 'n1', twin: {} });
    expect(await app.next('$hw/events/device/default/nope/twin/update/result', (b) => b.event_id === 'n1')).toMatchObject({ code: 404 });
    expect(edge.proc.child.exitCode).toBeNull();
  });

  it('applies twin/cloud_updated syncs by KubeEdge’s version rules', async () => {
    const id = 'default/thermo-1';
    const cur = (await get(app, id)).twin;
    // versions are not shown by twin/get; the document of an update carries them
    const from = app.received.length;
    await app.publish(`$hw/events/device/${id}/twin/update`, { event_id: 'v0', twin: { label: { expected: { value: 'a' } } } });
    const doc = await app.next(`$hw/events/device/${id}/twin/update/document`, (b) => b.event_id === 'v0');
    const v = doc.twin.label.current.expected_version;
    expect(v.edge).toBeGreaterThan(0);
    const sync = (event: string, version: unknown, value: string) =>
      app.publish(`$hw/events/device/${id}/twin/cloud_updated`, { event_id: event, twin: { label: { expected: { value }, ...(version === undefined ? {} : { expected_version: version }) } } });
    await sync('c-none', undefined, 'b'); // no version: refused
    await sync('c-old-edge', { cloud: v.cloud + 1, edge: v.edge - 1 }, 'c'); // an older edge version: refused
    await sync('c-ok', { cloud: v.cloud + 5, edge: v.edge }, 'd'); // newer: taken
    await sync('c-old-cloud', { cloud: v.cloud + 4, edge: v.edge }, 'e'); // older cloud than stored: refused
    const ok = await app.next(`$hw/events/device/${id}/twin/update/document`, (b) => b.event_id === 'c-ok');
    expect(ok.twin.label.current.expected).toMatchObject({ value: 'd' });
    expect(ok.twin.label.current.expected_version).toEqual({ cloud: v.cloud + 5, edge: v.edge });
    await new Promise((r) => setTimeout(r, 300));
    expect((await get(app, id)).twin.label.expected.value).toBe('d');
    const seen = app.received.slice(from).filter((m) => !m.topic.endsWith('/cloud_updated') && ['c-none', 'c-old-edge', 'c-old-cloud'].includes(m.body?.event_id)).map((m) => m.topic);
    expect(seen).toEqual([]); // refused syncs get no result and change nothing
    expect(cur.setpoint).toBeDefined();
  });
});

describe('twins through an external mosquitto (mqttMode 2), with mosquitto_pub and mosquitto_sub', () => {
  let c: Cluster;
  let edge: Edge;
  let broker: Awaited<ReturnType<typeof startMosquitto>>;
  beforeAll(async () => {
    c = await makeCluster();
    broker = await startMosquitto(c.dir);
    await c.startCloud();
    edge = await c.startEdge('edge-mq', { modules: { eventBus: { mqttMode: 2, mqttServerExternal: `tcp://127.0.0.1:${broker.port}` } } });
  });
  afterAll(async () => {
    await broker?.stop();
    await c?.stop();
  });

  /** mosquitto_sub's lines on `topic` until one satisfies `last` */
  const sub = (topic: string, last: (body: any) => boolean): Promise<any[]> =>
    new Promise((resolve, reject) => {
      const p = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(broker.port), '-t', topic, '-W', '30']);
      const got: any[] = [];
      let partial = '';
      p.stdout.on('data', (d: Buffer) => {
        const lines = (partial + d.toString()).split('\n');
        partial = lines.pop() ?? '';
        for (const l of lines) {
          got.push(JSON.parse(l));
          if (last(got.at(-1))) {
            p.kill();
            resolve(got);
          }
        }
      });
      p.on('exit', (code) => reject(new Error(`mosquitto_sub exited ${code} after ${JSON.stringify(got)}`)));
    });
  const pub = (topic: string, body: unknown): void => {
    const r = spawnSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(broker.port), '-q', '1', '-t', topic, '-m', JSON.stringify(body)], { encoding: 'utf8' });
    expect(r.status).toBe(0);
  };

  it('an actual value published with mosquitto_pub reaches status.twins; a desired value reaches mosquitto_sub as a delta', async () => {
    expect((await c.api.call('POST', `${API}/devicemodels`, thermostatModel)).status).toBe(201);
    const deltas = sub('$hw/events/device/default/thermo-2/twin/update/delta', (b) => b.delta.setpoint === '24');
    await new Promise((r) => setTimeout(r, 300)); // mosquitto_sub is subscribed
    expect((await c.api.call('POST', `${API}/devices`, thermostat('thermo-2', 'edge-mq', '18'))).status).toBe(201);
    const result = sub('$hw/events/device/default/thermo-2/twin/update/result', (b) => b.event_id === 'p1');
    await eventually(async () => {
      // the device must be a member at the edge before an update is taken
      pub('$hw/events/device/default/thermo-2/twin/update', { event_id: 'p1', twin: { temperature: { actual: { value: '19.25' } } } });
      return (await twinOf(c, 'thermo-2', 'temperature'))?.reported?.value === '19.25';
    }, 20_000, 'mosquitto_pub value in status.twins');
    expect((await result).at(-1)).toMatchObject({ event_id: 'p1', twin: { temperature: { actual: { value: '19.25' } } } });
    // read, change, write, and read again on a 409: a late twin report (a resent p1) moves the version, as in Kubernetes
    let put = 0;
    for (let i = 0; i < 5 && put !== 200; i++) {
      const cur = (await c.api.call('GET', `${API}/devices/thermo-2`)).body;
      cur.spec.properties[0].desired.value = '24';
      put = (await c.api.call('PUT', `${API}/devices/thermo-2`, cur)).status;
      if (put !== 409) break;
    }
    expect(put).toBe(200);
    const got = await deltas;
    expect(got[0].delta).toEqual({ setpoint: '18' });
    expect(got.at(-1).delta).toEqual({ setpoint: '24' });
    expect(got.at(-1).twin.setpoint.expected.value).toBe('24');
  });

  it('reconnects and subscribes again when the external broker restarts', async () => {
    await broker.stop();
    await edge.proc.waitFor(/lost the external MQTT broker/);
    broker = await startMosquitto(c.dir, broker.port);
    const from = edge.proc.lines.length;
    await edge.proc.waitFor(/connected to the external MQTT broker/, 40_000, from);
    const result = sub('$hw/events/device/default/thermo-2/twin/update/result', (b) => b.event_id === 'after-restart');
    await new Promise((r) => setTimeout(r, 300));
    pub('$hw/events/device/default/thermo-2/twin/update', { event_id: 'after-restart', twin: { temperature: { actual: { value: '20.75' } } } });
    expect((await result).at(-1)).toMatchObject({ twin: { temperature: { actual: { value: '20.75' } } } });
    await eventually(async () => (await twinOf(c, 'thermo-2', 'temperature'))?.reported?.value === '20.75', 20_000, 'the value after the restart in status.twins');
  });
});

describe('both brokers (mqttMode 1): apps on either one are served', () => {
  let c: Cluster;
  let broker: Awaited<ReturnType<typeof startMosquitto>>;
  let edge: Edge;
  const apps: App[] = [];
  beforeAll(async () => {
    c = await makeCluster();
    broker = await startMosquitto(c.dir);
    await c.startCloud();
    edge = await c.startEdge('edge-both', { modules: { eventBus: { mqttMode: 1, mqttServerExternal: `tcp://127.0.0.1:${broker.port}` } } });
  });
  afterAll(async () => {
    for (const a of apps) await a.close();
    await broker?.stop();
    await c?.stop();
  });

  it('answers an update from the external broker, and both brokers carry the delta', async () => {
    const inner = await mqttApp(edge.mqttPort);
    const outer = await mqttApp(broker.port);
    apps.push(inner, outer);
    await edge.proc.waitFor(/connected to the external MQTT broker/);
    await c.api.call('POST', `${API}/devicemodels`, thermostatModel);
    await c.api.call('POST', `${API}/devices`, thermostat('thermo-3', 'edge-both', '30'));
    await inner.next('$hw/events/node/edge-both/membership/updated', (b) => b.added_devices?.some((d: any) => d.id === 'default/thermo-3'));
    await outer.publish('$hw/events/device/default/thermo-3/twin/update', { event_id: 'x1', twin: { setpoint: { actual: { value: '29' } } } });
    expect(await outer.next('$hw/events/device/default/thermo-3/twin/update/result', (b) => b.event_id === 'x1')).toMatchObject({ twin: { setpoint: { actual: { value: '29' } } } });
    for (const a of [inner, outer]) {
      const d = await a.next('$hw/events/device/default/thermo-3/twin/update/delta', (b) => b.twin?.setpoint?.actual?.value === '29');
      expect(d.delta).toEqual({ setpoint: '30' });
    }
  });
});

describe('a node can only report its own devices', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await makeCluster();
    await c.startCloud();
  });
  afterAll(() => c?.stop());

  it('skips (and logs) a report for a device assigned to another node; the owner’s reports are taken', async () => {
    await c.api.call('POST', `${API}/devicemodels`, thermostatModel);
    await c.api.call('POST', `${API}/devices`, thermostat('thermo-own', 'edge-owner', '1'));
    const report = (node: string, value: string, seq: number) =>
      newMessage({ source: 'metamanager', group: 'twin', operation: 'update', resource: 'default/device/thermo-own' }, { twins: [{ propertyName: 'temperature', reported: { value, metadata: { timestamp: Date.now() } } }], state: 'online' }, { resourceVersion: `store-${node}/${seq}` });
    for (const [node, value] of [['edge-intruder', '66.6'], ['edge-owner', '20.5']] as const) {
      const certs = c.pki.edge(node);
      const raw = await openRawEdge({ port: c.hubPort, node, ca: c.pki.ca.cert, cert: certs.cert, key: certs.key });
      raw.keepalive();
      const msg = report(node, value, 1);
      raw.sendRaw(cborCodec.encode(msg) as Buffer);
      // acknowledged either way, so it leaves the sender's outbox
      await eventually(async () => raw.frames.some((f) => (cborCodec.decode(f.data) as any)?.header?.parent_msg_id === msg.header.msg_id), 10_000, `ack to ${node}`);
      raw.ws.close();
    }
    await c.cloud?.waitFor(/edge-intruder: report for device default\/thermo-own, which belongs to edge-owner; skipped/);
    const twins = (await c.api.call('GET', `${API}/devices/thermo-own`)).body.status.twins;
    expect(twins.find((t: any) => t.propertyName === 'temperature').reported.value).toBe('20.5');
  });
});
