/**
 * A process container's log: one file its stdout and stderr are appended to (O_APPEND), rotated by
 * copy-and-truncate when it grows past a size (the process keeps its descriptor), the last few
 * rotated files kept beside it. Read as kubectl reads a log: the tail, then (following) what comes.
 */
import { copyFileSync, existsSync, openSync, readSync, closeSync, renameSync, statSync, truncateSync, unlinkSync } from 'node:fs';
import type { LogOptions } from './runtime.js';

const CHUNK = 64 * 1024;
const POLL_MS = 250;

/** Rotates `file` when it is over `maxBytes`: file → file.1 → file.2 …, keeping `maxFiles - 1` rotated ones. */
export function rotateLog(file: string, maxBytes: number, maxFiles: number): boolean {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return false;
  }
  if (size <= maxBytes) return false;
  const keep = Math.max(1, maxFiles - 1);
  if (existsSync(`${file}.${keep}`)) unlinkSync(`${file}.${keep}`);
  for (let i = keep - 1; i >= 1; i--) if (existsSync(`${file}.${i}`)) renameSync(`${file}.${i}`, `${file}.${i + 1}`);
  copyFileSync(file, `${file}.1`);
  // lines written between the copy and the truncation are lost: the price of not owning the writer
  truncateSync(file, 0);
  return true;
}

/** Where reading the last `lines` lines of the file starts (bounded by `limitBytes`). */
function tailStart(fd: number, size: number, lines: number | undefined, limitBytes: number | undefined): number {
  let start = limitBytes !== undefined ? Math.max(0, size - limitBytes) : 0;
  if (lines === undefined) return start;
  if (lines === 0) return size;
  const buf = Buffer.alloc(CHUNK);
  let pos = size;
  let seen = 0;
  // a last line without its newline counts as a line
  let skipFinal = true;
  while (pos > start) {
    const len = Math.min(CHUNK, pos - start);
    pos -= len;
    readSync(fd, buf, 0, len, pos);
    for (let i = len - 1; i >= 0; i--) {
      if (buf[i] !== 0x0a) {
        skipFinal = false;
        continue;
      }
      if (skipFinal && pos + i === size - 1) {
        skipFinal = false;
        continue;
      }
      if (++seen === lines) return pos + i + 1;
    }
  }
  return start;
}

/**
 * Writes the log: its tail, and when following, what is appended until `running()` says the process
 * has stopped (and all it wrote is sent) or `signal` aborts.
 */
export async function readLog(file: string, opts: LogOptions, write: (chunk: string) => void, running: () => boolean, signal: AbortSignal): Promise<void> {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return;
  }
  try {
    let size = statSync(file).size;
    let pos = tailStart(fd, size, opts.tailLines, opts.limitBytes);
    let budget = opts.limitBytes ?? Infinity;
    const buf = Buffer.alloc(CHUNK);
    const drain = (): void => {
      while (pos < size && budget > 0 && !signal.aborted) {
        const n = readSync(fd, buf, 0, Math.min(CHUNK, size - pos, budget), pos);
        if (n <= 0) break;
        pos += n;
        budget -= n;
        write(buf.toString('utf8', 0, n));
      }
    };
    drain();
    if (!opts.follow) return;
    while (!signal.aborted && budget > 0) {
      const alive = running();
      await new Promise((r) => setTimeout(r, POLL_MS));
      try {
        size = statSync(file).size;
      } catch {
        return;
      }
      if (size < pos) pos = 0; // rotated (truncated) under us
      drain();
      if (!alive) return;
    }
  } finally {
    closeSync(fd);
  }
}
