/**
 * What an edge holds follows from what exists now: a Device whose spec.nodeName names it, and the
 * DeviceModel of each. Random sequences of applies and deletes of models and devices (a device's
 * model and node change too), sent at once so they interleave with the sync, on two real edges, with
 * cloudcore SIGKILLed after every fifth sequence; after
 * each sequence both edges' MetaServers list exactly what they must hold. A seeded generator: the
 * seed is in the test's name, so a failure is replayed by setting SYNC_SEED.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, makeCluster, type Cluster, type Edge } from './cluster.js';

const API = '/apis/devices.kubeedge.io/v1beta1/namespaces/default';
const NODES = ['sync-a', 'sync-b'] as const;
const MODELS = ['m1', 'm2'];
const DEVICES = ['d1', 'd2', 'd3', 'd4'];
const SEED = Number(process.env.SYNC_SEED ?? Date.now() % 100_000);

/** mulberry32: a small seeded generator */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const model = (name: string) => ({ apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'DeviceModel', metadata: { name }, spec: { properties: [{ name: 'setpoint', type: 'INT', accessMode: 'ReadWrite' }] } });
const dev = (name: string, modelName: string, node: string, desired: string) => ({
  apiVersion: 'devices.kubeedge.io/v1beta1',
  kind: 'Device',
  metadata: { name },
  spec: { deviceModelRef: { name: modelName }, nodeName: node, properties: [{ name: 'setpoint', desired: { value: desired } }] },
});

describe('an edge holds exactly its devices and their models, whatever the order of applies and deletes', () => {
  let c: Cluster;
  const edges = new Map<string, Edge>();
  /** what exists in the cloud, as the test applied it */
  const models = new Set<string>();
  const devices = new Map<string, { model: string; node: string; desired: string }>();

  const apply = async (path: string, name: string, body: unknown): Promise<void> => {
    // a read, then a write at the version read; a 409 (the edge wrote the status meanwhile) is read again, as the API asks
    for (let attempt = 0; ; attempt++) {
      const got = await c.api.call('GET', `${path}/${name}`);
      const r = got.status === 200 ? await c.api.call('PUT', `${path}/${name}`, { ...(body as object), metadata: { name, resourceVersion: got.body.metadata.resourceVersion } }) : await c.api.call('POST', path, body);
      if (r.status === 409 && attempt < 5) continue;
      expect([200, 201], JSON.stringify(r.body)).toContain(r.status);
      return;
    }
  };
  const remove = async (path: string, name: string): Promise<void> => {
    const r = await c.api.call('DELETE', `${path}/${name}`);
    expect([200, 404]).toContain(r.status);
  };
  const ops = {
    applyModel: async (m: string) => {
      await apply(`${API}/devicemodels`, m, model(m));
      models.add(m);
    },
    deleteModel: async (m: string) => {
      await remove(`${API}/devicemodels`, m);
      models.delete(m);
    },
    applyDevice: async (d: string, m: string, node: string, desired: string) => {
      await apply(`${API}/devices`, d, dev(d, m, node, desired));
      devices.set(d, { model: m, node, desired });
    },
    deleteDevice: async (d: string) => {
      await remove(`${API}/devices`, d);
      devices.delete(d);
    },
  };

  /** both edges list exactly what they must hold, with the cloud's spec */
  const settled = async (what: string): Promise<void> => {
    for (const node of NODES) {
      const wantDevices = [...devices].filter(([, d]) => d.node === node).map(([n]) => n).sort();
      const wantModels = [...new Set([...devices.values()].filter((d) => d.node === node && models.has(d.model)).map((d) => d.model))].sort();
      const edge = edges.get(node) as Edge;
      await eventually(async () => {
        const ds = (await edge.meta(`${API}/devices`)).body.items as any[];
        const ms = (await edge.meta(`${API}/devicemodels`)).body.items as any[];
        const haveDevices = ds.map((o) => o.metadata.name).sort();
        const haveModels = ms.map((o) => o.metadata.name).sort();
        const specsAgree = ds.every((o) => {
          const d = devices.get(o.metadata.name);
          return d && o.spec.nodeName === node && o.spec.deviceModelRef.name === d.model && o.spec.properties[0].desired.value === d.desired;
        });
        return JSON.stringify(haveDevices) === JSON.stringify(wantDevices) && JSON.stringify(haveModels) === JSON.stringify(wantModels) && specsAgree;
      }, 20_000, `${node} to hold devices [${wantDevices.join(',')}] and models [${wantModels.join(',')}] after ${what}`);
    }
  };

  beforeAll(async () => {
    c = await makeCluster();
    await c.startCloud();
    for (const n of NODES) edges.set(n, await c.startEdge(n));
  }, 60_000);
  afterAll(() => c?.stop());

  it("the newcomer's sequence: delete the device, apply it again (its model comes back with it)", async () => {
    await ops.applyModel('m1');
    await ops.applyDevice('d1', 'm1', 'sync-a', '20');
    await settled('the first apply');
    await ops.deleteDevice('d1');
    await settled('the delete');
    await ops.applyDevice('d1', 'm1', 'sync-a', '21');
    await settled('the same device applied again');
    // and again, after its node's copy of the model went twice
    await ops.deleteDevice('d1');
    await settled('the second delete');
    await ops.applyDevice('d1', 'm1', 'sync-a', '22');
    await settled('the third apply');
    // moved to the other node and back
    await ops.applyDevice('d1', 'm1', 'sync-b', '23');
    await settled('the move to sync-b');
    await ops.applyDevice('d1', 'm1', 'sync-a', '24');
    await settled('the move back');
  });

  it(`random sequences of applies and deletes, sent without waiting (seed ${SEED})`, async () => {
    const rnd = random(SEED);
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
    for (let round = 0; round < 15; round++) {
      const steps: string[] = [];
      const n = 4 + Math.floor(rnd() * 6);
      const pending: Promise<void>[] = [];
      for (let i = 0; i < n; i++) {
        const r = rnd();
        const m = pick(MODELS);
        const d = pick(DEVICES);
        let step: () => Promise<void>;
        if (r < 0.2) {
          steps.push(`apply model ${m}`);
          step = () => ops.applyModel(m);
        } else if (r < 0.3) {
          steps.push(`delete model ${m}`);
          step = () => ops.deleteModel(m);
        } else if (r < 0.75) {
          const node = pick(NODES);
          const desired = String(Math.floor(rnd() * 100));
          steps.push(`apply device ${d} (${m} on ${node})`);
          step = () => ops.applyDevice(d, m, node, desired);
        } else {
          steps.push(`delete device ${d}`);
          step = () => ops.deleteDevice(d);
        }
        // in order at the API (each write waits for the one before), but without waiting for any edge
        pending.push((pending.at(-1) ?? Promise.resolve()).then(step));
      }
      await Promise.all(pending);
      // now and then cloudcore is killed the moment the writes are answered, and started again
      if (round % 5 === 4) {
        await c.cloud?.kill('SIGKILL');
        await c.startCloud();
        steps.push('cloudcore SIGKILLed and started again');
      }
      await settled(`round ${round}: ${steps.join(', ')}`);
    }
  }, 300_000);
});
