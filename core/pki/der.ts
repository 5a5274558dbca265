/** Just enough DER (X.690) to write a PKCS#10 request and an X.509 certificate, and to read them back. */
const len = (n: number): Buffer => {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
};

export const tlv = (tag: number, ...content: Buffer[]): Buffer => {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
};

export const seq = (...c: Buffer[]): Buffer => tlv(0x30, ...c);
export const set = (...c: Buffer[]): Buffer => tlv(0x31, ...c);
export const int = (n: number): Buffer => tlv(0x02, Buffer.from([n]));
/** a positive INTEGER from big-endian bytes (a 0x00 goes first when the top bit is set) */
export const uint = (b: Buffer): Buffer => tlv(0x02, (b[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
export const bool = (v: boolean): Buffer => tlv(0x01, Buffer.from([v ? 0xff : 0]));
export const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
export const octets = (b: Buffer): Buffer => tlv(0x04, b);
export const nul = (): Buffer => Buffer.from([0x05, 0x00]);
export const bitString = (b: Buffer): Buffer => tlv(0x03, Buffer.from([0]), b);
/** UTCTime before 2050, GeneralizedTime from then (RFC 5280) */
export const time = (d: Date): Buffer => {
  const iso = d.toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2))) : tlv(0x18, Buffer.from(iso));
};

export function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out: number[] = [40 * (parts[0] as number) + (parts[1] as number)];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** A DER element as read: its tag, its content, and its whole encoding (to pass on as it was). */
export interface Element {
  tag: number;
  content: Buffer;
  raw: Buffer;
}

/** Reads the element at `at`; throws on anything that is not well-formed DER. */
export function read(buf: Buffer, at = 0): Element {
  if (at + 2 > buf.length) throw new Error('truncated DER');
  const tag = buf[at] as number;
  if ((tag & 0x1f) === 0x1f) throw new Error('multi-byte DER tags are not used here');
  let n = buf[at + 1] as number;
  let head = 2;
  if (n & 0x80) {
    const k = n & 0x7f;
    if (k === 0 || k > 4 || at + 2 + k > buf.length) throw new Error('bad DER length');
    n = 0;
    for (let i = 0; i < k; i++) n = n * 256 + (buf[at + 2 + i] as number);
    head += k;
  }
  if (at + head + n > buf.length) throw new Error('truncated DER');
  return { tag, content: buf.subarray(at + head, at + head + n), raw: buf.subarray(at, at + head + n) };
}

/** the elements inside a constructed element (a SEQUENCE, a SET, a context tag) */
export function children(e: Element): Element[] {
  const out: Element[] = [];
  for (let at = 0; at < e.content.length; ) {
    const c = read(e.content, at);
    out.push(c);
    at += c.raw.length;
  }
  return out;
}

export function oidText(e: Element): string {
  if (e.tag !== 0x06 || e.content.length === 0) throw new Error('not an OBJECT IDENTIFIER');
  const b = e.content;
  const first = b[0] as number;
  const parts = [Math.min(2, Math.floor(first / 40)), first - 40 * Math.min(2, Math.floor(first / 40))];
  let v = 0;
  for (let i = 1; i < b.length; i++) {
    v = v * 128 + ((b[i] as number) & 0x7f);
    if (!((b[i] as number) & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}
