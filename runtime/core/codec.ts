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
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });

export const cborCodec: Codec = {
  name: 'cbor',
  binary: true,
  encode: (payload) => encoder.encode(payload),
  decode: (frame) => decoder.decode(frame),
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
