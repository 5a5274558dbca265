/**
 * The serial-line driver (serialport, loaded on the first serial device). Lines are framed by the
 * visitors' `delimiter` (default "\n"); each line is matched against every property's `pattern`
 * (a regex whose first group is the value), typed by `dataType` and multiplied by `scale`. A
 * property with a `command` is polled (the command is written, and the next matching line is its
 * answer); one without takes whatever the device pushes, reported at once. A line no pattern
 * matches, or one longer than MAX_LINE without a delimiter, is counted and skipped. A property
 * with a `writeCommand` ("SET {value}\n") can be written.
 */
import type { ConfigData, DeviceConnection, DeviceInfo, Driver, DriverHooks, PropertyVisitor, ReadResult, TwinType } from '../core/types.js';
import { errorText } from '../../core/errors.js';
import { formatNumber, num, str } from '../core/types.js';

/** the longest line kept while waiting for its delimiter */
export const MAX_LINE = 1024;
export const DEFAULT_POLL_TIMEOUT_MS = 1000;

type SerialPortCtor = new (opts: Record<string, unknown>) => {
  on(ev: 'data', fn: (d: Buffer) => void): void;
  on(ev: 'close' | 'error' | 'open', fn: (err?: Error) => void): void;
  write(data: string, cb?: (err?: Error | null) => void): boolean;
  close(cb?: (err?: Error | null) => void): void;
  isOpen: boolean;
};

let loaded: Promise<SerialPortCtor> | undefined;
/** serialport is a native add-on: loaded on the first device that needs it, and when missing, that device says so */
export function loadSerialPort(): Promise<SerialPortCtor> {
  return (loaded ??= import('serialport').then(
    (m) => (m as unknown as { SerialPort: SerialPortCtor }).SerialPort,
    (err: unknown) => {
      loaded = undefined;
      throw new Error(`serial devices need the serialport add-on, which cannot be loaded here (${errorText(err).split('\n')[0]}); install serialport beside edgecore`);
    },
  ));
}

/** "\n", "\r\n" and "\t" written in a manifest as escapes */
const unescape = (s: string): string => s.replace(/\\r/g, '\r').replace(/\\n/g, '\n').replace(/\\t/g, '\t');

/** A value matched on a line, as its twin type writes it; throws when it is not one. */
export function typedValue(raw: string, dataType: string, scale: number, type: TwinType): string {
  const t = dataType === 'string' || type === 'string' ? 'string' : dataType === 'boolean' || type === 'boolean' ? 'boolean' : 'number';
  if (t === 'string') return raw;
  if (t === 'boolean') {
    const v = raw.trim().toLowerCase();
    if (['true', '1', 'on', 'high'].includes(v)) return 'true';
    if (['false', '0', 'off', 'low'].includes(v)) return 'false';
    throw new Error(`${JSON.stringify(raw)} is not a boolean`);
  }
  const n = Number(raw.trim());
  if (raw.trim() === '' || !Number.isFinite(n)) throw new Error(`${JSON.stringify(raw)} is not a number`);
  return formatNumber(n * scale, dataType === 'int' && type === 'float' ? 'float' : type);
}

interface Matcher {
  prop: PropertyVisitor;
  pattern: RegExp;
  dataType: string;
  scale: number;
  command?: string;
  writeCommand?: string;
}

export interface SerialStats {
  lines: number;
  garbage: number;
  overlong: number;
}

function matcher(p: PropertyVisitor): Matcher {
  const c: ConfigData = p.config;
  const m: Matcher = { prop: p, pattern: new RegExp(str(c.pattern, '^(.*)$')), dataType: str(c.dataType, p.type), scale: num(c.scale, 1) || 1 };
  if (typeof c.command === 'string' && c.command !== '') m.command = unescape(c.command);
  if (typeof c.writeCommand === 'string' && c.writeCommand !== '') m.writeCommand = unescape(c.writeCommand);
  return m;
}

/**
 * Lines out of a byte stream, framed by a delimiter. A line longer than MAX_LINE is dropped and
 * counted (`overlong`), and so is a stretch without a delimiter in sight: nothing is buffered
 * without end; the rest of a dropped line is skipped up to its delimiter.
 */
export class LineFramer {
  private buffer = '';
  private skipping = false;

  constructor(
    private readonly delimiter: string,
    private readonly line: (text: string) => void,
    private readonly overlong: (unframed: boolean) => void,
  ) {}

  push(chunk: string): void {
    this.buffer += chunk;
    let start = 0;
    for (let i = this.buffer.indexOf(this.delimiter); i >= 0; i = this.buffer.indexOf(this.delimiter, start)) {
      if (this.skipping) this.skipping = false;
      else if (i - start > MAX_LINE) this.overlong(false);
      else this.line(this.buffer.slice(start, i));
      start = i + this.delimiter.length;
    }
    this.buffer = start === 0 ? this.buffer : this.buffer.slice(start);
    if (this.buffer.length <= MAX_LINE) return;
    // no delimiter in sight: a partial line or noise; dropped, never buffered without end
    if (!this.skipping) this.overlong(true);
    this.skipping = true;
    this.buffer = '';
  }
}

