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

/** a store as opened: the database, its generation, what is on disk, and whether it must be saved whole */
interface Loaded {
  db: Database;
  gen: number;
  snapshotBytes: number;
  changesBytes: number;
  /** transactions replayed from the changes file: on disk, not in the snapshot */
  replayed: number;
  needsSnapshot: boolean;
}

type SqlJs = Awaited<ReturnType<typeof initSqlJs>>;

/**
 * SQLite's page cache, small: sql.js keeps the whole file in memory already (its in-memory file
 * system), so a page cache of SQLite's default 2 MiB only holds a second copy, in WASM memory that
 * is never given back.
 */
const PAGE_CACHE = 'PRAGMA cache_size = -256';

/** the snapshot at `path`, checked; a file that will not open is moved aside (with its changes) */
function loadSnapshot(SQL: SqlJs, opts: DbOptions): { db: Database; gen: number; bytes: number } | undefined {
  const { path, log } = opts;
  let db: Database | undefined;
  try {
    const data = readFileSync(path);
    db = new SQL.Database(data);
    db.exec(PAGE_CACHE);
    db.exec('PRAGMA quick_check');
    db.exec(opts.schema);
    return { db, gen: Number(db.exec('PRAGMA user_version')[0]?.values[0]?.[0] ?? 0), bytes: data.length };
  } catch (err) {
    const aside = moveAside(path);
    if (existsSync(`${path}.changes`)) moveAside(`${path}.changes`);
    log.error(`database ${path} cannot be opened (${errorText(err)}); moved it to ${aside} and starting empty`);
    db?.close();
    return undefined;
  }
}

/** opens the store: its snapshot with its changes replayed, or an empty one */
function load(SQL: SqlJs, opts: DbOptions): Loaded {
  const { path, log } = opts;
  const changesPath = `${path}.changes`;
  const persistent = path !== ':memory:';
  const snap = persistent && existsSync(path) ? loadSnapshot(SQL, opts) : undefined;
  if (snap && !existsSync(changesPath)) {
    // no changes file (one written before they existed, or removed): start one, with its header
    return { db: snap.db, gen: snap.gen, snapshotBytes: snap.bytes, changesBytes: 0, replayed: 0, needsSnapshot: true };
  }
  if (snap) {
    try {
      const r = replay(snap.db, changesPath, snap.gen, log);
      const base = { db: snap.db, gen: snap.gen, snapshotBytes: snap.bytes };
      // changes already in the snapshot (a crash right after a save) are not applied again
      if (r === undefined) return { ...base, changesBytes: 0, replayed: 0, needsSnapshot: true };
      // after a torn entry, appending would glue the next one to it: start a new file
      return { ...base, changesBytes: r.bytes, replayed: r.transactions, needsSnapshot: r.torn };
    } catch (err) {
      const aside = moveAside(changesPath);
      log.error(`database ${path}: its changes file cannot be replayed (${errorText(err)}); moved it to ${aside} and starting empty`);
      snap.db.close();
      moveAside(path);
    }
  }
  const db = new SQL.Database();
  db.exec(PAGE_CACHE);
  db.exec(opts.schema);
  return { db, gen: 0, snapshotBytes: 0, changesBytes: 0, replayed: 0, needsSnapshot: persistent };
}

/**
 * sql.js, its wasm compiled from bytes nobody keeps: given as `wasmBinary`, the module's 640 KiB
 * would stay referenced by sql.js for the life of the process.
 */
function loadSqlJs(): Promise<SqlJs> {
  let failed!: (err: unknown) => void;
  const failure = new Promise<never>((_, reject) => (failed = reject));
  const loaded = initSqlJs({
    instantiateWasm: (imports, done) => {
      WebAssembly.instantiate(sqlWasmBinary() as Uint8Array<ArrayBuffer>, imports).then((r) => done(r.instance), failed);
      return {};
    },
  });
  return Promise.race([loaded, failure]);
}

export async function openDb(opts: DbOptions): Promise<Db> {
  const SQL = await (sqlPromise ??= loadSqlJs());
  const loaded = load(SQL, opts);
  if (opts.path !== ':memory:') mkdirSync(dirname(opts.path), { recursive: true });
  return new SqlDb(opts, loaded);
}

class SqlDb implements Db {
  private readonly live: Database;
  private readonly persistent: boolean;
  private readonly path: string;
  private readonly changesPath: string;
  private readonly changesLimit: number;
  private gen: number;
  private snapshotBytes: number;
  private changesBytes: number;
  private needsSnapshot: boolean;
  private pending: string[] = [];
  private txStatements: Statement[] = [];
  private waiting: { resolve(): void; reject(err: Error): void }[] = [];
  private fh: FileHandle | undefined;
  private chain: Promise<void> = Promise.resolve();
  private cancelTimer: (() => void) | undefined;
  private closed = false;
  private txDepth = 0;
  private saves = 0;
  private failure: string | undefined;
  /** changes on disk that the snapshot does not hold */
  private unsaved: boolean;

  constructor(
    private readonly opts: DbOptions,
    loaded: Loaded,
  ) {
    this.live = loaded.db;
    this.path = opts.path;
    this.persistent = opts.path !== ':memory:';
    this.changesPath = `${opts.path}.changes`;
    this.changesLimit = opts.changesLimit ?? 1024 * 1024;
    this.gen = loaded.gen;
    this.snapshotBytes = loaded.snapshotBytes;
    this.changesBytes = loaded.changesBytes;
    this.needsSnapshot = loaded.needsSnapshot;
    this.unsaved = loaded.replayed > 0;
  }

  private async fsyncDir(): Promise<void> {
    const dir = await open(dirname(this.path), 'r');
    await dir.sync().finally(() => dir.close());
  }

