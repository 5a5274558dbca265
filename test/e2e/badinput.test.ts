import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Encoder } from 'cbor-x';
import { makeCluster, eventually, readyOf, device, thermometerModel, type Cluster } from './cluster.js';
import { openRawEdge } from '../peers/rawedge.js';
import { cborCodec } from '../../core/codec.js';
import { newMessage } from '../../core/message.js';

const DEVICES = '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices';

describe('bad input on the link', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await makeCluster({ keepaliveInterval: 4 });
    await c.startCloud();
  });
  afterAll(() => c.stop());

  it('refuses garbage, bad certificates and oversized frames with a logged reason, and keeps serving other nodes', async () => {
    const good = await c.startEdge('edge-good', { heartbeat: 2 });
    await eventually(async () => readyOf((await c.api.call('GET', '/api/v1/nodes/edge-good')).body) === 'True', 15_000, 'good edge Ready');
    const cloud = c.cloud!;
    const bad = c.pki.edge('edge-bad');
    const raw = await openRawEdge({ port: c.hubPort, node: 'edge-bad', ca: c.pki.ca.cert, cert: bad.cert, key: bad.key });
    raw.keepalive();

    // random bytes, truncated CBOR, and a well-formed CBOR map with fields of the wrong type
    const valid = cborCodec.encode(newMessage({ source: 'edgehub', group: 'user', operation: 'upload', resource: 'x' }, 'hi')) as Buffer;
    raw.sendRaw(valid.subarray(0, valid.length - 5));
    const plain = new Encoder({ useRecords: false, variableMapSize: true });
    raw.sendRaw(plain.encode({ header: { msg_id: 42, timestamp: 'now' }, route: { source: 1, group: 'resource', operation: 'x', resource: 'y' }, content: null }));
    raw.sendRaw(plain.encode([{ header: { msg_id: 'a', timestamp: 1 }, route: {}, content: 1 }]));
    raw.sendRaw('{"header": not json', false);
    // then noise: the log takes the first ten refusals a minute (the rest are counted, and summed up later)
    for (let i = 0; i < 20; i++) raw.sendRaw(randomBytes(1 + (i * 37) % 300));
    await cloud.waitFor(/edge-bad: refused a frame: not a cbor data item/);
    await cloud.waitFor(/edge-bad: refused a frame: header.msg_id must be a non-empty string/);
    await cloud.waitFor(/edge-bad: refused a frame: batch item 0: route.source must be a string/);
    await cloud.waitFor(/edge-bad: refused a frame: not a json data item/);
    expect(raw.ws.readyState).toBe(raw.ws.OPEN); // garbage is refused frame by frame, the session stays

    // a frame over the 1 MiB limit closes that session, with the reason logged
    raw.sendRaw(Buffer.alloc(1024 * 1024 + 10, 1));
    const closed = await raw.closed;
    expect(closed.code).toBe(1009);
    await cloud.waitFor(/edge-bad: disconnected: socket error: Max payload size exceeded/);

    // no client certificate: the TLS handshake is refused
    await expect(openRawEdge({ port: c.hubPort, node: 'edge-nocert', ca: c.pki.ca.cert })).rejects.toThrow();
    await cloud.waitFor(/refused TLS from .*(certificate|peer did not return)/);

    // a certificate of another node
    await expect(openRawEdge({ port: c.hubPort, node: 'edge-bad', pathNode: 'edge-good', ca: c.pki.ca.cert, cert: bad.cert, key: bad.key })).rejects.toThrow(/403/);
    await cloud.waitFor(/certificate CN "system:node:edge-bad" may not act as node edge-good/);

    // a certificate from another CA
    const { createCA, issueEdgeCert } = await import('../../core/pki/pki.js');
    const rogue = issueEdgeCert(createCA({ cn: 'rogue' }), 'edge-good');
    await expect(openRawEdge({ port: c.hubPort, node: 'edge-good', ca: c.pki.ca.cert, cert: rogue.cert, key: rogue.key })).rejects.toThrow();

    // the good edge was never disturbed and still gets its devices
    expect(good.proc.count(/link to the cloud lost/)).toBe(0);
    expect((await c.api.call('POST', `${DEVICES}/../devicemodels`, thermometerModel)).status).toBe(201);
    expect((await c.api.call('POST', DEVICES, device('still-works', 'edge-good'))).status).toBe(201);
    await eventually(async () => (await good.meta(`${DEVICES}/still-works`)).status === 200, 10_000, 'device delivered');
    expect(cloud.child.exitCode).toBeNull();
  });

  it('the edge refuses malformed frames from a cloud and stays up', async () => {
    // the cloud never sends garbage, so drive the edge against a raw WebSocket server
    const { createServer } = await import('node:https');
    const { WebSocketServer } = await import('ws');
    const server = createServer({ ca: c.pki.ca.cert, cert: c.pki.edge('fake-cloud').cert, key: c.pki.edge('fake-cloud').key, requestCert: true });
    const { issueServerCert } = await import('../../core/pki/pki.js');
    const sc = issueServerCert(c.pki.ca, { sans: ['127.0.0.1'] });
    server.setSecureContext({ ca: c.pki.ca.cert, cert: sc.cert, key: sc.key });
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws) => {
      ws.send(Buffer.from([0xa3, 0x66, 0x68, 0x65])); // a map of three entries, cut short
      ws.send('not json', { binary: false });
      ws.send(new Encoder({ useRecords: false }).encode({ header: {}, route: 5 }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const edge = await c.startEdge('edge-victim', { server: `127.0.0.1:${port}` });
    await edge.proc.waitFor(/refused a frame from the cloud: not a cbor data item/);
    await edge.proc.waitFor(/refused a frame from the cloud: not a json data item/);
    await edge.proc.waitFor(/refused a frame from the cloud: route is not a map/);
    expect(edge.proc.child.exitCode).toBeNull();
    wss.close();
    server.close();
  });
});
