import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cborCodec, decodeFrame, encodeFrame, jsonCodec } from '../../../runtime/core/codec.js';
import { FrameError } from '../../../runtime/core/errors.js';
import { ackOf, newMessage, parseResource } from '../../../runtime/core/message.js';

const msg = newMessage({ source: 'edgehub', group: 'resource', operation: 'update', resource: 'default/device/t-1' }, { a: [1, 'b', null], n: 1.5 }, { resourceVersion: '7' });

describe('codec', () => {
  it('round-trips single messages and batches in CBOR and JSON', () => {
    for (const codec of [cborCodec, jsonCodec]) {
      const one = encodeFrame(codec, [msg]);
      const frame = typeof one === 'string' ? Buffer.from(one) : one;
      expect(decodeFrame(frame, codec.binary)).toEqual([msg]);
      const two = encodeFrame(codec, [msg, ackOf(msg, 'metamanager')]);
      const decoded = decodeFrame(typeof two === 'string' ? Buffer.from(two) : two, codec.binary);
      expect(decoded).toHaveLength(2);
      expect(decoded[1]).toMatchObject({ header: { parent_msg_id: msg.header.msg_id }, route: { operation: 'response', resource: 'default/device/t-1' }, content: 'OK' });
    }
  });

  it('writes no private tags: the first byte is a plain map or array header', () => {
    const one = encodeFrame(cborCodec, [msg]) as Buffer;
    expect(one[0]! >> 5).toBe(5); // major type 5: map
    const many = encodeFrame(cborCodec, [msg, msg]) as Buffer;
    expect(many[0]! >> 5).toBe(4); // major type 4: array
  });

  it('refuses oversized, empty, truncated and mistyped frames with a FrameError', () => {
    const frame = cborCodec.encode(msg) as Buffer;
    expect(() => decodeFrame(frame, true, 10)).toThrow(expect.objectContaining({ code: 'frame_too_large' }));
    expect(() => decodeFrame(Buffer.alloc(0), true)).toThrow(expect.objectContaining({ code: 'frame_malformed' }));
    expect(() => decodeFrame(frame.subarray(0, frame.length - 3), true)).toThrow(expect.objectContaining({ code: 'frame_malformed' }));
    const bad = cborCodec.encode({ ...msg, header: { ...msg.header, timestamp: 'x' } } as never) as Buffer;
    expect(() => decodeFrame(bad, true)).toThrow(/header.timestamp must be a number/);
    expect(() => decodeFrame(Buffer.from('[]'), false)).toThrow(/empty batch/);
  });

  it('never throws anything but a FrameError on random input (10,000 frames)', () => {
    for (let i = 0; i < 10_000; i++) {
      const b = randomBytes(1 + (i % 200));
      try {
        decodeFrame(b, i % 2 === 0);
      } catch (err) {
        expect(err).toBeInstanceOf(FrameError);
      }
    }
  });

  it('parses KubeEdge resource names', () => {
    expect(parseResource('default/device/thermo-1')).toEqual({ namespace: 'default', kind: 'device', name: 'thermo-1' });
    expect(parseResource('null/node/edge-1')).toEqual({ namespace: 'null', kind: 'node', name: 'edge-1' });
    expect(parseResource('node')).toBeUndefined();
    expect(parseResource('a//b')).toBeUndefined();
  });
});
