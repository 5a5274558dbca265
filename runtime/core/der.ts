/** Just enough DER (X.690) to write a PKCS#10 certificate request. */
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
export const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
export const nul = (): Buffer => Buffer.from([0x05, 0x00]);
export const bitString = (b: Buffer): Buffer => tlv(0x03, Buffer.from([0]), b);

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
