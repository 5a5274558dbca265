/**
 * Modbus values: registers (big-endian 16-bit words, as the protocol sends them) to twin values
 * and back, with the visitor's dataType, isSwap (bytes within each word), isRegisterSwap (the
 * order of the words) and scale (value = raw × scale; a write divides by it).
 */
import type { ConfigData, TwinType } from '../core/types.js';
import { bool, formatNumber, num, parseNumber, str } from '../core/types.js';

export type RegisterKind = 'CoilRegister' | 'DiscreteInputRegister' | 'HoldingRegister' | 'InputRegister';
export type DataType = 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64' | 'boolean' | 'string';

export interface RegisterSpec {
  register: RegisterKind;
  offset: number;
  /** registers (or coils) it spans */
  limit: number;
  dataType: DataType;
  scale: number;
  isSwap: boolean;
  isRegisterSwap: boolean;
}

const WORDS: Record<DataType, number> = { int16: 1, uint16: 1, int32: 2, uint32: 2, float32: 2, float64: 4, boolean: 1, string: 1 };

export const isBitRegister = (r: RegisterKind): boolean => r === 'CoilRegister' || r === 'DiscreteInputRegister';

export function registerSpec(config: ConfigData): RegisterSpec {
  const register = str(config.register, 'HoldingRegister') as RegisterKind;
  const dataType = str(config.dataType, isBitRegister(register) ? 'boolean' : 'int16') as DataType;
  const words = isBitRegister(register) ? 1 : WORDS[dataType];
  const limit = dataType === 'string' || isBitRegister(register) ? num(config.limit, words) : Math.max(words, num(config.limit, words));
  return { register, offset: num(config.offset, 0), limit, dataType, scale: num(config.scale, 1) || 1, isSwap: bool(config.isSwap), isRegisterSwap: bool(config.isRegisterSwap) };
}

/** big-endian bytes of the words, with the swaps applied (they are their own inverse) */
function ordered(words: readonly number[], spec: RegisterSpec): Buffer {
  const ws = spec.isRegisterSwap ? [...words].reverse() : words;
  const buf = Buffer.alloc(ws.length * 2);
  ws.forEach((w, i) => buf.writeUInt16BE(w & 0xffff, i * 2));
  if (spec.isSwap) buf.swap16();
  return buf;
}

function words(buf: Buffer, spec: RegisterSpec): number[] {
  const b = Buffer.from(buf);
  if (spec.isSwap) b.swap16();
  const out: number[] = [];
  for (let i = 0; i < b.length; i += 2) out.push(b.readUInt16BE(i));
  return spec.isRegisterSwap ? out.reverse() : out;
}

/** The twin value of the registers (or coils) read for this property. */
export function decode(raw: readonly number[] | readonly boolean[], spec: RegisterSpec, type: TwinType): string {
  if (isBitRegister(spec.register)) return formatNumber(raw[0] ? 1 : 0, type === 'string' ? 'boolean' : type);
  // the common case, one plain word, without a buffer
  if (!spec.isSwap && (spec.limit === 1 || !spec.isRegisterSwap) && (spec.dataType === 'int16' || spec.dataType === 'uint16')) {
    const w = (raw[0] as number) & 0xffff;
    return formatNumber((spec.dataType === 'int16' ? (w << 16) >> 16 : w) * spec.scale, type);
  }
  const buf = ordered((raw as number[]).slice(0, spec.limit), spec);
  let n: number;
  switch (spec.dataType) {
    case 'int16':
      n = buf.readInt16BE(0);
      break;
    case 'uint16':
      n = buf.readUInt16BE(0);
      break;
    case 'int32':
      n = buf.readInt32BE(0);
      break;
    case 'uint32':
      n = buf.readUInt32BE(0);
      break;
    case 'float32':
      n = buf.readFloatBE(0);
      break;
    case 'float64':
      n = buf.readDoubleBE(0);
      break;
    case 'boolean':
      n = buf.readUInt16BE(0) !== 0 ? 1 : 0;
      break;
    case 'string':
      // two characters per register, up to the first NUL
      return buf.toString('latin1').replace(/\0.*$/s, '');
  }
  return formatNumber(spec.dataType === 'boolean' ? n : n * spec.scale, spec.dataType === 'boolean' && type !== 'string' ? 'boolean' : type);
}

/** The registers (or one coil) to write for a twin value; throws when it does not fit the type. */
export function encode(value: string, spec: RegisterSpec): number[] | boolean {
  if (isBitRegister(spec.register)) {
    const n = parseNumber(value);
    if (n !== 0 && n !== 1) throw new Error(`${JSON.stringify(value)} is not a coil value (true, false, 1 or 0)`);
    return n === 1;
  }
  if (spec.dataType === 'string') {
    const b = Buffer.alloc(spec.limit * 2);
    b.write(value.slice(0, spec.limit * 2), 'latin1');
    return words(b, spec);
  }
  const n = parseNumber(value);
  if (!Number.isFinite(n)) throw new Error(`${JSON.stringify(value)} is not a number`);
  const raw = spec.dataType === 'boolean' ? (n !== 0 ? 1 : 0) : n / spec.scale;
  const buf = Buffer.alloc(WORDS[spec.dataType] * 2);
  const whole = Math.round(raw);
  const range = (lo: number, hi: number): number => {
    if (whole < lo || whole > hi) throw new Error(`${value} is out of range for ${spec.dataType}${spec.scale !== 1 ? ` at scale ${spec.scale}` : ''}`);
    return whole;
  };
  switch (spec.dataType) {
    case 'int16':
      buf.writeInt16BE(range(-0x8000, 0x7fff));
      break;
    case 'uint16':
    case 'boolean':
      buf.writeUInt16BE(range(0, 0xffff));
      break;
    case 'int32':
      buf.writeInt32BE(range(-0x80000000, 0x7fffffff));
      break;
    case 'uint32':
      buf.writeUInt32BE(range(0, 0xffffffff));
      break;
    case 'float32':
      buf.writeFloatBE(raw);
      break;
    case 'float64':
      buf.writeDoubleBE(raw);
      break;
  }
  return words(buf, spec);
}
