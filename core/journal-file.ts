/**
 * The journal's file: an 8-byte mark, then records. A record is one group commit: its payload's
 * length and CRC-32 (4 bytes each, little-endian), then the payload, its changes one after the
 * other, each a CBOR array: [table, key, value] to set, [table, key] to delete. No JSON, and no
 * line to split: a change costs its own bytes, and damage is found by the CRC, not by a parser.
 *
 * Files written before (one JSON line per change) are still read; the journal rewrites them in
 * this format when it opens them.
 */
import { Decoder, Encoder } from 'cbor-x';
import { crc32 } from './crc32.js';

export const JOURNAL_MARK = Buffer.from('KEJRNL\x00\x02', 'latin1');
const HEADER = 8;

// the journal's own data, read back only by itself: plain CBOR, no shared record structures
const encoder = new Encoder({ useRecords: false, variableMapSize: true, pack: false });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });

export type Tables = Map<string, Map<string, unknown>>;

export function tableOf(tables: Tables, t: string): Map<string, unknown> {
  let m = tables.get(t);
  if (!m) tables.set(t, (m = new Map()));
  return m;
}

/** one change, encoded now: what is written is the value as it was when set */
export function encodeChange(t: string, k: string, v?: unknown, deleted = false): Buffer {
  return encoder.encode(deleted ? [t, k] : [t, k, v]);
}

/** the header and payload of one record holding these encoded changes */
export function record(changes: readonly Buffer[], bytes: number): Buffer[] {
  const payload = changes.length === 1 ? (changes[0] as Buffer) : Buffer.concat(changes, bytes);
  const header = Buffer.allocUnsafe(HEADER);
  header.writeUInt32LE(payload.length, 0);
  header.writeUInt32LE(crc32(payload), 4);
  return [header, payload];
}

export interface FileRead {
  tables: Tables;
  /** records (or lines) a crash mid-write left unreadable at the end */
  damaged: number;
  /** written in the old format, one JSON line per change */
  legacy: boolean;
}

type Change = [table: string, key: string, value?: unknown];

function isChange(e: unknown): e is Change {
  return Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'string' && (e.length === 2 || e.length === 3);
}

/** distinct short strings kept while a file is read: beyond that, a new one is not remembered */
const INTERNED = 65_536;
const SHORT = 64;

/**
 * One copy of each short string in what is read: each record decodes its own copies, so a store of
 * 10,000 nodes held "default", "True", a node's name and the like 10,000 times over (a stored
 * node's heap halved with this: 1.29 → 0.65 KiB, measured at 2,000 nodes).
 * Changes the freshly decoded value in place.
 */
function interner(): (v: unknown) => unknown {
  const seen = new Map<string, string>();
  const one = (v: unknown): unknown => {
    if (typeof v === 'string') {
      if (v.length > SHORT) return v;
      const had = seen.get(v);
      if (had !== undefined) return had;
      if (seen.size < INTERNED) seen.set(v, v);
      return v;
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) v[i] = one(v[i]);
    } else if (v !== null && typeof v === 'object' && !ArrayBuffer.isView(v)) {
      const o = v as Record<string, unknown>;
      for (const k in o) if (k !== '__proto__') o[k] = one(o[k]); // an own "__proto__" stays as it is
    }
    return v;
  };
  return one;
}

function applyChange(tables: Tables, e: Change, intern: (v: unknown) => unknown): void {
  if (e.length === 3) tableOf(tables, e[0]).set(e[1], intern(e[2]));
  else tableOf(tables, e[0]).delete(e[1]);
}

/** the changes of one record's payload, or undefined when it does not decode into changes */
function changesOf(payload: Buffer): Change[] | undefined {
  try {
    const out = decoder.decodeMultiple(payload) as unknown[] | undefined;
    return out?.every(isChange) ? out : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Records up to the first that does not hold together (its length past the end, a zero length,
 * a CRC that does not match, a payload that is not changes): that one and what follows are the
 * last write, unfinished. Each earlier write was fdatasynced before the next began.
 */
function readRecords(data: Buffer, tables: Tables): number {
  const intern = interner();
  let at = JOURNAL_MARK.length;
  while (at < data.length) {
    const len = at + HEADER <= data.length ? data.readUInt32LE(at) : 0;
    const end = at + HEADER + len;
    if (len === 0 || end > data.length || data.readUInt32LE(at + 4) !== crc32(data, at + HEADER, end)) return 1;
    const changes = changesOf(data.subarray(at + HEADER, end));
    if (!changes) return 1;
    for (const e of changes) applyChange(tables, e, intern);
    at = end;
  }
  return 0;
}

/** the old format: a JSON line per change, {t, k, v} to set, {t, k} to delete */
function readLines(text: string, tables: Tables): number {
  const intern = interner();
  let bad = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    try {
      const e = JSON.parse(line) as { t?: unknown; k?: unknown; v?: unknown };
      const change: unknown = 'v' in e ? [e.t, e.k, e.v] : [e.t, e.k];
      if (!isChange(change)) throw new Error('not an entry');
      applyChange(tables, change, intern);
    } catch {
      bad++;
    }
  }
  return bad;
}

export function readJournalFile(data: Buffer): FileRead {
  const tables: Tables = new Map();
  if (data.length === 0) return { tables, damaged: 0, legacy: false };
  if (data.subarray(0, JOURNAL_MARK.length).equals(JOURNAL_MARK)) return { tables, damaged: readRecords(data, tables), legacy: false };
  // no mark: the old format, or a first write cut before its mark made it (its lines are all unreadable)
  return { tables, damaged: readLines(data.toString('utf8'), tables), legacy: true };
}

/** a value's size in the journal, about (to tell when the file has grown far past the live data) */
export function encodedBytes(t: string, k: string, v: unknown): number {
  return encoder.encode([t, k, v]).length;
}
