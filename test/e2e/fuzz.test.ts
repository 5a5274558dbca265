/**
 * Short fuzz runs (the long ones are `npm run bench -- fuzz`): mutations of a real session's
 * frames at CloudHub and at EdgeHub, of real MQTT payloads at the twin and upload topics, and of
 * real manifests at the API. Nothing crashes, every input is either taken or refused and counted
 * by the target itself, and the targets still do their work afterwards.
 */
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCluster, eventually, readyOf, type Cluster, type Edge } from './cluster.js';
import { fuzzApi, fuzzCloudHub, fuzzEdgeHub, fuzzMqtt, startRelay, type Relay } from '../fuzz/targets.js';
import { captureSession, apiManifests } from '../fuzz/session.js';

const NODE = 'fuzz-edge';
const DEVICES = '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices';

describe('fuzz (short runs)', () => {
  let c: Cluster;
  let relay: Relay;
  let edge: Edge;

  beforeAll(async () => {
    c = await makeCluster();
    await c.startCloud();
    relay = await startRelay(c, NODE);
    edge = await captureSession(c, relay, NODE);
  }, 90_000);
  afterAll(async () => {
    await relay?.close();
    await c?.stop();
  });

  it('captured a real session both ways', () => {
    // keepalives, the store's sync, a twin report, uploads and acknowledgements up; the device, its model, a desired value and acknowledgements down
    expect(relay.up.length).toBeGreaterThan(5);
    expect(relay.down.length).toBeGreaterThan(3);
    expect(relay.up.every((f) => f.binary)).toBe(true);
  });

  it('CloudHub: 3,000 mutated edge frames, each read and taken or refused and counted; the real edge stays Ready', async () => {
    const r = await fuzzCloudHub(c, relay.up, 3000, 1);
    expect(r.closes).toBe(0);
    // the real edge's keepalives are counted too: at least every frame sent, and the refusals exactly
    expect(r.accepted + r.refused).toBeGreaterThanOrEqual(r.sent);
    expect(r.refused).toBe(r.invalid);
    expect(r.refused).toBeGreaterThan(100);
    expect(r.accepted).toBeGreaterThan(100);
    expect(c.cloud?.child.exitCode).toBeNull();
    expect(readyOf((await c.api.call('GET', `/api/v1/nodes/${NODE}`)).body)).toBe('True');
  }, 120_000);

  it('the resource API: 500 mutated manifests get a 2xx or a 4xx, never a 5xx or a dropped connection', async () => {
    const r = await fuzzApi(c, apiManifests(), 500, 3);
    const bad = Object.keys(r.byStatus).filter((s) => Number(s) < 200 || Number(s) >= 500);
    expect(bad, JSON.stringify(r.byStatus)).toEqual([]);
    expect(r.refused).toBeGreaterThan(100);
    expect((await c.api.call('GET', DEVICES)).status).toBe(200);
  }, 120_000);

  it('EventBus and DeviceTwin: 1,000 mutated MQTT payloads, each taken; refused uploads counted; twins still answer', async () => {
    const r = await fuzzMqtt(edge, NODE, 'fuzz-thermo', 1000, 2);
    expect(r.hangs).toBe(0);
    expect(r.uploadsTaken + r.uploadsRefused).toBe(r.uploads);
    expect(r.refused).toBeGreaterThan(100);
    expect(edge.proc.child.exitCode).toBeNull();
    // a well-formed request afterwards gets its answer
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${edge.mqttPort}`);
    await client.subscribeAsync('$hw/events/device/default/fuzz-thermo/twin/get/result');
    const answer = new Promise<string>((resolve) => client.on('message', (_t, p) => resolve(p.toString())));
    await client.publishAsync('$hw/events/device/default/fuzz-thermo/twin/get', JSON.stringify({ event_id: 'after-fuzz', timestamp: Date.now() }));
    expect(JSON.parse(await answer).event_id).toBe('after-fuzz');
    // refused with a reason (4xx), never failed inside (a 500: "twin request failed", as a twin named "constructor" once did)
    expect(edge.proc.lines.filter((l) => /twin request failed/.test(l))).toEqual([]);
    await client.endAsync();
  }, 120_000);

  it('EdgeHub: 3,000 mutated cloud frames, each read and taken or refused and counted; edgecore stays up and serves', async () => {
    const r = await fuzzEdgeHub(edge, relay, 3000, 4);
    expect(r.closes).toBe(0);
    expect(r.accepted + r.refused).toBe(r.sent);
    expect(r.refused).toBe(r.invalid);
    expect(r.refused).toBeGreaterThan(100);
    // and frames that decoded reached the handlers (which frames MetaManager then refuses depends on the captured session)
    expect(r.accepted).toBeGreaterThan(100);
    expect(edge.proc.child.exitCode).toBeNull();
    await eventually(async () => (await edge.meta(DEVICES)).status === 200, 10_000, 'MetaServer answers');
  }, 120_000);
});
