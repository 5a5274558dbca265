import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCluster, eventually, device, thermometerModel, type Cluster } from './cluster.js';

const DEVICES = '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices';

describe('offline autonomy', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await makeCluster();
    await c.startCloud();
    expect((await c.api.call('POST', `${DEVICES}/../devicemodels`, thermometerModel)).status).toBe(201);
  });
  afterAll(() => c.stop());

  it('an edge started with no cloud serves what it holds, and reconciles when the cloud is back', async () => {
    for (const n of ['d1', 'd2']) expect((await c.api.call('POST', DEVICES, device(n, 'edge-off', '1'))).status).toBe(201);
    const edge = await c.startEdge('edge-off', { heartbeat: 1 });
    // on disk (MetaServer answers from memory a moment before the write completes)
    await eventually(async () => edge.proc.count(/applied insert default\/device\/d[12] /) === 2, 10_000, 'synced');

    // while the edge is away, the cloud changes d1, deletes d2 and adds d3; then the cloud goes too
    await edge.proc.kill('SIGKILL');
    const d1 = (await c.api.call('PUT', `${DEVICES}/d1`, device('d1', 'edge-off', '2'))).body;
    expect((await c.api.call('DELETE', `${DEVICES}/d2`)).status).toBe(200);
    expect((await c.api.call('POST', DEVICES, device('d3', 'edge-off', '3'))).status).toBe(201);
    await c.cloud!.kill('SIGKILL');

    // the edge starts with no cloud: it runs from its own store and answers local apps
    await edge.restart();
    await edge.proc.waitFor(/cannot reach the cloud at \S+: connect ECONNREFUSED/);
    const offline = (await edge.meta(DEVICES)).body.items as any[];
    expect(offline.map((d) => d.metadata.name).sort()).toEqual(['d1', 'd2']);
    expect(offline.find((d) => d.metadata.name === 'd1').spec.properties[0].desired.value).toBe('1');

    // a local app watches; then the cloud comes back and the edge reconciles
    const events: any[] = [];
    const watch = request(`http://127.0.0.1:${edge.metaPort}${DEVICES}?watch=true`, (res) => {
      let buf = '';
      res.on('data', (b: Buffer) => {
        buf += b.toString();
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        for (const l of lines) if (l) events.push(JSON.parse(l));
      });
    });
    watch.end();
    await new Promise((r) => setTimeout(r, 200));
    await c.startCloud();
    await eventually(async () => {
      const items = (await edge.meta(DEVICES)).body.items as any[];
      return items.map((d) => d.metadata.name).sort().join() === 'd1,d3' && items.find((d) => d.metadata.name === 'd1').metadata.resourceVersion === d1.metadata.resourceVersion;
    }, 20_000, 'reconciled: d1 updated, d2 deleted, d3 added');
    await eventually(async () => events.length >= 3, 5_000, 'watch events');
    expect(events.map((e) => `${e.type} ${e.object.metadata.name}`).sort()).toEqual(['ADDED d3', 'DELETED d2', 'MODIFIED d1']);
    watch.destroy();
  });
});
