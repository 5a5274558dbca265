/**
 * Seeded mutations of real inputs, for the fuzz tests and `npm run bench -- fuzz`: bytes (CBOR
 * frames), text (JSON frames, MQTT payloads) and values (manifests, message contents). The same
 * seed gives the same inputs, so a failure can be replayed.
 */

export type Rng = () => number;

/** mulberry32: small, fast, and good enough to pick mutations */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const int = (r: Rng, n: number): number => Math.floor(r() * n);
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[int(r, xs.length)] as T;

// bytes a decoder treats specially: CBOR heads (indefinite lengths, big lengths, tags, floats, break)
const INTERESTING = [0x00, 0x01, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1f, 0x3f, 0x5f, 0x7f, 0x80, 0x9f, 0xa0, 0xbf, 0xc0, 0xd8, 0xf4, 0xf6, 0xf7, 0xf9, 0xfa, 0xfb, 0xff];

/** 1–4 byte-level changes to a copy of `input`, sometimes spliced with another input */
export function mutateBytes(r: Rng, input: Uint8Array, corpus: readonly Uint8Array[]): Buffer {
  let b = Buffer.from(input);
  const ops = 1 + int(r, 4);
  for (let k = 0; k < ops; k++) {
    const at = int(r, Math.max(1, b.length));
    switch (int(r, 8)) {
      case 0:
        if (b.length) b[at] = (b[at] as number) ^ (1 << int(r, 8));
        break;
      case 1:
        if (b.length) b[at] = pick(r, INTERESTING);
        break;
      case 2:
        b = Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: 1 + int(r, 8) }, () => int(r, 256))), b.subarray(at)]);
        break;
      case 3:
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + int(r, 16)))]);
        break;
      case 4:
        b = b.subarray(0, at);
        break;
      case 5: {
        const len = 1 + int(r, 32);
        b = Buffer.concat([b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len)]);
        break;
      }
      case 6: {
        const other = pick(r, corpus);
        const from = int(r, Math.max(1, other.length));
        b = Buffer.concat([b.subarray(0, at), Buffer.from(other.subarray(from, from + 1 + int(r, 64)))]);
        break;
      }
      default:
        if (b.length >= 4) b.writeUInt16BE(pick(r, [0, 0xffff, 0x7fff, 0x8000, 0x1b00]), Math.min(at, b.length - 2));
    }
  }
  return b.length > 0 ? b : Buffer.from([pick(r, INTERESTING)]);
}

const TOKENS = ['{', '}', '[', ']', '"', ':', ',', '\\', 'null', 'true', '-1', '1e999', '0.0000001', '"\\u0000"', '\u00e9', '\ud83d\ude00'];

/** 1–4 character-level changes to JSON text; the result is still valid UTF-8 (a WebSocket text frame must be) */
export function mutateText(r: Rng, input: string): string {
  let s = input;
  const ops = 1 + int(r, 4);
  for (let k = 0; k < ops; k++) {
    const at = int(r, Math.max(1, s.length));
    switch (int(r, 5)) {
      case 0:
        s = s.slice(0, at) + s.slice(at + 1 + int(r, 8));
        break;
      case 1:
        s = s.slice(0, at) + pick(r, TOKENS) + s.slice(at);
        break;
      case 2:
        s = s.slice(0, at);
        break;
      case 3: {
        const len = 1 + int(r, 40);
        s = s.slice(0, at + len) + s.slice(at, at + len) + s.slice(at + len);
        break;
      }
      default:
        s = s.slice(0, at) + String.fromCharCode(32 + int(r, 95)) + s.slice(at + 1);
    }
  }
  return Buffer.from(s, 'utf8').toString('utf8'); // lone surrogates become U+FFFD
}

/** values that have broken parsers: wrong types, extremes, deep nesting, long strings */
function oddValue(r: Rng, depth = 0): unknown {
  switch (int(r, 14)) {
    case 0:
      return null;
    case 1:
      return pick(r, [0, -1, 1.5, 2 ** 53 + 1, -(2 ** 63), 1e308, Number.MAX_SAFE_INTEGER]);
    case 2:
      return '';
    case 3:
      return 'x'.repeat(1 + int(r, 20_000));
    case 4:
      return pick(r, ['../../etc/passwd', 'a/b/c', '$hw/events/#', '\u0000', 'ü😀', ' ', '-', '1', 'true', 'default/device/x']);
    case 5:
      return pick(r, [true, false]);
    case 6:
      return [];
    case 7:
      return {};
    case 8: {
      let v: unknown = 'deep';
      for (let i = 0; i < 10 + int(r, 200); i++) v = int(r, 2) ? [v] : { a: v };
      return v;
    }
    case 9:
      return Array.from({ length: 1 + int(r, 50) }, () => (depth < 2 ? oddValue(r, depth + 1) : int(r, 100)));
    case 10:
      return { __proto__: { polluted: true }, constructor: { prototype: { polluted: true } } };
    case 11:
      return String(int(r, 1000));
    case 12:
      return { value: oddValue(r, depth + 1), metadata: { timestamp: oddValue(r, depth + 1) } };
    default:
      return -int(r, 100);
  }
}

/** the paths of every node in a JSON value */
function paths(v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

/** 1–3 structure-aware changes to a copy of a JSON value: a node replaced, removed, added to or retyped */
export function mutateValue(r: Rng, input: unknown): unknown {
  const root = { v: structuredClone(input) as unknown };
  const ops = 1 + int(r, 3);
  for (let k = 0; k < ops; k++) {
    const all = paths(root.v);
    const path = pick(r, all);
    let parent: any = root;
    let key: string | number = 'v';
    for (const p of path) {
      parent = parent[key];
      key = p;
    }
    const op = int(r, 4);
    if (op === 0 && path.length > 0) {
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
    } else if (op === 1) {
      const cur = parent[key];
      if (Array.isArray(cur)) cur.push(oddValue(r));
      else if (cur !== null && typeof cur === 'object') cur[pick(r, ['extra', 'status', 'spec', 'metadata', 'kind', '__proto__', ''])] = oddValue(r);
      else parent[key] = oddValue(r);
    } else {
      parent[key] = oddValue(r);
    }
  }
  return root.v;
}
