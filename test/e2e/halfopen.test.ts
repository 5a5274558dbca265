import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCluster, eventually, readyOf, device, thermometerModel, type Cluster } from './cluster.js';
import { startProxy, type Proxy } from '../peers/proxy.js';

const DEVICES = '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices';

describe('a half-open link (a proxy that silently stops forwarding)', () => {
  let c: Cluster;
  let proxy: Proxy;
  beforeAll(async () => {
    c = await makeCluster({ keepaliveInterval: 2 }); // two heartbeats of 1 s
    await c.startCloud();
    proxy = await startProxy(c.hubPort);
  });
  afterAll(async () => {
    await proxy?.close();
    await c?.stop();
  });

  it('both sides notice within two heartbeats and recover when it forwards again', async () => {
    const edge = await c.startEdge('edge-ho', { server: `127.0.0.1:${proxy.port}`, heartbeat: 1, handshakeTimeout: 1 });
    await eventually(async () => readyOf((await c.api.call('GET', '/api/v1/nodes/edge-ho')).body) === 'True', 15_000, 'Ready');
    const edgeFrom = edge.proc.lines.length;
    const cloudFrom = c.cloud?.lines.length ?? 0;

    proxy.blackhole(true);
    // each side reports how long it heard nothing before giving up. The edge: within two heartbeats
    // (2000 ms); the cloud: keepaliveInterval (2000 ms) plus one 250 ms check, and in both cases a
    // little room for a loaded machine's late timers.
    const edgeLine = await edge.proc.waitFor(/no answer from the cloud for \d+ ms: link is dead/, 10_000, edgeFrom);
    const cloudLine = await c.cloud!.waitFor(/edge-ho: closing session: no traffic for \d+ ms/, 10_000, cloudFrom);
    expect(Number(/for (\d+) ms/.exec(edgeLine)?.[1])).toBeLessThanOrEqual(2000);
    expect(Number(/for (\d+) ms/.exec(cloudLine)?.[1])).toBeLessThanOrEqual(2000 + 250 + 250);
    await eventually(async () => readyOf((await c.api.call('GET', '/api/v1/nodes/edge-ho')).body) === 'False', 5_000, 'NotReady');

    // a change made while the link is down reaches the edge once it forwards again
    expect((await c.api.call('POST', `${DEVICES}/../devicemodels`, thermometerModel)).status).toBe(201);
    expect((await c.api.call('POST', DEVICES, device('during-outage', 'edge-ho'))).status).toBe(201);
    proxy.blackhole(false);
    proxy.cutAll(); // the stale half-open sockets are gone for good
    await eventually(async () => readyOf((await c.api.call('GET', '/api/v1/nodes/edge-ho')).body) === 'True', 20_000, 'Ready again');
    await eventually(async () => (await edge.meta(`${DEVICES}/during-outage`)).status === 200, 10_000, 'device delivered after recovery');
  });
});
