/**
 * Coalesced reads: properties of one slave in neighbouring (or overlapping) registers of the same
 * kind are read with one request, up to the protocol's limit per request, and split back.
 */
import { isBitRegister, type RegisterKind, type RegisterSpec } from './codec.js';

/** the most one request may read (Modbus application protocol, 6.1–6.4) */
export const MAX_REGISTERS = 125;
export const MAX_BITS = 2000;

export interface ReadRequest<T> {
  register: RegisterKind;
  offset: number;
  count: number;
  /** what it serves, each with where its registers start in the response */
  parts: { item: T; spec: RegisterSpec; at: number }[];
}

export function planReads<T>(items: readonly { item: T; spec: RegisterSpec }[], coalesce = true): ReadRequest<T>[] {
  const byKind = new Map<RegisterKind, { item: T; spec: RegisterSpec }[]>();
  for (const it of items) {
    const list = byKind.get(it.spec.register) ?? [];
    list.push(it);
    byKind.set(it.spec.register, list);
  }
  const out: ReadRequest<T>[] = [];
  for (const [register, list] of byKind) {
    const max = isBitRegister(register) ? MAX_BITS : MAX_REGISTERS;
    list.sort((a, b) => a.spec.offset - b.spec.offset);
    let cur: ReadRequest<T> | undefined;
    for (const it of list) {
      const end = it.spec.offset + it.spec.limit;
      if (cur && coalesce && it.spec.offset <= cur.offset + cur.count && Math.max(end, cur.offset + cur.count) - cur.offset <= max) {
        cur.count = Math.max(cur.count, end - cur.offset);
        cur.parts.push({ ...it, at: it.spec.offset - cur.offset });
        continue;
      }
      cur = { register, offset: it.spec.offset, count: it.spec.limit, parts: [{ ...it, at: 0 }] };
      out.push(cur);
    }
  }
  return out;
}
