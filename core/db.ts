/**
 * SQLite (sql.js) with durable, atomic, batched persistence whose cost is the change, not the store.
 *
 * sql.js keeps the whole database in memory and can only save it whole, which at 100,000 rows is a
 * quarter of a second per save. So a save is rare: every write statement (with its parameters) is
 * also appended to `<path>.changes`, one JSON line per transaction, and a commit is one append and
 * one fdatasync for every change made since the last (a group commit). Opening loads the snapshot
 * and replays the changes in order. When the changes outgrow an eighth of the snapshot (so that a
 * restart replays little), or on a clean close, the store is saved whole (temp file, fsync,
 * rename) and the changes file starts again.
 *
 * The snapshot's `PRAGMA user_version` is its generation and the changes file's first line names
 * the generation it follows, so a crash between a save and the new changes file cannot replay a
 * change twice. The statements must be deterministic (parameters, not `random()`): that holds for
 * every caller, which are ours. The unfinished end of a write (a crash mid-append) is dropped on replay and the
 * file started again. A file that will not open is moved aside and the store starts empty (the
 * cloud then resends everything).
 */
import { mkdirSync, existsSync, readFileSync, renameSync } from 'node:fs';
import { open, rename, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import initSqlJs, { type Database, type SqlValue } from 'sql.js/dist/sql-wasm.js';
import { sqlWasmBinary } from './sqlwasm.js';
import { KubeEdgeError, errorText } from './errors.js';
import type { Logger } from './log.js';

export type { SqlValue };
export type Row = Record<string, SqlValue>;

export interface Db {
  run(sql: string, params?: SqlValue[]): number;
  all(sql: string, params?: SqlValue[]): Row[];
  get(sql: string, params?: SqlValue[]): Row | undefined;
  /** runs fn in one SQLite transaction (a nested call joins the outer one) */
  tx<T>(fn: () => T): T;
  /** resolves when every write made so far is on disk */
  commit(): Promise<void>;
  /** bytes on disk: the snapshot and the changes since */
  size(): number;
  /** why the last write to disk failed, until one succeeds */
  failing(): string | undefined;
  /** how many times the store was saved whole */
  snapshots(): number;
  close(): Promise<void>;
}

export interface DbOptions {
  path: string; // ':memory:' for no file
  schema: string;
  log: Logger;
  /** longest a write waits to be batched with others (ms) */
  batchMs?: number;
  /** the changes file is folded into a new snapshot past max(this, an eighth of the snapshot) bytes */
  changesLimit?: number;
}

type Statement = [sql: string, params: SqlValue[] | null];

let sqlPromise: ReturnType<typeof initSqlJs> | undefined;

// parameters as JSON: byte arrays (BLOB) as {"$b": base64}
const encodeParam = (_k: string, v: unknown): unknown => (v instanceof Uint8Array ? { $b: Buffer.from(v).toString('base64') } : v);
const decodeParam = (_k: string, v: unknown): unknown => (v !== null && typeof v === 'object' && typeof (v as { $b?: unknown }).$b === 'string' ? new Uint8Array(Buffer.from((v as { $b: string }).$b, 'base64')) : v);

/** moves a damaged file aside, so it can be looked at and nothing is replayed onto the fresh store */
function moveAside(path: string): string {
  const aside = `${path}.corrupt-${Date.now()}`;
  renameSync(path, aside);
  return aside;
}

/** Applies the changes file to a snapshot of generation `gen`; undefined if the file is not for this snapshot. */
function replay(db: Database, changesPath: string, gen: number, log: Logger): { bytes: number; transactions: number; torn: boolean } | undefined {
  const text = readFileSync(changesPath, 'utf8');
  const lines = text.split('\n');
  let header: { gen?: unknown };
  try {
    header = JSON.parse(lines[0] ?? '') as { gen?: unknown };
  } catch {
    header = {};
  }
  if (header.gen !== gen) return undefined;
  const prepared = new Map<string, ReturnType<Database['prepare']>>();
  let transactions = 0;
  let torn = false;
  try {
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] as string;
      if (line === '') continue;
      let statements: Statement[];
      try {
        statements = JSON.parse(line, decodeParam) as Statement[];
        if (!Array.isArray(statements)) throw new Error('not a list of statements');
      } catch {
        // a power cut mid-append leaves the end of that write unfinished (torn, or zeros and half a
        // line before lines that made it: pages reach the disk in any order); each earlier write was
        // fdatasynced before the next began, and this one was acknowledged to nobody. Its rest is
        // dropped with it: a transaction replayed after a missing one would not be the store's.
        log.warn(`${changesPath}: dropped the unfinished end of the last write (${lines.length - 1 - i} line(s) from line ${i + 1}: a crash mid-write)`);
        torn = true;
        break;
      }
      db.run('BEGIN');
      for (const [sql, params] of statements) {
        let st = prepared.get(sql);
        if (!st) prepared.set(sql, (st = db.prepare(sql)));
        st.run(params ?? undefined);
      }
      db.run('COMMIT');
      transactions++;
    }
  } finally {
    for (const st of prepared.values()) st.free();
  }
  return { bytes: Buffer.byteLength(text), transactions, torn };
}

