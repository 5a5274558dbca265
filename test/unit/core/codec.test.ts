import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cborCodec, decodeFrame, encodeFrame, jsonCodec } from '../../../core/codec.js';
import { FrameError } from '../../../core/errors.js';
import { ackOf, newMessage, parseResource } from '../../../core/message.js';

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

  it('writes integral numbers as CBOR integers in their shortest form, never as floats', () => {
    const stamped = newMessage({ source: 's', group: 'g', operation: 'o', resource: 'r' }, { big: 2 ** 40, neg: -(2 ** 40), small: 300, half: 2.5 }, { now: 1_733_300_000_123 });
    const bytes = cborCodec.encode(stamped) as Buffer;
    // timestamp 1733300000123 = 0x193_90BB_157B: major type 0 with an 8-byte argument (0x1b), no float64 (0xfb)
    expect(bytes.includes(Buffer.from('1b00000193', 'hex'))).toBe(true);
    expect(bytes.includes(Buffer.from('3b000000ffffffffff', 'hex'))).toBe(true);
    expect(bytes.includes(Buffer.from('fb4004000000000000', 'hex'))).toBe(true); // 2.5 stays a float
    expect(bytes.filter((b) => b === 0xfb)).toHaveLength(1);
    expect(decodeFrame(bytes, true)).toEqual([stamped]);
  });

  it('reads 8-byte integers as numbers, and refuses one beyond 2^53 naming where it is', () => {
    // {header: {msg_id: "m", timestamp: 8-byte 1733300000123}, route: {...}, content: 8-byte 5}
    const head = 'a3' + '66686561646572' + 'a2' + '666d73675f6964' + '616d' + '6974696d657374616d70';
    const route = '65726f757465' + 'a4' + '66736f75726365' + '6173' + '6567726f7570' + '6167' + '696f7065726174696f6e' + '616f' + '687265736f75726365' + '6172';
    const frame = (ts: string, content: string): Buffer => Buffer.from(head + ts + route + '67636f6e74656e74' + content, 'hex');
    const [m] = decodeFrame(frame('1b0000019390bb157b', '1b0000000000000005'), true);
    expect(m?.header.timestamp).toBe(1_733_300_000_123);
    expect(m?.content).toBe(5);
    expect(() => decodeFrame(frame('1b0020000000000000', 'f6'), true)).toThrow(/\$\.header\.timestamp: the integer 9007199254740992 is beyond/);
    expect(() => decodeFrame(frame('1b0000019390bb157b', '3bffffffffffffffff'), true)).toThrow(/\$\.content: the integer -18446744073709551616/);
  });

  it('parses KubeEdge resource names', () => {
    expect(parseResource('default/device/thermo-1')).toEqual({ namespace: 'default', kind: 'device', name: 'thermo-1' });
    expect(parseResource('null/node/edge-1')).toEqual({ namespace: 'null', kind: 'node', name: 'edge-1' });
    expect(parseResource('node')).toBeUndefined();
    expect(parseResource('a//b')).toBeUndefined();
  });
});
