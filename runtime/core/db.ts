/**
 * SQLite (sql.js) with durable, atomic, batched persistence.
 *
 * sql.js keeps the whole database in memory, so persisting means writing the whole file: a temp
 * file, fsync, rename, fsync of the folder. `commit()` is a group commit: every write made before
 * the next flush shares one file write, and the promise resolves only once it is on disk, so a
 * caller may acknowledge a message after awaiting it. A file that will not open is moved aside
 * and the store starts empty (the cloud then resends everything).
 */
import { mkdirSync, existsSync, readFileSync, renameSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
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
  /** bytes of the last persisted file */
  size(): number;
  /** why the last write to disk failed, until one succeeds */
  failing(): string | undefined;
  close(): Promise<void>;
}

export interface DbOptions {
  path: string; // ':memory:' for no file
  schema: string;
  log: Logger;
  /** longest a write waits to be batched with others (ms) */
  batchMs?: number;
}

let sqlPromise: ReturnType<typeof initSqlJs> | undefined;

export async function openDb(opts: DbOptions): Promise<Db> {
  const SQL = await (sqlPromise ??= initSqlJs({ wasmBinary: sqlWasmBinary() }));
  const { path, log } = opts;
  const persistent = path !== ':memory:';
  let db: Database | undefined;
  if (persistent && existsSync(path)) {
    try {
      db = new SQL.Database(readFileSync(path));
      db.exec('PRAGMA quick_check');
      db.exec(opts.schema);
    } catch (err) {
      const aside = `${path}.corrupt-${Date.now()}`;
      renameSync(path, aside);
      log.error(`database ${path} cannot be opened (${errorText(err)}); moved it to ${aside} and starting empty`);
      db = undefined;
    }
  }
  if (!db) {
    db = new SQL.Database();
    db.exec(opts.schema);
  }
  if (persistent) mkdirSync(dirname(path), { recursive: true });
  const live = db;

  let dirty = persistent;
  let lastSize = 0;
  let waiting: { resolve(): void; reject(err: Error): void }[] = [];
  let flushing: Promise<void> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  let txDepth = 0;

  const writeFile = async (data: Uint8Array): Promise<void> => {
    const tmp = `${path}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    const dir = await open(dirname(path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    lastSize = data.length;
  };

  let failure: string | undefined;
  const flush = async (): Promise<void> => {
    timer = undefined;
    if (flushing) await flushing.catch(() => undefined);
    const batch = waiting;
    waiting = [];
    if (!dirty) {
      for (const w of batch) w.resolve();
      return;
    }
    dirty = false;
    const data = live.export();
    flushing = writeFile(data);
    try {
      await flushing;
      failure = undefined;
      for (const w of batch) w.resolve();
    } catch (err) {
      dirty = true;
      const e = new KubeEdgeError('store_failed', `cannot persist ${path}: ${errorText(err)}`);
      failure = e.message;
      log.error(e.message);
      for (const w of batch) w.reject(e);
    } finally {
      flushing = undefined;
    }
  };

  const schedule = (): void => {
    if (timer === undefined && !closed) timer = setTimeout(() => void flush(), opts.batchMs ?? 5);
  };

  const run = (sql: string, params?: SqlValue[]): number => {
    live.run(sql, params);
    dirty = persistent;
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
      try {
        const out = fn();
        live.run('COMMIT');
        return out;
      } catch (err) {
        live.run('ROLLBACK');
        throw err;
      } finally {
        txDepth = 0;
      }
    },
    commit() {
      if (!persistent) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        waiting.push({ resolve, reject });
        schedule();
      });
    },
    size: () => lastSize,
    failing: () => failure,
    async close() {
      if (closed) return;
      if (timer !== undefined) clearTimeout(timer);
      if (persistent) await flush();
      closed = true;
      live.close();
    },
  };
}
