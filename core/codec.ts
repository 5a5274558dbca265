/**
 * Frame codecs, chosen per frame: a binary WebSocket frame holds standard CBOR (RFC 8949),
 * a text frame KubeEdge's JSON. A frame holds one message map or an array of them (a batch).
 */
import { Decoder, Encoder } from 'cbor-x';
import { FrameError } from './errors.js';
import { validateMessage, type Message } from './message.js';

export type CodecName = 'cbor' | 'json';

export interface Codec {
  readonly name: CodecName;
  /** true when frames are binary WebSocket frames */
  readonly binary: boolean;
  encode(payload: Message | readonly Message[]): Buffer | string;
  decode(frame: Buffer): unknown;
}

/** Default ceiling on one frame: small, because a Pi has little memory to lend a hostile peer. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

/**
 * What a sender puts in one batch frame at most (about): half the default ceiling, so a frame of
 * many messages never meets a peer's limit. A single message bigger than this goes alone.
 */
export const BATCH_BUDGET_BYTES = 512 * 1024;

/** A message's size on the wire, roughly: its strings and bytes, plus room for the envelope. */
export function approxBytes(msg: Message): number {
  let n = 256;
  const walk = (v: unknown, depth: number): void => {
    if (typeof v === 'string') n += v.length;
    else if (v instanceof Uint8Array) n += v.length;
    else if (typeof v === 'object' && v !== null && depth < 16) {
      for (const x of Array.isArray(v) ? v : Object.values(v)) walk(x, depth + 1);
      n += 8;
    } else n += 8;
  };
  walk(msg.content, 0);
  return n;
}

/** Takes from the front of `queue` what one frame carries: at most `maxCount` messages and about `maxBytes`. */
export function takeBatch<T extends Message>(queue: T[], maxCount: number, maxBytes = BATCH_BUDGET_BYTES): T[] {
  let bytes = 0;
  let count = 0;
  while (count < Math.min(maxCount, queue.length)) {
    bytes += approxBytes(queue[count] as T);
    if (count > 0 && bytes > maxBytes) break;
    count++;
  }
  return queue.splice(0, count);
}

// Portable CBOR: no record extension, no private tags, plain-sized map headers.
const encoder = new Encoder({ useRecords: false, variableMapSize: true, tagUint8Array: false, pack: false });
// 8-byte integers (any other encoder's timestamps) come back as BigInt, made numbers below when safe
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });

const INT32_SPAN = 2 ** 32;

/**
 * Integral numbers cbor-x would write as float64 (beyond ±2^32: every millisecond timestamp) as
 * BigInt, which it writes as a CBOR integer. Copies only what holds one; the rest is shared.
 */
export function integersForCbor(v: unknown): unknown {
  if (typeof v === 'number') return (v >= INT32_SPAN || v < -INT32_SPAN) && Number.isSafeInteger(v) ? BigInt(v) : v;
  if (typeof v !== 'object' || v === null || ArrayBuffer.isView(v)) return v;
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      const y = integersForCbor(x);
      if (y !== x) (out ??= v.slice())[i] = y;
    }
    return out ?? v;
  }
  let out: Record<string, unknown> | undefined;
  for (const k of Object.keys(v)) {
    const x = (v as Record<string, unknown>)[k];
    const y = integersForCbor(x);
    if (y !== x) (out ??= { ...(v as Record<string, unknown>) })[k] = y;
  }
  return out ?? v;
}

/**
 * A decoded value's 8-byte integers as numbers, in place (the value is fresh from the decoder);
 * one beyond ±(2^53 − 1) cannot be a number, and the frame is refused naming where it was.
 */
export function numbersFromCbor(v: unknown, path = '$'): unknown {
  if (typeof v === 'bigint') {
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw new FrameError('message_invalid', `${path}: the integer ${v} is beyond ±2^53, where numbers stay exact`);
    return Number(v);
  }
  if (typeof v !== 'object' || v === null || ArrayBuffer.isView(v)) return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = numbersFromCbor(v[i], `${path}[${i}]`);
    return v;
  }
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const x = o[k];
    if (typeof x === 'object' || typeof x === 'bigint') o[k] = numbersFromCbor(x, `${path}.${k}`);
  }
  return v;
}

export const cborCodec: Codec = {
  name: 'cbor',
  binary: true,
  encode: (payload) => encoder.encode(integersForCbor(payload)),
  decode: (frame) => numbersFromCbor(decoder.decode(frame)),
};

export const jsonCodec: Codec = {
  name: 'json',
  binary: false,
  encode: (payload) => JSON.stringify(payload),
  decode: (frame) => JSON.parse(frame.toString('utf8')) as unknown,
};

export function codecFor(binary: boolean): Codec {
  return binary ? cborCodec : jsonCodec;
}

/** Decodes and validates one frame into its messages; every failure is a FrameError naming the cause. */
export function decodeFrame(frame: Buffer, binary: boolean, maxBytes = DEFAULT_MAX_FRAME_BYTES): Message[] {
  if (frame.length > maxBytes) throw new FrameError('frame_too_large', `frame of ${frame.length} bytes exceeds the ${maxBytes}-byte limit`);
  if (frame.length === 0) throw new FrameError('frame_malformed', 'empty frame');
  const codec = codecFor(binary);
  let value: unknown;
  try {
    value = codec.decode(frame);
  } catch (err) {
    if (err instanceof FrameError) throw err;
    throw new FrameError('frame_malformed', `not a ${codec.name} data item: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (Array.isArray(value)) {
    if (value.length === 0) throw new FrameError('message_invalid', 'empty batch');
    return value.map((v, i) => {
      try {
        return validateMessage(v);
      } catch (err) {
        throw new FrameError('message_invalid', `batch item ${i}: ${(err as Error).message}`);
      }
    });
  }
  return [validateMessage(value)];
}

export function encodeFrame(codec: Codec, msgs: readonly Message[]): Buffer | string {
  if (msgs.length === 1) return codec.encode(msgs[0] as Message);
  return codec.encode(msgs);
}
