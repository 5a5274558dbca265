/**
 * One line per event on stdout/stderr, as systemd's journal wants it:
 * `2026-11-25T13:00:00.000Z INFO  edgehub: connected to wss://…`.
 * Secrets never reach a log line: `redact` masks tokens and keys in anything formatted here.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  child(scope: string): Logger;
}

const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

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
  const make = (scope: string): Logger => {
    const emit = (level: Level, msg: string): void => {
      if (order[level] < min) return;
      const line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${scope ? scope + ': ' : ''}${redact(msg)}`;
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
