/**
 * A durable key-value journal (the cloud's store, the edge's outbox): tables of JSON values held in memory, every change
 * appended to one file as a JSON line. A commit is a group commit (one write and one fdatasync for
 * every change made since the last), so a write costs its own bytes, not the whole database; when
 * the file has grown to several times the live data it is compacted (snapshot to a temp file,
 * fsync, rename). What a crash mid-write left unreadable is dropped on replay, and the file rewritten.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { open, rename, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { KubeEdgeError, errorText } from './errors.js';
import type { Logger } from './log.js';

type Entry = { t: string; k: string; v?: unknown };

export interface Journal {
  get<T>(table: string, key: string): T | undefined;
  entries<T>(table: string): IterableIterator<[string, T]>;
  set(table: string, key: string, value: unknown): void;
  delete(table: string, key: string): boolean;
  /** resolves when every change so far is on disk */
  commit(): Promise<void>;
  /** persists within `maxDelayMs`, for changes whose loss the system repairs by itself */
  persistLater(maxDelayMs?: number): void;
  close(): Promise<void>;
  /** the file's size, and how many times it was rewritten compact */
  stats(): { fileBytes: number; compactions: number };
  /** why the last write to disk failed, until one succeeds */
  failing(): string | undefined;
}

export async function openJournal(path: string, log: Logger, opts: { batchMs?: number } = {}): Promise<Journal> {
  const tables = new Map<string, Map<string, unknown>>();
  const table = (t: string): Map<string, unknown> => {
    let m = tables.get(t);
    if (!m) tables.set(t, (m = new Map()));
    return m;
  };
  const memory = path === ':memory:';
  let fileBytes = 0;
  let unfinished = false;
  if (!memory && existsSync(path)) {
    const text = readFileSync(path, 'utf8');
    fileBytes = Buffer.byteLength(text);
    const lines = text.split('\n');
    let bad = 0;
    lines.forEach((line) => {
      if (line === '') return;
      try {
        const e = JSON.parse(line) as Entry;
        if (typeof e.t !== 'string' || typeof e.k !== 'string') throw new Error('not an entry');
        if ('v' in e) table(e.t).set(e.k, e.v);
        else table(e.t).delete(e.k);
      } catch {
        bad++;
      }
    });
    // A power cut in the middle of a write leaves its end unfinished: a torn last line, or (the disk
    // writes a file's pages in any order) a stretch of zeros or half a line before lines that made
    // it. Only that last write can be damaged: each earlier one was fdatasynced before the next began,
    // and it was acknowledged to nobody. What is readable is kept, and the file is written again
    // clean: appended to as it is, the next entry would be glued to the damage and lost with it.
    if (bad > 0) {
      log.warn(`${path}: dropped ${bad} unreadable line(s) at the end of an unfinished write (a crash mid-write); kept the rest, rewriting the file`);
      unfinished = true;
    }
  }
  if (!memory) mkdirSync(dirname(path), { recursive: true });

  let pending: string[] = [];
  let pendingBytes = 0;
  let waiting: { resolve(): void; reject(e: Error): void }[] = [];
  let fh: FileHandle | undefined;
  let chain: Promise<void> = Promise.resolve();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timerDue = Infinity;
  let closed = false;
  let needsSnapshot = unfinished;
  let nextCompactionCheck = 4 * 1024 * 1024;
  let compactions = 0;
  let failure: string | undefined;

  const liveBytes = (): number => {
    let n = 0;
    for (const [t, m] of tables) for (const [k, v] of m) n += t.length + k.length + JSON.stringify(v).length + 20;
    return n;
  };

  /** the file's entry in its folder is durable too: a file made since the folder was last synced could vanish in a power cut */
  let dirSynced = memory || existsSync(path);
  const syncDir = async (): Promise<void> => {
    const dir = await open(dirname(path), 'r');
    await dir.sync().finally(() => dir.close());
    dirSynced = true;
  };

  const snapshot = async (): Promise<void> => {
    const tmp = `${path}.tmp`;
    const out = await open(tmp, 'w', 0o600);
    let bytes = 0;
    try {
      let chunk: string[] = [];
      for (const [t, m] of tables) {
        for (const [k, v] of m) {
          const line = JSON.stringify({ t, k, v }) + '\n';
          bytes += Buffer.byteLength(line);
          chunk.push(line);
          if (chunk.length >= 1000) {
            await out.write(chunk.join(''));
            chunk = [];
          }
        }
      }
      await out.write(chunk.join(''));
      await out.sync();
    } finally {
      await out.close();
    }
    await fh?.close();
    fh = undefined;
    await rename(tmp, path);
    await syncDir();
    fileBytes = bytes;
  };

  const flush = async (): Promise<void> => {
    timer = undefined;
    timerDue = Infinity;
    const lines = pending;
    const batch = waiting;
    pending = [];
    pendingBytes = 0;
    waiting = [];
    if (memory || (lines.length === 0 && !needsSnapshot)) return batch.forEach((w) => w.resolve());
    try {
      let compact = needsSnapshot;
      if (!compact && fileBytes > nextCompactionCheck) {
        compact = fileBytes > 3 * liveBytes();
        nextCompactionCheck = compact ? 4 * 1024 * 1024 : fileBytes * 1.5;
      }
      if (compact) {
        needsSnapshot = false;
        await snapshot(); // the snapshot holds the pending changes too
        compactions++;
      } else {
        fh ??= await open(path, 'a', 0o600);
        const data = lines.join('');
        await fh.write(data);
        await fh.datasync();
        if (!dirSynced) await syncDir();
        fileBytes += Buffer.byteLength(data);
      }
      failure = undefined;
      batch.forEach((w) => w.resolve());
    } catch (err) {
      const e = new KubeEdgeError('store_failed', `cannot write ${path}: ${errorText(err)}`);
      failure = e.message;
      log.error(e.message);
      pending = lines.concat(pending); // keep them for the next attempt
      batch.forEach((w) => w.reject(e));
    }
  };

  const schedule = (delayMs: number): void => {
    if (closed) return;
    const due = Date.now() + delayMs;
    if (timer !== undefined && timerDue <= due) return;
    if (timer !== undefined) clearTimeout(timer);
    timerDue = due;
    timer = setTimeout(() => {
      chain = chain.then(flush);
    }, delayMs);
  };

  const append = (e: Entry): void => {
    const line = JSON.stringify(e) + '\n';
    pending.push(line);
    pendingBytes += line.length;
    // a flood of lazy writes must not wait in memory for its timer
    if (pendingBytes > 1024 * 1024) schedule(0);
  };

  return {
    get: <T>(t: string, k: string) => tables.get(t)?.get(k) as T | undefined,
    entries: <T>(t: string) => (tables.get(t) ?? new Map<string, unknown>()).entries() as IterableIterator<[string, T]>,
    set(t, k, v) {
      table(t).set(k, v);
      append({ t, k, v });
    },
    delete(t, k) {
      const had = tables.get(t)?.delete(k) ?? false;
      if (had) append({ t, k });
      return had;
    },
    commit() {
      return new Promise<void>((resolve, reject) => {
        waiting.push({ resolve, reject });
        schedule(opts.batchMs ?? 2);
      });
    },
    persistLater(maxDelayMs = 1000) {
      schedule(maxDelayMs);
    },
    stats: () => ({ fileBytes, compactions }),
    failing: () => failure,
    async close() {
      if (closed) return;
      if (timer !== undefined) clearTimeout(timer);
      chain = chain.then(flush);
      await chain;
      closed = true;
      await fh?.close();
      fh = undefined;
    },
  };
}
