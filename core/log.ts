/**
 * One line per event on stdout/stderr: `2026-11-25T13:00:00.000Z INFO  edgehub: connected to wss://…`;
 * when they are systemd's journal, `<6>edgehub: connected to wss://…` instead, the journal's own
 * priority prefix (sd-daemon(3)) and no time (it keeps its own), so `journalctl -p warning` works.
 * Secrets never reach a log line: `redact` masks tokens and keys in anything formatted here.
 */
import { fstatSync } from 'node:fs';

export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  child(scope: string): Logger;
}

const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const PRIORITY: Record<Level, number> = { debug: 7, info: 6, warn: 4, error: 3 };

/** systemd sets $JOURNAL_STREAM to the device:inode of the stream it connected to stderr */
function writesToJournal(): boolean {
  const want = process.env.JOURNAL_STREAM;
  if (!want) return false;
  try {
    const s = fstatSync(2);
    return want === `${s.dev}:${s.ino}`;
  } catch {
    return false;
  }
}

const SECRET_PATTERNS: readonly RegExp[] = [
  /\b[0-9a-f]{64}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g, // join token
  /\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g, // bare JWT
  /(Bearer\s+)[^\s"']+/gi,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
];

export function redact(text: string): string {
  let out = text;
  for (const re of SECRET_PATTERNS) out = out.replace(re, (_m, p1?: string) => (typeof p1 === 'string' ? `${p1}***` : '***'));
  return out;
}

export interface LogSink {
  write(level: Level, line: string): void;
}

const consoleSink: LogSink = {
  write(level, line) {
    (level === 'error' || level === 'warn' ? process.stderr : process.stdout).write(line + '\n');
  },
};

export function createLogger(opts: { level?: Level; scope?: string; sink?: LogSink } = {}): Logger {
  const min = order[opts.level ?? (process.env.KUBEEDGE_LOG_LEVEL as Level | undefined) ?? 'info'] ?? order.info;
  const sink = opts.sink ?? consoleSink;
  const journal = !opts.sink && writesToJournal();
  const make = (scope: string): Logger => {
    const emit = (level: Level, msg: string): void => {
      if (order[level] < min) return;
      const text = `${scope ? scope + ': ' : ''}${redact(msg)}`;
      const line = journal ? `<${PRIORITY[level]}>${text}` : `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${text}`;
      sink.write(level, line.replace(/\n/g, '\\n'));
    };
    return {
      debug: (m) => emit('debug', m),
      info: (m) => emit('info', m),
      warn: (m) => emit('warn', m),
      error: (m) => emit('error', m),
      child: (s) => make(scope ? `${scope}.${s}` : s),
    };
  };
  return make(opts.scope ?? '');
}

/**
 * For a line a peer can cause without end (a refused frame, a refused payload): the first `burst`
 * in a window are logged, the rest counted and summed up in one line when the next window opens.
 * The refusal still counts in /metrics; only the log (on a Pi, often the SD card) is spared.
 */
export function throttled(write: (msg: string) => void, burst = 10, windowMs = 60_000, now: () => number = Date.now): (msg: string) => void {
  let windowStart = -Infinity;
  let inWindow = 0;
  let held = 0;
  return (msg) => {
    const t = now();
    if (t - windowStart >= windowMs) {
      if (held > 0) write(`(${held} more like the lines before were not logged in the last ${Math.round((t - windowStart) / 1000)} s)`);
      windowStart = t;
      inWindow = 0;
      held = 0;
    }
    if (inWindow++ < burst) write(msg);
    else held++;
  };
}
