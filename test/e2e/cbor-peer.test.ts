import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCluster, eventually, device, thermometerModel, type Cluster } from './cluster.js';
import { openRawEdge } from '../peers/rawedge.js';
import { cborCodec, decodeFrame, encodeFrame } from '../../runtime/core/codec.js';
import { newMessage } from '../../runtime/core/message.js';

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
  });
  afterAll(() => c.stop());

  it('cbor2 decodes frames captured from cloudcore to the same messages', async () => {
    expect((await c.api.call('POST', `${DEVICES}/../devicemodels`, thermometerModel)).status).toBe(201);
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

  it('cbor2 decodes the edge codec output: single messages and batches, nested and binary-free', () => {
    const msgs = [
      newMessage({ source: 'edgehub', group: 'resource', operation: 'keepalive', resource: 'node' }, 'ping'),
      newMessage({ source: 'twin', group: 'twin', operation: 'update', resource: 'default/device/x' }, { twin: { t: { actual: { value: '21.5' } } }, n: 3.25, big: 2 ** 40, neg: -7, ok: true, none: null }, { parentId: 'p-1', resourceVersion: '12', sync: true }),
    ];
    const one = join(c.dir, 'one.cbor');
    const batch = join(c.dir, 'batch.cbor');
    writeFileSync(one, encodeFrame(cborCodec, [msgs[0]!]));
    writeFileSync(batch, encodeFrame(cborCodec, msgs));
    const [a, b] = decodeWithCbor2([one, batch]);
    expect(a).toEqual(msgs[0]);
    expect(b).toEqual(msgs);
  });
});
