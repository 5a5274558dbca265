/**
 * A durable key-value journal (the cloud's store, the edge's outbox and twins): tables of values
 * held in memory, every change appended to one file. A commit is a group commit: one binary record
 * (its length and CRC-32, then the changes in CBOR; see journal-file.ts), one write and one
 * fdatasync for every change made since the last, so a write costs its own bytes, not the whole
 * database. When the file has grown to several times the live data it is compacted (snapshot to a
 * temp file, fsync, rename). What a crash mid-write left unreadable is dropped on replay, and the
 * file rewritten; a file of the old format (JSON lines) is rewritten in this one when opened.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { open, rename, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { KubeEdgeError, errorText } from './errors.js';
import type { Logger } from './log.js';
import { JOURNAL_MARK, encodeChange, encodedBytes, readJournalFile, record, tableOf, type Tables } from './journal-file.js';

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

interface Read {
  tables: Tables;
  fileBytes: number;
  /** a crash mid-write left damage at the end, or the file is of the old format: rewrite it */
  rewrite: boolean;
}

/** the journal's file read into tables */
function readJournal(path: string, log: Logger): Read {
  if (path === ':memory:' || !existsSync(path)) return { tables: new Map(), fileBytes: 0, rewrite: false };
  const data = readFileSync(path);
  const read = readJournalFile(data);
  // A power cut in the middle of a write leaves its end unfinished: a torn last record, or (the
  // disk writes a file's pages in any order) a stretch of zeros. Only that last write can be
  // damaged: each earlier one was fdatasynced before the next began, and it was acknowledged to
  // nobody. What is readable is kept, and the file is written again clean: appended to as it is,
  // the next record would follow the damage and be lost with it.
  if (read.damaged > 0) log.warn(`${path}: dropped ${read.damaged} unreadable ${read.legacy ? 'line(s)' : 'record'} at the end of an unfinished write (a crash mid-write); kept the rest, rewriting the file`);
  if (read.legacy && data.length > 0) log.info(`${path}: written as JSON lines (an older version); rewriting it as binary records`);
  return { tables: read.tables, fileBytes: data.length, rewrite: read.damaged > 0 || read.legacy };
}

export async function openJournal(path: string, log: Logger, opts: { batchMs?: number } = {}): Promise<Journal> {
  const read = readJournal(path, log);
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const journal = new FileJournal(path, log, opts.batchMs ?? 2, read);
  // damage or the old format is rewritten now, not at the first change: the file on disk is then
  // whole and of this version whether or not anything changes
  if (read.rewrite) await journal.commit();
  return journal;
}

interface Batch {
  promise: Promise<void>;
  resolve(): void;
  reject(e: Error): void;
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

class FileJournal implements Journal {
  private readonly memory: boolean;
  private readonly tables: Tables;
  private fileBytes: number;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** the commit the changes made since the last write wait for: one promise shared by all its callers */
  private batch: Batch | undefined;
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
    read: Read,
  ) {
    this.memory = path === ':memory:';
    this.tables = read.tables;
    this.fileBytes = read.fileBytes;
    this.needsSnapshot = read.rewrite;
    this.dirSynced = this.memory || existsSync(path);
  }

  private liveBytes(): number {
    let n = 0;
    for (const [t, m] of this.tables) for (const [k, v] of m) n += encodedBytes(t, k, v) + 1;
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
    let bytes = JOURNAL_MARK.length;
    try {
      await out.write(JOURNAL_MARK);
      let chunk: Buffer[] = [];
      let chunkBytes = 0;
      const put = async (): Promise<void> => {
        if (chunk.length === 0) return;
        bytes += (await out.writev(record(chunk, chunkBytes))).bytesWritten;
        chunk = [];
        chunkBytes = 0;
      };
      for (const [t, m] of this.tables) {
        for (const [k, v] of m) {
          const change = encodeChange(t, k, v);
          chunk.push(change);
          chunkBytes += change.length;
          if (chunk.length >= 1000) await put();
        }
      }
      await put();
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

  private async write(changes: readonly Buffer[], bytes: number): Promise<void> {
    if (this.compactNow()) {
      this.needsSnapshot = false;
      await this.snapshot(); // the snapshot holds the pending changes too
      this.compactions++;
      return;
    }
    this.fh ??= await open(this.path, 'a', 0o600);
    const parts = record(changes, bytes);
    if (this.fileBytes === 0) parts.unshift(JOURNAL_MARK);
    const { bytesWritten } = await this.fh.writev(parts);
    await this.fh.datasync();
    if (!this.dirSynced) await this.syncDir();
    this.fileBytes += bytesWritten;
  }

  private async flush(): Promise<void> {
    this.timer = undefined;
    this.timerDue = Infinity;
    const changes = this.pending;
    const bytes = this.pendingBytes;
    const batch = this.batch;
    this.pending = [];
    this.pendingBytes = 0;
    this.batch = undefined;
    if (this.memory || (changes.length === 0 && !this.needsSnapshot)) return batch?.resolve();
    try {
      await this.write(changes, bytes);
      this.failure = undefined;
      batch?.resolve();
    } catch (err) {
      const e = new KubeEdgeError('store_failed', `cannot write ${this.path}: ${errorText(err)}`);
      this.failure = e.message;
      this.log.error(e.message);
      this.pending = changes.concat(this.pending); // keep them for the next attempt
      this.pendingBytes += bytes;
      // a write that failed may have left part of itself: the next attempt writes the file whole
      this.needsSnapshot = true;
      batch?.reject(e);
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

  private append(change: Buffer): void {
    if (this.memory) return;
    this.pending.push(change);
    this.pendingBytes += change.length;
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
    this.append(encodeChange(t, k, v));
  }

  delete(t: string, k: string): boolean {
    const had = this.tables.get(t)?.delete(k) ?? false;
    if (had) this.append(encodeChange(t, k, undefined, true));
    return had;
  }

  commit(): Promise<void> {
    this.batch ??= newBatch();
    this.schedule(this.batchMs);
    return this.batch.promise;
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
