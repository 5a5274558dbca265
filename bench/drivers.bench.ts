/**
 * The drivers against real peers on this machine:
 * - Modbus reads/s through the driver (line queue, timeout, coalescing plan, decoding) against a
 *   bare modbus-serial loop, both reading from the same pymodbus TCP slave (the ratio is our overhead);
 * - requests per poll of a device with 20 neighbouring registers, with and without coalescing;
 * - serial lines/s parsed by the driver from a socat pty pair, against a bare serialport + readline loop.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort, ReadlineParser } from 'serialport';
import { createLogger } from '../core/log.js';
import { modbusDriver } from '../drivers/modbus/index.js';
import { serialDriver } from '../drivers/serial/index.js';
import type { PropertyVisitor } from '../drivers/core/types.js';
import { freePort } from '../test/peers/proxy.js';
import { modbusClient, ptyPair, pymodbusSlave } from '../test/peers/serial.js';
import { report, type Row } from './lib/report.js';

const log = createLogger({ level: 'error' });
const READS = 3000;
const rows: Row[] = [];
const dir = mkdtempSync(join(tmpdir(), 'ke-bench-drivers-'));
const hooks = { log, pushed: () => undefined, lost: () => undefined };

const port = await freePort();
const slave = await pymodbusSlave('tcp', port);
try {
  // bare modbus-serial, sequential reads of one register
  const bareRate = async (): Promise<number> => {
    const c = await modbusClient(port);
    const t0 = performance.now();
    for (let i = 0; i < READS; i++) await c.readHoldingRegisters(0, 1);
    const r = READS / ((performance.now() - t0) / 1000);
    await new Promise((res) => c.close(res));
    return r;
  };
  const one: PropertyVisitor[] = [{ name: 'v', type: 'int', writable: false, config: { register: 'HoldingRegister', offset: 0, dataType: 'int16' } }];
  const oursRate = async (): Promise<number> => {
    const conn = await modbusDriver().open({ id: 'default/b', config: { ip: '127.0.0.1', port, slaveID: 1 }, properties: one }, hooks);
    const t0 = performance.now();
    for (let i = 0; i < READS; i++) {
      const v = (await conn.read(one)).get('v');
      if (v !== '-1234') throw new Error(`read ${String(v)}`);
    }
    const r = READS / ((performance.now() - t0) / 1000);
    await conn.close();
    return r;
  };
  await bareRate(); // warm both up
  await oursRate();
  // interleaved pairs: the slave (Python) and the machine drift, so each pair is compared in its own
  // moment and the median pair is reported
  const pairs: { bare: number; ours: number }[] = [];
  for (let i = 0; i < 7; i++) pairs.push({ bare: await bareRate(), ours: await oursRate() });
  pairs.sort((x, y) => x.ours / x.bare - y.ours / y.bare);
  const mid = pairs[3] as { bare: number; ours: number };
  rows.push({ metric: 'Modbus TCP reads/s through the driver (pymodbus slave, one register, sequential; median of 7 interleaved pairs)', ours: mid.ours, peer: mid.bare, peerName: 'bare modbus-serial loop, same slave', ratio: mid.ours / mid.bare, unit: 'reads/s', target: 'ratio ≥ 0.9', met: mid.ours / mid.bare >= 0.9 });

  // a device of 20 neighbouring registers: requests per poll, and polls/s
  const twenty: PropertyVisitor[] = Array.from({ length: 20 }, (_, i) => ({ name: `r${i}`, type: 'int', writable: false, config: { register: 'HoldingRegister', offset: 30 + i, dataType: 'uint16' } }));
  const poll = async (coalesce: boolean): Promise<{ perPoll: number; pollsPerSec: number }> => {
    let requests = 0;
    const conn = await modbusDriver({ coalesce, onRequest: () => requests++ }).open({ id: 'default/t', config: { ip: '127.0.0.1', port, slaveID: 1 }, properties: twenty }, hooks);
    const polls = 500;
    const t0 = performance.now();
    for (let i = 0; i < polls; i++) {
      const r = await conn.read(twenty);
      if (r.get('r19') !== '119') throw new Error(`r19 = ${String(r.get('r19'))}`);
    }
    const pollsPerSec = polls / ((performance.now() - t0) / 1000);
    await conn.close();
    return { perPoll: requests / polls, pollsPerSec };
  };
  const on = await poll(true);
  const off = await poll(false);
  rows.push({ metric: 'Modbus requests per poll, 20 neighbouring registers', ours: on.perPoll, peer: off.perPoll, peerName: 'without coalescing', ratio: on.perPoll / off.perPoll, unit: 'requests' });
  rows.push({ metric: 'Modbus polls/s of that device', ours: on.pollsPerSec, peer: off.pollsPerSec, peerName: 'without coalescing', ratio: on.pollsPerSec / off.pollsPerSec, unit: 'polls/s' });
} finally {
  await slave.stop();
}

// serial lines/s over a pty pair
const LINES = 100_000;
const linesPerSec = async (reader: (path: string, onLine: () => void) => Promise<() => Promise<void>>): Promise<number> => {
  const pair = await ptyPair(dir, `lines-${Math.random().toString(36).slice(2)}`);
  try {
    let got = 0;
    let t0 = 0;
    let done: () => void = () => undefined;
    const finished = new Promise<void>((r) => (done = r));
    const close = await reader(pair.a, () => {
      if (++got === LINES) done();
    });
    const writer = new SerialPort({ path: pair.b, baudRate: 115200 });
    await new Promise<void>((r) => writer.on('open', () => r()));
    const chunk = 'T=21.5\n'.repeat(1000);
    t0 = performance.now();
    for (let i = 0; i < LINES / 1000; i++) if (!writer.write(chunk)) await new Promise((r) => writer.once('drain', r));
    await Promise.race([finished, new Promise((_, rej) => setTimeout(() => rej(new Error(`only ${got} of ${LINES} lines arrived`)), 60_000))]);
    const rate = LINES / ((performance.now() - t0) / 1000);
    await close();
    await new Promise((r) => writer.close(r));
    return rate;
  } finally {
    await pair.stop();
  }
};
const temperature: PropertyVisitor[] = [{ name: 'temperature', type: 'float', writable: false, config: { pattern: '^T=(-?[0-9.]+)$', dataType: 'float' } }];
const oursLines = await linesPerSec(async (path, onLine) => {
  const conn = await serialDriver().open({ id: 'default/s', config: { serialPort: path, baudRate: 115200 }, properties: temperature }, { ...hooks, pushed: onLine });
  return () => conn.close();
});
const bareLines = await linesPerSec(async (path, onLine) => {
  const p = new SerialPort({ path, baudRate: 115200 });
  await new Promise<void>((r) => p.on('open', () => r()));
  const re = /^T=(-?[0-9.]+)$/;
  p.pipe(new ReadlineParser({ delimiter: '\n' })).on('data', (l: string) => {
    if (re.exec(l)) onLine();
  });
  return () => new Promise((r) => p.close(() => r()));
});
rows.push({ metric: 'serial lines/s parsed (socat pty pair, pattern match, typed value)', ours: oursLines, peer: bareLines, peerName: 'bare serialport + ReadlineParser + regex', ratio: oursLines / bareLines, unit: 'lines/s' });

rmSync(dir, { recursive: true, force: true });
report('drivers', rows);
process.exit(0);