export async function openDb(opts: DbOptions): Promise<Db> {
  const SQL = await (sqlPromise ??= initSqlJs({ wasmBinary: sqlWasmBinary() }));
  const { path, log } = opts;
  const persistent = path !== ':memory:';
  const changesPath = `${path}.changes`;
  const changesLimit = opts.changesLimit ?? 1024 * 1024;
  let db: Database | undefined;
  let gen = 0;
  let snapshotBytes = 0;
  let changesBytes = 0;
  let replayed = 0;
  let needsSnapshot = persistent;
  if (persistent && existsSync(path)) {
    try {
      const data = readFileSync(path);
      db = new SQL.Database(data);
      db.exec('PRAGMA quick_check');
      db.exec(opts.schema);
      gen = Number(db.exec('PRAGMA user_version')[0]?.values[0]?.[0] ?? 0);
      snapshotBytes = data.length;
      needsSnapshot = false;
    } catch (err) {
      const aside = moveAside(path);
      if (existsSync(changesPath)) moveAside(changesPath);
      log.error(`database ${path} cannot be opened (${errorText(err)}); moved it to ${aside} and starting empty`);
      db?.close();
      db = undefined;
    }
  }
  if (db && existsSync(changesPath)) {
    try {
      const r = replay(db, changesPath, gen, log);
      // changes already in the snapshot (a crash right after a save) are not applied again
      if (r === undefined) needsSnapshot = true;
      else ({ bytes: changesBytes, transactions: replayed, torn: needsSnapshot } = r); // after a torn entry, appending would glue the next one to it: start a new file
    } catch (err) {
      const aside = moveAside(changesPath);
      log.error(`database ${path}: its changes file cannot be replayed (${errorText(err)}); moved it to ${aside} and starting empty`);
      db.close();
      moveAside(path);
      db = undefined;
      needsSnapshot = true;
    }
  } else if (db) {
    needsSnapshot = true; // no changes file (one written before they existed, or removed): start one, with its header
  }
  if (!db) {
    db = new SQL.Database();
    db.exec(opts.schema);
    gen = 0;
  }
  if (persistent) mkdirSync(dirname(path), { recursive: true });
  const live = db;

  let pending: string[] = [];
  let txStatements: Statement[] = [];
  let waiting: { resolve(): void; reject(err: Error): void }[] = [];
  let fh: FileHandle | undefined;
  let chain: Promise<void> = Promise.resolve();
  let cancelTimer: (() => void) | undefined;
  let closed = false;
  let txDepth = 0;
  let snapshots = 0;
  let failure: string | undefined;
  let unsaved = replayed > 0; // changes on disk that the snapshot does not hold

  const fsyncDir = async (): Promise<void> => {
    const dir = await open(dirname(path), 'r');
    await dir.sync().finally(() => dir.close());
  };

  /** saves the whole store as the next generation, and starts its (empty) changes file */
  const saveSnapshot = async (): Promise<void> => {
    live.run(`PRAGMA user_version = ${gen + 1}`);
    const data = live.export();
    const tmp = `${path}.tmp`;
    const out = await open(tmp, 'w', 0o600);
    try {
      await out.writeFile(data);
      await out.sync();
    } finally {
      await out.close();
    }
    await rename(tmp, path);
    await fsyncDir();
    gen++;
    snapshotBytes = data.length;
    await fh?.close();
    fh = undefined;
    fh = await open(changesPath, 'w', 0o600);
    const header = `${JSON.stringify({ gen })}\n`;
    await fh.write(header);
    await fh.datasync();
    await fsyncDir(); // a changes file made now must still be there after a power cut
    changesBytes = header.length;
    unsaved = false;
    snapshots++;
  };

  /** is the file at the changes path the one we append to? Appending to one removed or replaced under us would lose the changes */
  const changesFileIsOurs = async (): Promise<boolean> => {
    if (!fh) return true; // it is opened at the path just below
    const [onDisk, ours] = await Promise.all([stat(changesPath).catch(() => undefined), fh.stat()]);
    return onDisk !== undefined && onDisk.ino === ours.ino && onDisk.dev === ours.dev;
  };

  const flush = async (compactNow = false): Promise<void> => {
    cancelTimer = undefined;
    const lines = pending;
    const batch = waiting;
    pending = [];
    waiting = [];
    if (!persistent || (lines.length === 0 && !needsSnapshot && !compactNow)) return batch.forEach((w) => w.resolve());
    try {
      if (needsSnapshot || compactNow || changesBytes > Math.max(changesLimit, snapshotBytes / 8) || !(await changesFileIsOurs())) {
        await saveSnapshot(); // the snapshot holds these changes too
        needsSnapshot = false;
      } else {
        fh ??= await open(changesPath, 'a', 0o600);
        const data = lines.join('');
        await fh.write(data);
        await fh.datasync();
        changesBytes += Buffer.byteLength(data);
        unsaved = true;
      }
      failure = undefined;
      batch.forEach((w) => w.resolve());
    } catch (err) {
      const e = new KubeEdgeError('store_failed', `cannot persist ${path}: ${errorText(err)}`);
      failure = e.message;
      log.error(e.message);
      pending = lines.concat(pending); // kept for the next attempt
      await fh?.close().catch(() => undefined);
      fh = undefined;
      needsSnapshot = true; // the changes file may hold part of a line now
      batch.forEach((w) => w.reject(e));
    }
  };

  const schedule = (): void => {
    if (cancelTimer !== undefined || closed) return;
    const go = (): void => void (chain = chain.then(() => flush()));
    const batchMs = opts.batchMs ?? 5;
    // setTimeout(0) waits a millisecond: with no batching wanted, write on the next turn
    if (batchMs > 0) {
      const t = setTimeout(go, batchMs);
      cancelTimer = () => clearTimeout(t);
    } else {
      const t = setImmediate(go);
      cancelTimer = () => clearImmediate(t);
    }
  };

  const record = (statements: Statement[]): void => {
    if (persistent) pending.push(`${JSON.stringify(statements, encodeParam)}\n`);
  };

  const run = (sql: string, params?: SqlValue[]): number => {
    live.run(sql, params);
    if (txDepth > 0) txStatements.push([sql, params ?? null]);
    else record([[sql, params ?? null]]);
    return live.getRowsModified();
  };
  const all = (sql: string, params?: SqlValue[]): Row[] => {
    const st = live.prepare(sql);
    try {
      if (params) st.bind(params);
      const rows: Row[] = [];
      while (st.step()) rows.push(st.getAsObject());
      return rows;
    } finally {
      st.free();
    }
  };

  return {
    run,
    all,
    get: (sql, params) => all(sql, params)[0],
    tx(fn) {
      if (txDepth > 0) {
        // nested: part of the outer transaction
        txDepth++;
        try {
          return fn();
        } finally {
          txDepth--;
        }
      }
      live.run('BEGIN');
      txDepth = 1;
      txStatements = [];
      try {
        const out = fn();
        live.run('COMMIT');
        if (txStatements.length > 0) record(txStatements);
        return out;
      } catch (err) {
        live.run('ROLLBACK');
        throw err;
      } finally {
        txDepth = 0;
        txStatements = [];
      }
    },
    commit() {
      if (!persistent) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        waiting.push({ resolve, reject });
        schedule();
      });
    },
    size: () => snapshotBytes + changesBytes,
    failing: () => failure,
    snapshots: () => snapshots,
    async close() {
      if (closed) return;
      closed = true;
      cancelTimer?.();
      // a clean stop leaves one complete SQLite file (what `sqlite3 edgecore.db` shows)
      chain = chain.then(() => flush(unsaved || pending.length > 0));
      await chain;
      await fh?.close();
      fh = undefined;
      live.close();
    },
  };
}
