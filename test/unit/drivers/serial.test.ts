import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SerialPort } from 'serialport';
import { createLogger } from '../../../core/log.js';
import { LineFramer, MAX_LINE, serialDriver, type SerialStats } from '../../../drivers/serial/index.js';
import type { PropertyVisitor } from '../../../drivers/core/types.js';
import { ptyPair, type PtyPair } from '../../peers/serial.js';
import { eventually } from '../../e2e/cluster.js';

const log = createLogger({ level: 'error' });
const dir = mkdtempSync(join(tmpdir(), 'ke-serial-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A small weather station on the far end of the line: it pushes "T=<temp>" lines by itself,
 * answers "READ H" with "H=<humidity>", and takes "SET <n>" (answering "SP=<n>").
 */
async function station(path: string) {
  const port = new SerialPort({ path, baudRate: 9600 });
  await new Promise<void>((r) => port.on('open', () => r()));
  let humidity = 40;
  let setpoint = 0;
  let buf = '';
  port.on('data', (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const cmd = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (cmd === 'READ H') port.write(`H=${humidity}\r\n`);
      const set = /^SET (-?\d+)$/.exec(cmd);
      if (set) {
        setpoint = Number(set[1]);
        port.write(`SP=${setpoint}\r\n`);
      }
    }
  });
  return {
    send: (text: string) => new Promise<void>((r) => port.write(text, () => port.drain(() => r()))),
    setHumidity: (h: number) => void (humidity = h),
    setpoint: () => setpoint,
    close: () => new Promise<void>((r) => (port.isOpen ? port.close(() => r()) : r())),
  };
}

const props: PropertyVisitor[] = [
  { name: 'temperature', type: 'float', writable: false, config: { pattern: '^T=(-?[0-9.]+)$', dataType: 'float', delimiter: '\\n' } },
  { name: 'humidity', type: 'int', writable: false, config: { command: 'READ H\\n', pattern: '^H=(\\d+)$', dataType: 'int', scale: 1 } },
  { name: 'setpoint', type: 'int', writable: true, config: { pattern: '^SP=(-?\\d+)$', dataType: 'int', writeCommand: 'SET {value}\\n' } },
  { name: 'tenths', type: 'float', writable: false, config: { pattern: '^D=(\\d+)$', dataType: 'int', scale: 0.1 } },
];

describe('the serial driver on a real serial line (socat pty pair)', () => {
  let pair: PtyPair;
  beforeAll(async () => {
    pair = await ptyPair(dir, 'line');
  });
  afterAll(() => pair?.stop());

  it('takes pushed values at once, polls with a command, writes with writeCommand, and skips garbage', async () => {
    const dev = await station(pair.b);
    const pushed: [string, string][] = [];
    let stats: SerialStats = { lines: 0, garbage: 0, overlong: 0 };
    const conn = await serialDriver({ onStats: (s) => (stats = { ...s }) }).open(
      { id: 'default/ws', config: { serialPort: pair.a, baudRate: 9600 }, properties: props },
      { log, pushed: (k, v) => pushed.push([k, v]), lost: () => undefined },
    );
    await dev.send('T=21.5\r\n');
    await eventually(async () => pushed.some(([k, v]) => k === 'temperature' && v === '21.5'), 5000, 'pushed temperature');
    expect((await conn.read([props[0]!])).get('temperature')).toBe('21.5');
    dev.setHumidity(57);
    expect((await conn.read([props[1]!])).get('humidity')).toBe('57');
    await conn.write(props[2]!, '23');
    await eventually(async () => dev.setpoint() === 23, 5000, 'setpoint written');
    await eventually(async () => pushed.some(([k, v]) => k === 'setpoint' && v === '23'), 5000, 'setpoint echoed');
    // scale, and a line split across writes
    await dev.send('D=2');
    await dev.send('15\n');
    await eventually(async () => pushed.some(([k, v]) => k === 'tenths' && v === '21.5'), 5000, 'scaled value');
    // garbage: binary noise, a line no pattern matches, a value that is not a number, an endless line
    const before = pushed.length;
    await dev.send('\x00\x01\xff\n#hello\nT=warm\nT=.\n');
    await dev.send('x'.repeat(3000));
    await dev.send('\nT=22.0\n');
    await eventually(async () => pushed.some(([k, v]) => k === 'temperature' && v === '22'), 5000, 'a good line after garbage');
    expect(pushed.slice(before).map(([k]) => k)).toEqual(['temperature']);
    expect(stats.garbage).toBe(3); // the noise, #hello and T=warm; T=. matched but is no number
    expect(stats.overlong).toBe(1); // however the 3000 bytes arrive, they are one line dropped
    expect(((await conn.read([props[0]!])).get('temperature'))).toBe('22');
    await expect(conn.write(props[0]!, '1')).rejects.toThrow(/no writeCommand/);
    await conn.close();
    await dev.close();
  });

  it('answers a poll nobody answers with an error, and a line that vanishes is lost and comes back', async () => {
    const lost: string[] = [];
    const conn = await serialDriver().open(
      { id: 'default/ws', config: { serialPort: pair.a, baudRate: 9600, timeout: 200 }, properties: props },
      { log, pushed: () => undefined, lost: (r) => lost.push(r) },
    );
    const v = (await conn.read([props[1]!])).get('humidity');
    expect(v).toBeInstanceOf(Error);
    expect((v as Error).message).toMatch(/no answer to "READ H\\n" within 200 ms/);
    await pair.stop();
    await eventually(async () => lost.length > 0, 5000, 'lost');
    await conn.close();
    pair = await ptyPair(dir, 'line');
    const dev = await station(pair.b);
    const again = await serialDriver().open({ id: 'default/ws', config: { serialPort: pair.a, baudRate: 9600 }, properties: props }, { log, pushed: () => undefined, lost: () => undefined });
    dev.setHumidity(61);
    expect((await again.read([props[1]!])).get('humidity')).toBe('61');
    await again.close();
    await dev.close();
  });
});

describe('framing lines out of a serial stream', () => {
  const frame = (chunks: string[], delimiter = '\n'): { lines: string[]; overlong: boolean[] } => {
    const lines: string[] = [];
    const overlong: boolean[] = [];
    const f = new LineFramer(delimiter, (l) => lines.push(l), (unframed) => overlong.push(unframed));
    for (const c of chunks) f.push(c);
    return { lines, overlong };
  };

  it('joins a line split across chunks, and splits a chunk of several lines', () => {
    expect(frame(['T=2', '1.5\nH=4', '0\nP=1\n']).lines).toEqual(['T=21.5', 'H=40', 'P=1']);
  });

  it('frames by a delimiter of several bytes', () => {
    expect(frame(['a\r\nb\r', '\nc'], '\r\n').lines).toEqual(['a', 'b']);
  });

  it('drops a line over the limit, counts it once, and reads the next line whole', () => {
    const long = 'x'.repeat(MAX_LINE + 10);
    const r = frame([`${long.slice(0, 100)}`, `${long.slice(100)}`, 'tail\nT=20\n']);
    expect(r.overlong).toEqual([true]);
    expect(r.lines).toEqual(['T=20']);
  });
});
