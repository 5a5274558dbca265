import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { makeCluster, eventually, readyOf, device, statusTwin, thermometerModel, type Cluster } from './cluster.js';
import type { Proc } from '../peers/proc.js';
import { mqttApp } from '../peers/mqtt.js';

const DEVICES = '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices';

/**
 * The payloads of "upload <store>/<seq> from <node> on <topic>: <payload>" lines of every cloudcore
 * process so far, once per outbox sequence: the cloud logs an upload before it records it, so a
 * cloudcore killed in between logs it again when the edge resends it (the same sequence).
 */
/**
 * Every acknowledged upload is at the cloud. (Counting them would not do: uploads that arrived
 * without their PUBACK, cut off by a kill, are in the count, so it can be reached while the last
 * acknowledged ones are still on their way.)
 */
function allArrived(clouds: Proc[], node: string, acked: readonly number[]): boolean {
  const seen = new Set(uploadsSeen(clouds, node).map((p) => (JSON.parse(p) as { n: number }).n));
  return acked.every((n) => seen.has(n));
}

function uploadsSeen(clouds: Proc[], node: string): string[] {
  const re = new RegExp(`upload (\\S+) from ${node} on \\S+: (.*)$`);
  const bySeq = new Map<string, string>();
  for (const l of clouds.flatMap((p) => p.lines)) {
    const m = re.exec(l);
    if (m && !bySeq.has(m[1] as string)) bySeq.set(m[1] as string, m[2] as string);
  }
  return [...bySeq.values()];
}

