/**
 * Protocol Buffers (proto3) encoding and decoding driven by a small table per message, for the
 * few gRPC services edgecore speaks (KubeEdge's DMI). A generated codec or protobuf.js would add
 * 100+ KiB to the bundle for the same dozen messages; the wire format itself is small.
 * Decoded messages carry every field of their schema: a scalar's default, [] or {} when absent.
 */
export type Scalar = 'string' | 'bytes' | 'bool' | 'int32' | 'int64' | 'double' | 'float';
export type Kind = Scalar | Schema | { map: Scalar | Schema };

export interface Field {
  readonly no: number;
  readonly name: string;
  readonly kind: Kind;
  readonly repeated?: boolean;
}
export type Schema = { readonly fields: readonly Field[] };

export type Decoded = Record<string, unknown>;

export const schema = (...fields: Field[]): Schema => ({ fields });

const isSchema = (k: Kind): k is Schema => typeof k === 'object' && 'fields' in k;
const isMap = (k: Kind): k is { map: Scalar | Schema } => typeof k === 'object' && 'map' in k;
const entryOf = (value: Scalar | Schema): Schema => schema({ no: 1, name: 'key', kind: 'string' }, { no: 2, name: 'value', kind: value });

const WIRE = { varint: 0, i64: 1, len: 2, i32: 5 } as const;

function wireOf(kind: Kind): number {
  if (kind === 'double') return WIRE.i64;
  if (kind === 'float') return WIRE.i32;
  if (kind === 'bool' || kind === 'int32' || kind === 'int64') return WIRE.varint;
  return WIRE.len;
}

function varint(n: number | bigint): Buffer {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return Buffer.from(out);
}

function isDefault(kind: Kind, v: unknown): boolean {
  if (isSchema(kind)) return v === undefined || v === null;
  if (isMap(kind)) return v === undefined || v === null || Object.keys(v as object).length === 0;
  if (kind === 'bytes') return v === undefined || (v as Buffer).length === 0;
  return v === undefined || v === null || v === '' || v === 0 || v === false;
}

function encodeValue(kind: Scalar | Schema, v: unknown): Buffer {
  if (isSchema(kind)) return encode(kind, v as Decoded);
  switch (kind) {
    case 'string':
      return Buffer.from(String(v), 'utf8');
    case 'bytes':
      return Buffer.isBuffer(v) ? v : Buffer.from(v as Uint8Array);
    case 'bool':
      return varint(v ? 1 : 0);
    case 'int32':
    case 'int64':
      return varint(Math.trunc(Number(v)));
    case 'double': {
      const b = Buffer.alloc(8);
      b.writeDoubleLE(Number(v));
      return b;
    }
    case 'float': {
      const b = Buffer.alloc(4);
      b.writeFloatLE(Number(v));
      return b;
    }
  }
}

function field(no: number, kind: Scalar | Schema, v: unknown): Buffer[] {
  const wire = wireOf(kind);
  const body = encodeValue(kind, v);
  return wire === WIRE.len ? [varint((no << 3) | wire), varint(body.length), body] : [varint((no << 3) | wire), body];
}

/** The message `msg` in the wire format; fields not in the schema are left out. */
export function encode(s: Schema, msg: Decoded): Buffer {
  const parts: Buffer[] = [];
  for (const f of s.fields) {
    const v = msg[f.name];
    if (f.repeated ? !Array.isArray(v) || v.length === 0 : isDefault(f.kind, v)) continue;
    if (isMap(f.kind)) {
      const entry = entryOf(f.kind.map);
      for (const [key, value] of Object.entries(v as Record<string, unknown>)) parts.push(...field(f.no, entry, { key, value }));
    } else if (f.repeated) {
      for (const item of v as unknown[]) parts.push(...field(f.no, f.kind, item));
    } else parts.push(...field(f.no, f.kind, v));
  }
  return Buffer.concat(parts);
}

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  private byte(): number {
    if (this.pos >= this.buf.length) throw new Error('protobuf: truncated varint');
    return this.buf[this.pos++] as number;
  }

  varint(): number {
    let v = 0;
    for (let shift = 0; shift < 49; shift += 7) {
      const b = this.byte();
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
    // 8 bytes or more: past a double's 53 bits (a negative int64 or int32 is 10 bytes, two's complement)
    let big = BigInt(v);
    for (let shift = 49n; shift < 70n; shift += 7n) {
      const b = this.byte();
      big |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return Number(BigInt.asIntN(64, big));
    }
    throw new Error('protobuf: varint longer than 10 bytes');
  }

  take(n: number): Buffer {
    if (n < 0 || this.pos + n > this.buf.length) throw new Error('protobuf: field runs past the end of the message');
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  skip(wire: number): void {
    if (wire === WIRE.varint) this.varint();
    else if (wire === WIRE.i64) this.take(8);
    else if (wire === WIRE.len) this.take(this.varint());
    else if (wire === WIRE.i32) this.take(4);
    else throw new Error(`protobuf: unsupported wire type ${wire}`);
  }
}

function defaultOf(f: Field): unknown {
  if (f.repeated) return [];
  if (isMap(f.kind)) return {};
  if (isSchema(f.kind)) return undefined;
  if (f.kind === 'string') return '';
  if (f.kind === 'bytes') return Buffer.alloc(0);
  return f.kind === 'bool' ? false : 0;
}

function readValue(r: Reader, kind: Scalar | Schema, wire: number): unknown {
  if (wire !== wireOf(kind)) throw new Error(`protobuf: wire type ${wire} where ${isSchema(kind) ? 'a message' : kind} is expected`);
  if (isSchema(kind)) return decode(kind, r.take(r.varint()));
  switch (kind) {
    case 'string':
      return r.take(r.varint()).toString('utf8');
    case 'bytes':
      return Buffer.from(r.take(r.varint()));
    case 'bool':
      return r.varint() !== 0;
    case 'int32':
    case 'int64':
      return r.varint();
    case 'double':
      return r.take(8).readDoubleLE(0);
    case 'float':
      return r.take(4).readFloatLE(0);
  }
}

/** Reads a message of schema `s`; throws on bytes that are not one (truncated, or a field of the wrong wire type). */
export function decode(s: Schema, buf: Buffer): Decoded {
  const out: Decoded = {};
  const byNo = new Map(s.fields.map((f) => [f.no, f]));
  for (const f of s.fields) out[f.name] = defaultOf(f);
  const r = new Reader(buf);
  while (r.pos < buf.length) {
    const key = r.varint();
    const no = Math.floor(key / 8);
    const wire = key & 7;
    const f = byNo.get(no);
    if (!f) {
      r.skip(wire);
      continue;
    }
    if (isMap(f.kind)) {
      const e = readValue(r, entryOf(f.kind.map), wire) as { key: string; value: unknown };
      (out[f.name] as Record<string, unknown>)[e.key] = e.value;
    } else if (f.repeated) (out[f.name] as unknown[]).push(readValue(r, f.kind, wire));
    else out[f.name] = readValue(r, f.kind, wire);
  }
  return out;
}
