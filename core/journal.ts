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

type Tables = Map<string, Map<string, unknown>>;

function tableOf(tables: Tables, t: string): Map<string, unknown> {
  let m = tables.get(t);
  if (!m) tables.set(t, (m = new Map()));
  return m;
}

/** the journal's file read into tables; `unfinished` when a crash mid-write left lines unreadable */
function readJournal(path: string, log: Logger): { tables: Tables; fileBytes: number; unfinished: boolean } {
  const tables: Tables = new Map();
  if (path === ':memory:' || !existsSync(path)) return { tables, fileBytes: 0, unfinished: false };
  const text = readFileSync(path, 'utf8');
  let bad = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    try {
      const e = JSON.parse(line) as Entry;
      if (typeof e.t !== 'string' || typeof e.k !== 'string') throw new Error('not an entry');
      if ('v' in e) tableOf(tables, e.t).set(e.k, e.v);
      else tableOf(tables, e.t).delete(e.k);
    } catch {
      bad++;
    }
  }
  // A power cut in the middle of a write leaves its end unfinished: a torn last line, or (the disk
  // writes a file's pages in any order) a stretch of zeros or half a line before lines that made
  // it. Only that last write can be damaged: each earlier one was fdatasynced before the next began,
  // and it was acknowledged to nobody. What is readable is kept, and the file is written again
  // clean: appended to as it is, the next entry would be glued to the damage and lost with it.
  if (bad > 0) log.warn(`${path}: dropped ${bad} unreadable line(s) at the end of an unfinished write (a crash mid-write); kept the rest, rewriting the file`);
  return { tables, fileBytes: Buffer.byteLength(text), unfinished: bad > 0 };
}

export async function openJournal(path: string, log: Logger, opts: { batchMs?: number } = {}): Promise<Journal> {
  const read = readJournal(path, log);
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  return new FileJournal(path, log, opts.batchMs ?? 2, read);
}

class FileJournal implements Journal {
  private readonly memory: boolean;
  private readonly tables: Tables;
  private fileBytes: number;
  private pending: string[] = [];
  private pendingBytes = 0;
  private waiting: { resolve(): void; reject(e: Error): void }[] = [];
  private fh: FileHandle | undefined;
  private chain: Promise<void> = Promise.resolve();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerDue = Infinity;
  private closed = false;
  private needsSnapshot: boolean;
  private nextCompactionCheck = 4 * 1024 * 1024;
  private compactions = 0;
  private failure: string | undefined;
  /** the file's entry in its folder is durable too: a file made since the folder was last synced could vanish in a power cut */
  private dirSynced: boolean;

  constructor(
    private readonly path: string,
    private readonly log: Logger,
    private readonly batchMs: number,
    read: { tables: Tables; fileBytes: number; unfinished: boolean },
  ) {
    this.memory = path === ':memory:';
    this.tables = read.tables;
    this.fileBytes = read.fileBytes;
    this.needsSnapshot = read.unfinished;
    this.dirSynced = this.memory || existsSync(path);
  }

  private liveBytes(): number {
    let n = 0;
    for (const [t, m] of this.tables) for (const [k, v] of m) n += t.length + k.length + JSON.stringify(v).length + 20;
    return n;
  }

  private async syncDir(): Promise<void> {
    const dir = await open(dirname(this.path), 'r');
    await dir.sync().finally(() => dir.close());
    this.dirSynced = true;
  }

  private async snapshot(): Promise<void> {
    const tmp = `${this.path}.tmp`;
    const out = await open(tmp, 'w', 0o600);
    let bytes = 0;
    try {
      let chunk: string[] = [];
      for (const [t, m] of this.tables) {
        for (const [k, v] of m) {
          const line = JSON.stringify({ t, k, v }) + '\n';
          bytes += Buffer.byteLength(line);
          chunk.push(line);
          if (chunk.length < 1000) continue;
          await out.write(chunk.join(''));
          chunk = [];
        }
      }
      await out.write(chunk.join(''));
      await out.sync();
    } finally {
      await out.close();
    }
    await this.fh?.close();
    this.fh = undefined;
    await rename(tmp, this.path);
    await this.syncDir();
    this.fileBytes = bytes;
  }

  /** is it time to rewrite the file compact? (checked at growing sizes: counting the live data costs) */
  private compactNow(): boolean {
    if (this.needsSnapshot) return true;
    if (this.fileBytes <= this.nextCompactionCheck) return false;
    const compact = this.fileBytes > 3 * this.liveBytes();
    this.nextCompactionCheck = compact ? 4 * 1024 * 1024 : this.fileBytes * 1.5;
    return compact;
  }

  private async write(lines: readonly string[]): Promise<void> {
    if (this.compactNow()) {
      this.needsSnapshot = false;
      await this.snapshot(); // the snapshot holds the pending changes too
      this.compactions++;
      return;
    }
    this.fh ??= await open(this.path, 'a', 0o600);
    const data = lines.join('');
    await this.fh.write(data);
    await this.fh.datasync();
    if (!this.dirSynced) await this.syncDir();
    this.fileBytes += Buffer.byteLength(data);
  }

  private async flush(): Promise<void> {
    this.timer = undefined;
    this.timerDue = Infinity;
    const lines = this.pending;
    const batch = this.waiting;
    this.pending = [];
    this.pendingBytes = 0;
    this.waiting = [];
    if (this.memory || (lines.length === 0 && !this.needsSnapshot)) return batch.forEach((w) => w.resolve());
    try {
      await this.write(lines);
      this.failure = undefined;
      batch.forEach((w) => w.resolve());
    } catch (err) {
      const e = new KubeEdgeError('store_failed', `cannot write ${this.path}: ${errorText(err)}`);
      this.failure = e.message;
      this.log.error(e.message);
      this.pending = lines.concat(this.pending); // keep them for the next attempt
      batch.forEach((w) => w.reject(e));
    }
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    const due = Date.now() + delayMs;
    if (this.timer !== undefined && this.timerDue <= due) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.chain = this.chain.then(() => this.flush());
    }, delayMs);
  }

  private append(e: Entry): void {
    const line = JSON.stringify(e) + '\n';
    this.pending.push(line);
    this.pendingBytes += line.length;
    // a flood of lazy writes must not wait in memory for its timer
    if (this.pendingBytes > 1024 * 1024) this.schedule(0);
  }

  get<T>(t: string, k: string): T | undefined {
    return this.tables.get(t)?.get(k) as T | undefined;
  }

  entries<T>(t: string): IterableIterator<[string, T]> {
    return (this.tables.get(t) ?? new Map<string, unknown>()).entries() as IterableIterator<[string, T]>;
  }

  set(t: string, k: string, v: unknown): void {
    tableOf(this.tables, t).set(k, v);
    this.append({ t, k, v });
  }

  delete(t: string, k: string): boolean {
    const had = this.tables.get(t)?.delete(k) ?? false;
    if (had) this.append({ t, k });
    return had;
  }

  commit(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.schedule(this.batchMs);
    });
  }

  persistLater(maxDelayMs = 1000): void {
    this.schedule(maxDelayMs);
  }

  stats(): { fileBytes: number; compactions: number } {
    return { fileBytes: this.fileBytes, compactions: this.compactions };
  }

  failing(): string | undefined {
    return this.failure;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.chain = this.chain.then(() => this.flush());
    await this.chain;
    this.closed = true;
    await this.fh?.close();
    this.fh = undefined;
  }
}