describe('the cloud away: uploads wait in the outbox', () => {
  let c: Cluster;
  const clouds: Proc[] = [];
  const startCloud = async () => {
    clouds.push(await c.startCloud({}, { KUBEEDGE_LOG_LEVEL: 'debug' }));
  };
  beforeAll(async () => {
    c = await makeCluster();
    await startCloud();
  });
  afterAll(() => c.stop());

  it('every acknowledged upload arrives once, in order, through a cloud outage and an edge restart', async () => {
    const edge = await c.startEdge('edge-out', { heartbeat: 1 });
    await eventually(async () => readyOf((await c.api.call('GET', '/api/v1/nodes/edge-out')).body) === 'True', 15_000, 'Ready');
    const acked: number[] = [];
    let stop = false;
    let i = 0;
    const publisher = (async () => {
      while (!stop) {
        let client: mqtt.MqttClient | undefined;
        try {
          client = await mqtt.connectAsync(`mqtt://127.0.0.1:${edge.mqttPort}`, { reconnectPeriod: 0, connectTimeout: 2000 });
          const c0 = client;
          // mqtt.js leaves a publish pending forever when the broker dies; give up on it then
          const closed = new Promise<never>((_, reject) => c0.once('close', () => reject(new Error('closed'))));
          closed.catch(() => undefined);
          while (!stop) {
            const n = i++;
            await Promise.race([client.publishAsync('$hw/events/upload/meter-1', JSON.stringify({ n }), { qos: 1 }), closed]);
            acked.push(n); // PUBACK: the edge has it on disk
          }
          await client.endAsync();
        } catch (err) {
          if (process.env.E2E_VERBOSE) console.error("publisher:", err);
          client?.end(true); // the edge is restarting: connect again
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    })();

    await new Promise((r) => setTimeout(r, 500));
    await c.cloud!.kill('SIGKILL'); // the cloud goes away
    await edge.proc.waitFor(/link to the cloud lost/);
    await new Promise((r) => setTimeout(r, 700));
    await edge.restart(); // and the edge is restarted while it is away
    await edge.proc.waitFor(/message\(s\) wait in the outbox for the cloud/);
    await new Promise((r) => setTimeout(r, 700));
    stop = true;
    await publisher;
    await startCloud(); // the cloud comes back

    expect(acked.length).toBeGreaterThan(50);
    // waited for, then asserted below, where a missing one is named
    await eventually(async () => allArrived(clouds, 'edge-out', acked), 20_000, 'every upload at the cloud').catch(() => undefined);
    const seen = uploadsSeen(clouds, 'edge-out').map((p) => (JSON.parse(p) as { n: number }).n);
    // once each, in order (a publish cut off by the edge restart may have arrived without its PUBACK)
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    for (const n of acked) expect(seen).toContain(n);
    await eventually(async () => edge.proc.count(/connected to wss:/) >= 1, 10_000, 'reconnected');
    // the Node shows what this cloudcore took: a count, and the last message per topic
    const uploads = (await c.api.call('GET', '/api/v1/nodes/edge-out')).body.status.uploads;
    expect(uploads.count).toBeGreaterThan(0);
    expect(uploads.topics[0]).toMatchObject({ topic: expect.stringContaining('meter-1'), last: JSON.stringify({ n: seen.at(-1) }) });
  }, 90_000);

  it('through 50 SIGKILLs of edgecore and 10 of cloudcore, every acknowledged upload arrives exactly once, in order', async () => {
    // room for all of them: the link is up only between kills, and a full outbox keeps only the newest per topic (the test above)
    const edge = await c.startEdge('edge-kills', { heartbeat: 1, outboxLimit: 100_000 });
    const acked: number[] = [];
    let stop = false;
    let i = 0;
    const publisher = (async () => {
      while (!stop) {
        let client: mqtt.MqttClient | undefined;
        try {
          // allowRetries false: a connect to an edge that is restarting rejects instead of waiting for ever
          client = await mqtt.connectAsync(`mqtt://127.0.0.1:${edge.mqttPort}`, { reconnectPeriod: 0, connectTimeout: 2000 }, false);
          const c0 = client;
          const closed = new Promise<never>((_, reject) => c0.once('close', () => reject(new Error('closed'))));
          closed.catch(() => undefined);
          // bursts of 20 in flight at once, as a busy app sends: one journal record holds many
          while (!stop) {
            const ns = Array.from({ length: 20 }, () => i++);
            await Promise.race([Promise.all(ns.map((n) => c0.publishAsync('$hw/events/upload/meter-k', JSON.stringify({ n }), { qos: 1 }).then(() => acked.push(n)))), closed]);
            await new Promise((r) => setTimeout(r, 50));
          }
          await client.endAsync();
        } catch {
          client?.end(true); // the edge was killed: connect again
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    })();
    const edgeLines: string[] = [];
    for (let round = 1; round <= 50; round++) {
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 300));
      edgeLines.push(...edge.proc.lines);
      await edge.restart(); // SIGKILL, then start again
      if (round % 5 !== 0) continue;
      await c.cloud!.kill('SIGKILL');
      await startCloud();
    }
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await publisher;
    expect(acked.length).toBeGreaterThan(1000);
    await eventually(async () => allArrived(clouds, 'edge-kills', acked), 60_000, 'every acknowledged upload at the cloud').catch(() => undefined); // named below if not
    const seen = uploadsSeen(clouds, 'edge-kills').map((p) => (JSON.parse(p) as { n: number }).n);
    // each once (a resend carries its first sequence number), and in the order the app sent them;
    // a publish cut off by a kill may have arrived without its PUBACK, so more than acked may be seen
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    const seenSet = new Set(seen);
    const missing = acked.filter((n) => !seenSet.has(n));
    expect(missing).toEqual([]);
    expect(edgeLines.concat(edge.proc.lines).filter((l) => /outbox full/.test(l))).toEqual([]); // none given up to the bound
  }, 600_000);

  it('a desired value reaches the app as a delta, and the app\'s report of it reaches the cloud, while 1,000 acknowledged uploads still wait to go up', async () => {
    // the uplink held to 2 frames a second: 1,000 uploads take seconds to leave
    const edge = await c.startEdge('edge-prio', { heartbeat: 1, modules: { edgeHub: { messageQPS: 2, messageBurst: 1 } } });
    await c.api.call('POST', `${DEVICES}/../devicemodels`, thermometerModel);
    expect((await c.api.call('POST', DEVICES, device('p-1', 'edge-prio', '20'))).status).toBe(201);
    await edge.proc.waitFor(/applied insert default\/device\/p-1/);
    const app = await mqttApp(edge.mqttPort, ['$hw/events/device/default/p-1/twin/update/delta']);
    await Promise.all(Array.from({ length: 1000 }, (_, n) => app.client.publishAsync('$hw/events/upload/bulk', JSON.stringify({ n }), { qos: 1 })));
    const queued = async (): Promise<number> => (await edge.meta('/outbox')).body.queued as number;
    expect(await queued()).toBeGreaterThan(500); // acknowledged to the app: on disk, waiting for the link
    expect((await c.api.call('PUT', `${DEVICES}/p-1`, device('p-1', 'edge-prio', '25'))).status).toBe(200);
    const delta = await app.next('$hw/events/device/default/p-1/twin/update/delta', (b: any) => b.delta?.setpoint === '25');
    const waiting = await queued();
    const atCloud = uploadsSeen(clouds, 'edge-prio').length;
    expect(delta.twin.setpoint.expected.value).toBe('25');
    expect(waiting).toBeGreaterThan(0);
    expect(atCloud).toBeLessThan(1000);
    // the app's report of the value it set goes up in the outbox's urgent lane, ahead of the uploads queued before it
    await app.client.publishAsync('$hw/events/device/default/p-1/twin/update', JSON.stringify({ event_id: 'r', twin: { setpoint: { actual: { value: '25' } } } }), { qos: 1 });
    await eventually(async () => (await statusTwin(c, 'p-1', 'setpoint'))?.reported?.value === '25', 30_000, 'the report in status.twins');
    expect(uploadsSeen(clouds, 'edge-prio').length).toBeLessThan(1000);
    // and they all follow
    await eventually(async () => uploadsSeen(clouds, 'edge-prio').length === 1000, 60_000, 'the uploads at the cloud');
    await app.close();
  }, 120_000);

  it('under a flood the outbox stays within its bound, collapsing a topic to its newest message, and says so', async () => {
    const edge = await c.startEdge('edge-flood', { heartbeat: 1, outboxLimit: 20 });
    await eventually(async () => readyOf((await c.api.call('GET', '/api/v1/nodes/edge-flood')).body) === 'True', 15_000, 'Ready');
    // /readyz on MetaServer names each part: all ok while the cloud is there
    const readyz = async (): Promise<{ status: number; text: string }> => {
      const r = await fetch(`http://127.0.0.1:${edge.metaPort}/readyz`);
      return { status: r.status, text: await r.text() };
    };
    const up = await readyz();
    expect(up.status).toBe(200);
    expect(up.text).toMatch(/^\[\+\]store ok \(.*\)\n\[\+\]link ok \(connected to 127\.0\.0\.1:\d+\)\n\[\+\]broker ok \(MQTT on port \d+\)\nreadyz check passed\n$/);
    await c.cloud!.kill('SIGKILL');
    await edge.proc.waitFor(/link to the cloud lost/);
    const down = await readyz();
    expect(down.status).toBe(503);
    expect(down.text).toMatch(/^\[-\]link failed: not connected to the cloud at 127\.0\.0\.1:\d+$/m);
    expect(down.text).toMatch(/readyz check failed\n$/);
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${edge.mqttPort}`, { reconnectPeriod: 0 });
    // 20 distinct meters fill it; then 100 more readings of meter-0..4 collapse onto their newest
    for (let m = 0; m < 20; m++) await client.publishAsync(`$hw/events/upload/meter-${m}`, `first-${m}`, { qos: 1 });
    for (let k = 0; k < 100; k++) await client.publishAsync(`$hw/events/upload/meter-${k % 5}`, `reading-${k}`, { qos: 1 });
    // and 3 new meters: no same-topic message to replace, so the oldest goes
    for (let m = 20; m < 23; m++) await client.publishAsync(`$hw/events/upload/meter-${m}`, `first-${m}`, { qos: 1 });
    await client.endAsync();
    await edge.proc.waitFor(/outbox full \(20\): kept only the newest message for \$hw\/events\/upload\/meter-0/);
    await edge.proc.waitFor(/outbox full \(20\): dropped the oldest message .*; 3 dropped so far/);
    await startCloud();
    await eventually(async () => uploadsSeen(clouds, 'edge-flood').length === 20, 20_000, 'the outbox drained');
    const seen = uploadsSeen(clouds, 'edge-flood');
    expect(seen).toContain('reading-95'); // the newest of meter-0
    expect(seen).not.toContain('reading-90');
    expect(seen).toContain('first-22');
  }, 60_000);
});
