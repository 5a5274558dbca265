import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCluster, eventually, device, readyOf, statusTwin, thermometerModel, type Cluster } from './cluster.js';
import { openRawEdge } from '../peers/rawedge.js';
import { cborCodec, decodeFrame, encodeFrame } from '../../core/codec.js';
import { ackOf, newMessage } from '../../core/message.js';

const DEVICES = '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices';
const PY = '/usr/bin/python3'; // Debian's python, where python3-cbor2 is installed

function decodeWithCbor2(files: string[]): unknown[] {
  return JSON.parse(execFileSync(PY, [join(import.meta.dirname, '..', 'peers', 'decode_cbor.py'), ...files], { encoding: 'utf8' })) as unknown[];
}

describe('frames are standard CBOR that an independent decoder reads', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await makeCluster();
    await c.startCloud();
    expect((await c.api.call('POST', `${DEVICES}/../devicemodels`, thermometerModel)).status).toBe(201);
  });
  afterAll(() => c.stop());

  it('cbor2 decodes frames captured from cloudcore to the same messages', async () => {
    for (let i = 0; i < 5; i++) expect((await c.api.call('POST', DEVICES, device(`cap-${i}`, 'edge-cap'))).status).toBe(201);
    const certs = c.pki.edge('edge-cap');
    const raw = await openRawEdge({ port: c.hubPort, node: 'edge-cap', ca: c.pki.ca.cert, cert: certs.cert, key: certs.key });
    raw.keepalive();
    await eventually(async () => raw.frames.length > 0, 10_000, 'frames from the cloud');
    raw.ws.close();
    const files = raw.frames.map((f, i) => {
      expect(f.binary).toBe(true);
      const file = join(c.dir, `frame-${i}.cbor`);
      writeFileSync(file, f.data);
      return file;
    });
    const theirs = decodeWithCbor2(files);
    const ours = raw.frames.map((f) => {
      const msgs = decodeFrame(f.data, true);
      return msgs.length === 1 && !Array.isArray(cborCodec.decode(f.data)) ? msgs[0] : msgs;
    });
    expect(theirs).toEqual(JSON.parse(JSON.stringify(ours)));
    const all = theirs.flatMap((x) => (Array.isArray(x) ? x : [x])) as any[];
    expect(all.map((m) => m.route.resource).sort()).toEqual(['default/device/cap-0', 'default/device/cap-1', 'default/device/cap-2', 'default/device/cap-3', 'default/device/cap-4', 'default/devicemodel/thermometer']);
    expect(all[0].header).toMatchObject({ msg_id: expect.any(String), timestamp: expect.any(Number), resourceversion: expect.any(String) });
  });

  it('every message kind round-trips with cbor2 at its defaults, both ways, timestamps and versions as integers', () => {
    const now = Date.now();
    const r = (source: string, group: string, operation: string, resource: string) => ({ source, group, operation, resource });
    const device = { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'Device', metadata: { name: 'x', namespace: 'default', resourceVersion: '12' }, spec: { nodeName: 'e', properties: [{ name: 't', desired: { value: '1' } }] } };
    const msgs = [
      newMessage(r('edgehub', 'resource', 'keepalive', 'node'), 'ping'),
      newMessage(r('metamanager', 'resource', 'sync', 'node'), { storeId: 'abc' }),
      newMessage(r('synccontroller', 'resource', 'insert', 'default/device/x'), device, { resourceVersion: '12' }),
      newMessage(r('synccontroller', 'resource', 'delete', 'default/device/x'), { kind: 'device', metadata: { namespace: 'default', name: 'x' } }, { resourceVersion: '13' }),
      ackOf(newMessage(r('synccontroller', 'resource', 'insert', 'default/device/x'), device), 'metamanager'),
      newMessage(r('twin', 'twin', 'update', 'default/device/x'), { twins: [{ propertyName: 't', reported: { value: '21.5', metadata: { timestamp: now } } }], state: 'online', n: 3.25, big: 2 ** 40, neg: -(2 ** 40), ok: true, none: null }, { resourceVersion: 'store/1' }),
      newMessage(r('eventbus', 'user', 'upload', '$hw/events/upload/x'), '{"t":1}', { resourceVersion: 'store/2' }),
      newMessage(r('edged', 'resource', 'update', 'default/podstatus/p'), { phase: 'Running', containerStatuses: [{ name: 'c', restartCount: 3, state: { running: { startedAt: new Date(now).toISOString() } } }] }, { resourceVersion: 'store/3' }),
      newMessage(r('edged', 'resource', 'update', 'null/nodestatus/e'), { capacity: { cpu: '4', memory: '8000Ki' }, pods: { running: 1, total: 2 } }, { resourceVersion: 'store/4' }),
      newMessage(r('cloudhub', 'edged', 'query', 'default/podlog/p'), { container: 'c', tailLines: 10, follow: true }),
      newMessage(r('cloudhub', 'edged', 'response', 'default/podlog/p'), { data: 'line\n' }, { parentId: 'q-1' }),
      newMessage(r('cloudhub', 'edged', 'cancel', 'default/podlog/p'), { id: 'q-1' }),
      newMessage(r('router', 'servicebus', 'request', 'default/svc'), { method: 'GET', path: '/a', headers: { a: 'b' }, body: 'aGk=' }, { sync: true }),
    ];
    const files = msgs.map((m, i) => join(c.dir, `ours-${i}.cbor`));
    msgs.forEach((m, i) => writeFileSync(files[i] as string, encodeFrame(cborCodec, [m])));
    const batch = join(c.dir, 'ours-batch.cbor');
    writeFileSync(batch, encodeFrame(cborCodec, msgs));
    // ours → cbor2 (which refuses a tag, and an integral number written as a float)
    const theirs = decodeWithCbor2([...files, batch]);
    expect(theirs.slice(0, -1)).toEqual(msgs);
    expect(theirs.at(-1)).toEqual(msgs);
    // cbor2 → ours
    const dir = mkdtempSync(join(c.dir, 'theirs-'));
    execFileSync(PY, [join(import.meta.dirname, '..', 'peers', 'decode_cbor.py'), '--encode', dir], { input: JSON.stringify([...msgs, msgs]) });
    msgs.forEach((m, i) => expect(decodeFrame(readFileSync(join(dir, `${i}.cbor`)), true)).toEqual([m]));
    expect(decodeFrame(readFileSync(join(dir, `${msgs.length}.cbor`)), true)).toEqual(msgs);
    // cbor2 wrote the timestamps as 8-byte integers (major type 0, 0x1b), which we read as numbers
    expect(readFileSync(join(dir, '0.cbor')).includes(Buffer.from([0x1b]))).toBe(true);
  });

  it('a foreign edge written with Python\'s cbor2 at its defaults becomes a Ready Node, and reads the cloud\'s frames with integer timestamps', async () => {
    const node = 'py-edge';
    expect((await c.api.call('POST', DEVICES, device('py-thermo', node))).status).toBe(201);
    const certs = c.pki.edge(node);
    const now = Date.now();
    // what an edge sends up (its twin report and an upload, stamped as its outbox stamps them), with millisecond timestamps inside too
    const send = [
      { route: { source: 'twin', group: 'twin', operation: 'update', resource: 'default/device/py-thermo' }, resourceversion: `py-${node}/1`, content: { twins: [{ propertyName: 'setpoint', reported: { value: '23', metadata: { timestamp: now } } }], state: 'online' } },
      { route: { source: 'eventbus', group: 'user', operation: 'upload', resource: '$hw/events/upload/py' }, resourceversion: `py-${node}/2`, content: 'from python' },
    ];
    const sendFile = join(c.dir, 'py-send.json');
    const outFile = join(c.dir, 'py-frames.jsonl');
    writeFileSync(sendFile, JSON.stringify(send));
    const py = spawn(PY, [join(import.meta.dirname, '..', 'peers', 'cbor2_edge.py'), `wss://127.0.0.1:${c.hubPort}/e632aba927ea4ac2b575ec1603d56f10/${node}/events`, node, c.pki.caFile, certs.certFile, certs.keyFile, sendFile, outFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    py.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      const ready = await eventually(async () => {
        const r = await c.api.call('GET', `/api/v1/nodes/${node}`);
        return readyOf(r.body) === 'True' ? r.body : undefined;
      }, 20_000, `${node} Ready (python said: ${stderr})`);
      expect(ready.metadata.name).toBe(node);
      // its 8-byte integers read as numbers: the report's timestamp reached the Device's status
      const twin = await eventually(async () => {
        const t = await statusTwin(c, 'py-thermo', 'setpoint');
        return t?.reported?.value === '23' ? t : undefined;
      }, 10_000, 'the twin report');
      expect(twin.reported.metadata.timestamp).toBe(String(now));
      await eventually(async () => (await c.api.call('GET', `/api/v1/nodes/${node}`)).body.status.uploads?.count === 1, 10_000, 'the upload counted');
      // the cloud's frames, decoded by cbor2: the device and its model, each header's timestamp an integer
      const frames = await eventually(async () => {
        if (!existsSync(outFile)) return undefined;
        const lines = readFileSync(outFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
        const resources = lines.flatMap((l) => l.messages.map((m: any) => `${m.route.operation} ${m.route.resource}`));
        // and more than those two headers to look at: the acknowledgements of its report and upload may come after them
        const headers = lines.flatMap((l) => l.timestampTypes).length;
        return resources.includes('insert default/device/py-thermo') && resources.includes('insert default/devicemodel/thermometer') && headers > 2 ? lines : undefined;
      }, 10_000, 'the device and its model at the foreign edge, and more frames');
      const types = frames.flatMap((l: any) => l.timestampTypes);
      expect(types.length).toBeGreaterThan(2);
      expect(new Set(types)).toEqual(new Set(['int']));
      // its acknowledgements were taken: nothing is sent to it again (an unacknowledged message is resent after 5 s)
      const inserts = (): number => readFileSync(outFile, 'utf8').trim().split('\n').filter((l) => /"insert"/.test(l)).length;
      await new Promise((r) => setTimeout(r, 2000));
      const before = inserts();
      await new Promise((r) => setTimeout(r, 6000));
      expect(inserts()).toBe(before);
    } finally {
      py.kill('SIGKILL');
    }
  }, 60_000);
});
