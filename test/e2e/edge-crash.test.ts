import { readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCluster, eventually, readyOf, device, thermometerModel, type Cluster } from './cluster.js';

const DEVICES = '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices';

describe('edgecore killed with SIGKILL, and its database damaged', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await makeCluster();
    await c.startCloud();
    expect((await c.api.call('POST', `${DEVICES}/../devicemodels`, thermometerModel)).status).toBe(201);
  });
  afterAll(() => c.stop());

  it('killed 50 times during a stream of updates: the database always opens and ends with every object at its latest version, none applied twice', async () => {
    const edge = await c.startEdge('edge-kill', { heartbeat: 1 });
    let stop = false;
    let writes = 0;
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        const name = `k-${i % 30}`;
        const body = device(name, 'edge-kill', String(i));
        let r = await c.api.call('POST', DEVICES, body);
        if (r.status === 409) r = await c.api.call('PUT', `${DEVICES}/${name}`, body);
        if (r.status < 300) writes++;
      }
    })();
    const lines: string[] = [];
    // kills that found changes only the changes file held (the store is saved whole rarely): the restart replays them
    let unsaved = 0;
    const changes = join(c.dir, 'edge-kill', 'edgecore.db.changes');
    for (let round = 0; round < 50; round++) {
      // at a random moment: during start-up, while syncing, or once settled
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 250));
      lines.push(...edge.proc.lines);
      let held = '';
      try {
        held = readFileSync(changes, 'utf8');
      } catch {
        /* not made yet */
      }
      if (held.split('\n').filter(Boolean).length > 1) unsaved++;
      await edge.restart();
    }
    expect(unsaved).toBeGreaterThan(10);
    stop = true;
    await writer;
    expect(writes).toBeGreaterThan(100);

    const want = new Map<string, number>();
    for (const d of (await c.api.call('GET', DEVICES)).body.items) if (d.spec.nodeName === 'edge-kill') want.set(d.metadata.name, Number(d.metadata.resourceVersion));
    let held: string[] = [];
    await eventually(async () => {
      const items = (await edge.meta(DEVICES)).body.items as any[];
      held = items.filter((d) => want.get(d.metadata.name) !== Number(d.metadata.resourceVersion)).map((d) => `${d.metadata.name}@${d.metadata.resourceVersion}≠${want.get(d.metadata.name)}`);
      return items.length === want.size && held.length === 0;
    }, 20_000, 'every device at its latest version').catch((err: Error) => {
      throw new Error(`${err.message}; the edge holds ${held.join(', ')}; its last lines:\n${edge.proc.lines.slice(-8).join('\n')}`);
    });
    lines.push(...edge.proc.lines);
    // the file always opened: nothing was ever moved aside
    expect(lines.filter((l) => /cannot be opened/.test(l))).toEqual([]);
    expect(readdirSync(join(c.dir, 'edge-kill')).filter((f) => f.includes('corrupt'))).toEqual([]);
    const applied = lines.map((l) => /applied (?:insert|update) (default\/device\/\S+ rv=\d+)/.exec(l)?.[1]).filter(Boolean);
    expect(applied.length).toBeGreaterThan(30);
    expect(new Set(applied).size).toBe(applied.length);
  }, 180_000);

  it('a truncated or garbage database file: a clear log line, a fresh start and a full resync', async () => {
    const edge = await c.startEdge('edge-bad-db', { heartbeat: 1 });
    for (let i = 0; i < 5; i++) expect((await c.api.call('POST', DEVICES, device(`b-${i}`, 'edge-bad-db'))).status).toBe(201);
    await eventually(async () => (await edge.meta(DEVICES)).body.items.length === 5, 10_000, 'synced');
    const dbFile = join(c.dir, 'edge-bad-db', 'edgecore.db');

    const fresh = /edge-bad-db: the edge's store is new/;
    for (const damage of [(f: string) => truncateSync(f, 100), (f: string) => writeFileSync(f, 'garbage '.repeat(500))]) {
      await new Promise((r) => setTimeout(r, 1000)); // every acknowledgement has reached the cloud
      const before = c.cloud!.count(fresh);
      await edge.proc.kill('SIGKILL');
      damage(dbFile);
      await edge.restart();
      await edge.proc.waitFor(/database .*edgecore\.db cannot be opened .*; moved it to .*\.corrupt-\d+ and starting empty/);
      // the cloud learns the store is new and sends everything again
      await eventually(async () => c.cloud!.count(fresh) > before, 15_000, 'the cloud noticed the new store');
      await eventually(async () => (await edge.meta(DEVICES)).body.items.length === 5, 15_000, 'resynced after a fresh start');
    }
    expect(readyOf((await c.api.call('GET', '/api/v1/nodes/edge-bad-db')).body)).toBe('True');
  }, 60_000);
});
