import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCluster, eventually, readyOf, device, thermometerModel, type Cluster } from './cluster.js';

describe('edge and cloud as processes over mutual TLS', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await makeCluster();
    await c.startCloud();
  });
  afterAll(() => c.stop());

  it('an edge reaches Ready and receives the devices assigned to it', async () => {
    const edge = await c.startEdge('edge-1');
    const node = await eventually(async () => {
      const r = await c.api.call('GET', '/api/v1/nodes/edge-1');
      return r.status === 200 && readyOf(r.body) === 'True' ? r.body : undefined;
    }, 15_000, 'edge-1 Ready');
    const hb = node.status.conditions[0].lastHeartbeatTime;
    expect(Date.parse(hb)).toBeGreaterThan(Date.now() - 10_000);

    expect((await c.api.call('POST', '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devicemodels', thermometerModel)).status).toBe(201);
    expect((await c.api.call('POST', '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices', device('thermo-1', 'edge-1'))).status).toBe(201);
    expect((await c.api.call('POST', '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices', device('other-1', 'edge-9'))).status).toBe(201);

    const list = await eventually(async () => {
      const r = await edge.meta('/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices');
      return r.body?.items?.length === 1 ? r.body : undefined;
    }, 10_000, 'device at the edge');
    expect(list.items[0].metadata.name).toBe('thermo-1');
    const model = await edge.meta('/apis/devices.kubeedge.io/v1beta1/namespaces/default/devicemodels/thermometer');
    expect(model.status).toBe(200);

    // moving the device away deletes it at this edge
    const moved = device('thermo-1', 'edge-2');
    expect((await c.api.call('PUT', '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices/thermo-1', moved)).status).toBe(200);
    await eventually(async () => (await edge.meta('/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices/thermo-1')).status === 404, 10_000, 'device removed');

    // the node list is a Kubernetes NodeList
    const nodes = await c.api.call('GET', '/api/v1/nodes');
    expect(nodes.body.kind).toBe('NodeList');
    expect(nodes.body.items.map((n: any) => n.metadata.name)).toContain('edge-1');

    // stopping the edge marks the node NotReady within the keepalive interval
    await edge.proc.kill('SIGKILL');
    await eventually(async () => readyOf((await c.api.call('GET', '/api/v1/nodes/edge-1')).body) === 'False', 6_000, 'NotReady');
  });

  it('refuses API calls without the admin token, with a Kubernetes Status', async () => {
    const r = await c.api.call('GET', '/api/v1/nodes', undefined, 'wrong');
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'Unauthorized', code: 401 });
    const missing = await c.api.call('GET', '/api/v1/nodes/nope');
    expect(missing.status).toBe(404);
    expect(missing.body.reason).toBe('NotFound');
  });
});
