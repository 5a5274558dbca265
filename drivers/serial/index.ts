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

export function serialDriver(opts: { onStats?: (s: SerialStats) => void } = {}): Driver {
  return {
    protocol: 'serial',
    async open(device: DeviceInfo, hooks: DriverHooks): Promise<DeviceConnection> {
      const SerialPort = await loadSerialPort();
      const cfg = device.config;
      const path = str(cfg.serialPort, '');
      const matchers = device.properties.map(matcher);
      const delimiters = [...new Set(device.properties.map((p) => unescape(str(p.config.delimiter, '\n'))))];
      if (delimiters.length > 1) hooks.log.warn(`${device.id}: properties use different delimiters; framing lines by ${JSON.stringify(delimiters[0])}`);
      const delimiter = delimiters[0] ?? '\n';
      const timeoutMs = num(cfg.timeout, DEFAULT_POLL_TIMEOUT_MS);
      const stats: SerialStats = { lines: 0, garbage: 0, overlong: 0 };
      const latest = new Map<string, string | Error>();
      /** the poll waiting for its answer (one at a time on a line) */
      let waiting: { m: Matcher; resolve(v: string | Error): void } | undefined;
      let polls: Promise<unknown> = Promise.resolve();
      let buffer = '';
      let closing = false;

      const port = new SerialPort({ path, baudRate: num(cfg.baudRate, 9600), dataBits: num(cfg.dataBits, 8), stopBits: num(cfg.stopBits, 1), parity: str(cfg.parity, 'none'), autoOpen: false });
      await new Promise<void>((resolve, reject) => (port as unknown as { open(cb: (err?: Error | null) => void): void }).open((err) => (err ? reject(new Error(`cannot open ${path}: ${err.message}`)) : resolve())));

      const onLine = (raw: string): void => {
        const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
        if (line === '') return;
        stats.lines++;
        let matched = false;
        for (const m of matchers) {
          const hit = m.pattern.exec(line);
          if (!hit) continue;
          matched = true;
          let value: string | Error;
          try {
            value = typedValue(hit[1] ?? hit[0], m.dataType, m.scale, m.prop.type);
          } catch (err) {
            value = new Error(`${m.prop.name}: ${errorText(err)} in ${JSON.stringify(line.slice(0, 80))}`);
          }
          latest.set(m.prop.name, value);
          if (waiting?.m === m) {
            waiting.resolve(value);
            waiting = undefined;
          } else if (!m.command && typeof value === 'string') {
            hooks.pushed(m.prop.name, value);
          }
        }
        if (!matched) {
          stats.garbage++;
          if (stats.garbage === 1 || stats.garbage % 100 === 0) hooks.log.warn(`${device.id}: ${stats.garbage} line(s) matched no property (last: ${JSON.stringify(line.slice(0, 80))})`);
        }
        opts.onStats?.(stats);
      };

      /** the rest of a line already dropped as overlong is skipped up to its delimiter */
      let skipping = false;
      port.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('latin1');
        let start = 0;
        for (let i = buffer.indexOf(delimiter); i >= 0; i = buffer.indexOf(delimiter, start)) {
          if (skipping) skipping = false;
          else if (i - start > MAX_LINE) stats.overlong++;
          else onLine(buffer.slice(start, i));
          start = i + delimiter.length;
        }
        buffer = start === 0 ? buffer : buffer.slice(start);
        if (buffer.length > MAX_LINE) {
          // no delimiter in sight: a partial line or noise; dropped, never buffered without end
          if (!skipping) {
            stats.overlong++;
            hooks.log.warn(`${device.id}: dropped a line of more than ${MAX_LINE} bytes without a delimiter (${stats.overlong} so far)`);
          }
          skipping = true;
          buffer = '';
        }
      });
      port.on('close', () => {
        if (!closing) hooks.lost(`${path} closed`);
      });
      port.on('error', (err) => {
        if (!closing) hooks.lost(`${path}: ${err?.message ?? 'error'}`);
      });

      const write = (data: string): Promise<void> =>
        new Promise((resolve, reject) => {
          if (!port.isOpen) return reject(new Error(`${path} is not open`));
          port.write(data, (err) => (err ? reject(err) : resolve()));
        });

      /** writes a poll command and waits for the line that answers it */
      const poll = (m: Matcher): Promise<string | Error> => {
        const run = polls.then(
          () =>
            new Promise<string | Error>((resolve) => {
              const timer = setTimeout(() => {
                if (waiting?.m === m) waiting = undefined;
                resolve(new Error(`${m.prop.name}: no answer to ${JSON.stringify(m.command)} within ${timeoutMs} ms`));
              }, timeoutMs);
              waiting = {
                m,
                resolve: (v) => {
                  clearTimeout(timer);
                  resolve(v);
                },
              };
              write(m.command as string).catch((err: unknown) => waiting?.resolve(new Error(`${m.prop.name}: ${errorText(err)}`)));
            }),
        );
        polls = run.catch(() => undefined);
        return run;
      };

      return {
        async read(props): Promise<ReadResult> {
          const out: ReadResult = new Map();
          for (const p of props) {
            const m = matchers.find((x) => x.prop.name === p.name);
            if (!m) continue;
            out.set(p.name, m.command ? await poll(m) : (latest.get(p.name) ?? new Error(`${p.name}: nothing received yet`)));
          }
          return out;
        },
        async write(prop, value) {
          const m = matchers.find((x) => x.prop.name === prop.name);
          if (!m?.writeCommand) throw new Error(`${prop.name} has no writeCommand: this device takes no value for it`);
          await write(m.writeCommand.replace(/\{value\}/g, value));
        },
        async close() {
          closing = true;
          if (port.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
        },
      };
    },
  };
}