export function serialDriver(opts: { onStats?: (s: SerialStats) => void } = {}): Driver {
  return {
    protocol: 'serial',
    async open(device: DeviceInfo, hooks: DriverHooks): Promise<DeviceConnection> {
      const SerialPort = await loadSerialPort();
      const cfg = device.config;
      const path = str(cfg.serialPort, '');
      const port = new SerialPort({ path, baudRate: num(cfg.baudRate, 9600), dataBits: num(cfg.dataBits, 8), stopBits: num(cfg.stopBits, 1), parity: str(cfg.parity, 'none'), autoOpen: false });
      await new Promise<void>((resolve, reject) => (port as unknown as { open(cb: (err?: Error | null) => void): void }).open((err) => (err ? reject(new Error(`cannot open ${path}: ${err.message}`)) : resolve())));
      return new SerialConnection(device, hooks, port, path, opts.onStats);
    },
  };
}

type Port = InstanceType<Awaited<ReturnType<typeof loadSerialPort>>>;

class SerialConnection implements DeviceConnection {
  private readonly matchers: Matcher[];
  private readonly timeoutMs: number;
  private readonly stats: SerialStats = { lines: 0, garbage: 0, overlong: 0 };
  private readonly latest = new Map<string, string | Error>();
  /** the poll waiting for its answer (one at a time on a line) */
  private waiting: { m: Matcher; resolve(v: string | Error): void } | undefined;
  private polls: Promise<unknown> = Promise.resolve();
  private closing = false;

  constructor(
    private readonly device: DeviceInfo,
    private readonly hooks: DriverHooks,
    private readonly port: Port,
    private readonly path: string,
    private readonly onStats: ((s: SerialStats) => void) | undefined,
  ) {
    this.matchers = device.properties.map(matcher);
    this.timeoutMs = num(device.config.timeout, DEFAULT_POLL_TIMEOUT_MS);
    const delimiters = [...new Set(device.properties.map((p) => unescape(str(p.config.delimiter, '\n'))))];
    if (delimiters.length > 1) hooks.log.warn(`${device.id}: properties use different delimiters; framing lines by ${JSON.stringify(delimiters[0])}`);
    const framer = new LineFramer(delimiters[0] ?? '\n', (line) => this.onLine(line), (unframed) => {
      this.stats.overlong++;
      if (unframed) hooks.log.warn(`${device.id}: dropped a line of more than ${MAX_LINE} bytes without a delimiter (${this.stats.overlong} so far)`);
    });
    port.on('data', (chunk: Buffer) => framer.push(chunk.toString('latin1')));
    port.on('close', () => {
      if (!this.closing) hooks.lost(`${path} closed`);
    });
    port.on('error', (err) => {
      if (!this.closing) hooks.lost(`${path}: ${err?.message ?? 'error'}`);
    });
  }

  /** a line read: each property whose pattern it matches takes its value (the poll waiting for it, or a push) */
  private onLine(raw: string): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') return;
    this.stats.lines++;
    let matched = false;
    for (const m of this.matchers) {
      const hit = m.pattern.exec(line);
      if (!hit) continue;
      matched = true;
      let value: string | Error;
      try {
        value = typedValue(hit[1] ?? hit[0], m.dataType, m.scale, m.prop.type);
      } catch (err) {
        value = new Error(`${m.prop.name}: ${errorText(err)} in ${JSON.stringify(line.slice(0, 80))}`);
      }
      this.latest.set(m.prop.name, value);
      if (this.waiting?.m === m) {
        this.waiting.resolve(value);
        this.waiting = undefined;
      } else if (!m.command && typeof value === 'string') this.hooks.pushed(m.prop.name, value);
    }
    if (!matched) this.garbage(line);
    this.onStats?.(this.stats);
  }

  private garbage(line: string): void {
    this.stats.garbage++;
    if (this.stats.garbage === 1 || this.stats.garbage % 100 === 0) this.hooks.log.warn(`${this.device.id}: ${this.stats.garbage} line(s) matched no property (last: ${JSON.stringify(line.slice(0, 80))})`);
  }

  private send(data: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.port.isOpen) return reject(new Error(`${this.path} is not open`));
      this.port.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** writes a poll command and waits for the line that answers it */
  private poll(m: Matcher): Promise<string | Error> {
    const ask = (): Promise<string | Error> =>
      new Promise<string | Error>((resolve) => {
        const timer = setTimeout(() => {
          if (this.waiting?.m === m) this.waiting = undefined;
          resolve(new Error(`${m.prop.name}: no answer to ${JSON.stringify(m.command)} within ${this.timeoutMs} ms`));
        }, this.timeoutMs);
        this.waiting = {
          m,
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v);
          },
        };
        this.send(m.command as string).catch((err: unknown) => this.waiting?.resolve(new Error(`${m.prop.name}: ${errorText(err)}`)));
      });
    const run = this.polls.then(ask);
    this.polls = run.catch(() => undefined);
    return run;
  }

  async read(props: readonly PropertyVisitor[]): Promise<ReadResult> {
    const out: ReadResult = new Map();
    for (const p of props) {
      const m = this.matchers.find((x) => x.prop.name === p.name);
      if (!m) continue;
      out.set(p.name, m.command ? await this.poll(m) : (this.latest.get(p.name) ?? new Error(`${p.name}: nothing received yet`)));
    }
    return out;
  }

  async write(prop: PropertyVisitor, value: string): Promise<void> {
    const m = this.matchers.find((x) => x.prop.name === prop.name);
    if (!m?.writeCommand) throw new Error(`${prop.name} has no writeCommand: this device takes no value for it`);
    await this.send(m.writeCommand.replace(/\{value\}/g, value));
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.port.isOpen) await new Promise<void>((resolve) => this.port.close(() => resolve()));
  }
}
