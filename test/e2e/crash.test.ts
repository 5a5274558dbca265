import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCluster, eventually, readyOf, device, thermometerModel, type Cluster } from './cluster.js';

const DEVICES = '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices';

describe('cloudcore killed with SIGKILL in the middle of a stream', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await makeCluster();
    await c.startCloud();
  });
  afterAll(() => c.stop());

  it('the edge reconnects by itself; every acknowledged object arrives once, at its latest version', async () => {
    const edge = await c.startEdge('edge-crash');
    await eventually(async () => readyOf((await c.api.call('GET', '/api/v1/nodes/edge-crash')).body) === 'True', 15_000, 'Ready');
    expect((await c.api.call('POST', `${DEVICES}/../devicemodels`, thermometerModel)).status).toBe(201);

    // What the API acknowledged (2xx), by device: the resourceVersion it answered.
    const acknowledged = new Map<string, number>();
    let stopWriting = false;
    const writer = (async () => {
      for (let i = 0; !stopWriting; i++) {
        const name = `d-${i % 40}`;
        const body = device(name, 'edge-crash', String(i));
        try {
          let r = await c.api.call('POST', DEVICES, body);
          if (r.status === 409) r = await c.api.call('PUT', `${DEVICES}/${name}`, body);
          if (r.status === 200 || r.status === 201) acknowledged.set(name, Number(r.body.metadata.resourceVersion));
        } catch {
          await new Promise((res) => setTimeout(res, 50)); // cloud is down: retry later
        }
      }
    })();

    for (let round = 1; round <= 3; round++) {
      // kill it while the edge is connected and objects are flowing
      await eventually(async () => edge.proc.count(/connected to wss:/) >= round, 20_000, `edge connected (round ${round})`);
      await new Promise((r) => setTimeout(r, 400));
      await c.cloud?.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 300));
      await c.startCloud();
    }
    await new Promise((r) => setTimeout(r, 500));
    stopWriting = true;
    await writer;
    expect(acknowledged.size).toBe(40);

    // the edge noticed the losses and came back on its own
    await eventually(async () => edge.proc.count(/connected to wss:/) >= 4, 20_000, 'edge reconnected after the last restart');
    await eventually(async () => readyOf((await c.api.call('GET', '/api/v1/nodes/edge-crash')).body) === 'True', 20_000, 'Ready again');

    // every acknowledged device is at the edge at (at least) the acknowledged version, with the
    // cloud's current spec (the version the API shows also moves with status writes, which the
    // edge's copy does not carry, as in KubeEdge)
    const desiredOf = (d: any): string => d.spec.properties[0].desired.value;
    const cloudNow = new Map<string, { rv: number; desired: string }>();
    for (const d of (await c.api.call('GET', DEVICES)).body.items) cloudNow.set(d.metadata.name, { rv: Number(d.metadata.resourceVersion), desired: desiredOf(d) });
    await eventually(async () => {
      const items = (await edge.meta(DEVICES)).body.items as any[];
      // what is behind, said when it times out. Every write sets a new desired value, so holding the
      // cloud's value is holding its latest version; a version number alone cannot tell: the one the
      // API answered a write with may already include a status write (the edge's copy carries none)
      const behind = items.filter((d) => desiredOf(d) !== cloudNow.get(d.metadata.name)?.desired);
      if (items.length !== 40 || behind.length) throw new Error(`${items.length} of 40 at the edge; behind: ${behind.map((d) => `${d.metadata.name} rv=${d.metadata.resourceVersion} desired=${desiredOf(d)} (cloud ${JSON.stringify(cloudNow.get(d.metadata.name))}, acknowledged rv ${acknowledged.get(d.metadata.name)})`).join(', ')}`);
      return true;
    }, 20_000, 'edge holds the latest version of every device');
    for (const [name, rv] of acknowledged) expect(cloudNow.get(name)!.rv).toBeGreaterThanOrEqual(rv);

    // nothing applied twice: each (object, version) appears in at most one "applied" line
    const applied = edge.proc.lines.filter((l) => /applied (insert|update) default\/device\//.test(l)).map((l) => /default\/device\/\S+ rv=\d+/.exec(l)?.[0]);
    expect(applied.length).toBeGreaterThan(40);
    expect(new Set(applied).size).toBe(applied.length);
  });
});