  /** saves the whole store as the next generation, and starts its (empty) changes file */
  private async saveSnapshot(): Promise<void> {
    this.live.run(`PRAGMA user_version = ${this.gen + 1}`);
    const data = this.live.export();
    const tmp = `${this.path}.tmp`;
    const out = await open(tmp, 'w', 0o600);
    try {
      await out.writeFile(data);
      await out.sync();
    } finally {
      await out.close();
    }
    await rename(tmp, this.path);
    await this.fsyncDir();
    this.gen++;
    this.snapshotBytes = data.length;
    await this.fh?.close();
    this.fh = undefined;
    this.fh = await open(this.changesPath, 'w', 0o600);
    const header = `${JSON.stringify({ gen: this.gen })}\n`;
    await this.fh.write(header);
    await this.fh.datasync();
    await this.fsyncDir(); // a changes file made now must still be there after a power cut
    this.changesBytes = header.length;
    this.unsaved = false;
    this.saves++;
  }

  /** is the file at the changes path the one we append to? Appending to one removed or replaced under us would lose the changes */
  private async changesFileIsOurs(): Promise<boolean> {
    if (!this.fh) return true; // it is opened at the path just below
    const [onDisk, ours] = await Promise.all([stat(this.changesPath).catch(() => undefined), this.fh.stat()]);
    return onDisk !== undefined && onDisk.ino === ours.ino && onDisk.dev === ours.dev;
  }

  /** writes `lines`: appended to the changes file, or the store saved whole when it is time to */
  private async write(lines: readonly string[], compactNow: boolean): Promise<void> {
    const big = this.changesBytes > Math.max(this.changesLimit, this.snapshotBytes / 8);
    if (this.needsSnapshot || compactNow || big || !(await this.changesFileIsOurs())) {
      await this.saveSnapshot(); // the snapshot holds these changes too
      this.needsSnapshot = false;
      return;
    }
    this.fh ??= await open(this.changesPath, 'a', 0o600);
    const data = lines.join('');
    await this.fh.write(data);
    await this.fh.datasync();
    this.changesBytes += Buffer.byteLength(data);
    this.unsaved = true;
  }

  private async flush(compactNow = false): Promise<void> {
    this.cancelTimer = undefined;
    const lines = this.pending;
    const batch = this.waiting;
    this.pending = [];
    this.waiting = [];
    if (!this.persistent || (lines.length === 0 && !this.needsSnapshot && !compactNow)) return batch.forEach((w) => w.resolve());
    try {
      await this.write(lines, compactNow);
      this.failure = undefined;
      batch.forEach((w) => w.resolve());
    } catch (err) {
      const e = new KubeEdgeError('store_failed', `cannot persist ${this.path}: ${errorText(err)}`);
      this.failure = e.message;
      this.opts.log.error(e.message);
      this.pending = lines.concat(this.pending); // kept for the next attempt
      await this.fh?.close().catch(() => undefined);
      this.fh = undefined;
      this.needsSnapshot = true; // the changes file may hold part of a line now
      batch.forEach((w) => w.reject(e));
    }
  }

  private schedule(): void {
    if (this.cancelTimer !== undefined || this.closed) return;
    const go = (): void => void (this.chain = this.chain.then(() => this.flush()));
    const batchMs = this.opts.batchMs ?? 5;
    // setTimeout(0) waits a millisecond: with no batching wanted, write on the next turn
    if (batchMs > 0) {
      const t = setTimeout(go, batchMs);
      this.cancelTimer = () => clearTimeout(t);
    } else {
      const t = setImmediate(go);
      this.cancelTimer = () => clearImmediate(t);
    }
  }

  private record(statements: Statement[]): void {
    if (this.persistent) this.pending.push(`${JSON.stringify(statements, encodeParam)}\n`);
  }

  run(sql: string, params?: SqlValue[]): number {
    this.live.run(sql, params);
    if (this.txDepth > 0) this.txStatements.push([sql, params ?? null]);
    else this.record([[sql, params ?? null]]);
    return this.live.getRowsModified();
  }

  all(sql: string, params?: SqlValue[]): Row[] {
    const st = this.live.prepare(sql);
    try {
      if (params) st.bind(params);
      const rows: Row[] = [];
      while (st.step()) rows.push(st.getAsObject());
      return rows;
    } finally {
      st.free();
    }
  }

  get(sql: string, params?: SqlValue[]): Row | undefined {
    return this.all(sql, params)[0];
  }

  tx<T>(fn: () => T): T {
    if (this.txDepth > 0) {
      // nested: part of the outer transaction
      this.txDepth++;
      try {
        return fn();
      } finally {
        this.txDepth--;
      }
    }
    this.live.run('BEGIN');
    this.txDepth = 1;
    this.txStatements = [];
    try {
      const out = fn();
      this.live.run('COMMIT');
      if (this.txStatements.length > 0) this.record(this.txStatements);
      return out;
    } catch (err) {
      this.live.run('ROLLBACK');
      throw err;
    } finally {
      this.txDepth = 0;
      this.txStatements = [];
    }
  }

  commit(): Promise<void> {
    if (!this.persistent) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.schedule();
    });
  }

  size(): number {
    return this.snapshotBytes + this.changesBytes;
  }

  failing(): string | undefined {
    return this.failure;
  }

  snapshots(): number {
    return this.saves;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cancelTimer?.();
    // a clean stop leaves one complete SQLite file (what `sqlite3 edgecore.db` shows)
    this.chain = this.chain.then(() => this.flush(this.unsaved || this.pending.length > 0));
    await this.chain;
    await this.fh?.close();
    this.fh = undefined;
    this.live.close();
  }
}
