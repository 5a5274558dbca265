import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ModbusSerial from 'modbus-serial';
import { SerialPort } from 'serialport';
import { createLogger } from '../../../core/log.js';
import { modbusDriver } from '../../../drivers/modbus/index.js';
import type { DeviceConnection, PropertyVisitor } from '../../../drivers/core/types.js';
import type { TwinType } from '../../../api/devices/types.js';
import { freePort } from '../../peers/proxy.js';
import { modbusClient, ptyPair, pymodbusSlave, type PtyPair } from '../../peers/serial.js';
import { eventually } from '../../e2e/cluster.js';

const log = createLogger({ level: 'error' });
const dir = mkdtempSync(join(tmpdir(), 'ke-modbus-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const prop = (name: string, type: TwinType, config: Record<string, unknown>, writable = false): PropertyVisitor => ({ name, type, writable, config });

/** every data type and swap of pymodbus_slave.py's holding registers, and the other register kinds */
const known: [PropertyVisitor, string][] = [
  [prop('int16', 'int', { register: 'HoldingRegister', offset: 0, dataType: 'int16' }), '-1234'],
  [prop('uint16', 'int', { register: 'HoldingRegister', offset: 1, dataType: 'uint16' }), '54321'],
  [prop('int32', 'int', { register: 'HoldingRegister', offset: 2, dataType: 'int32' }), '-123456789'],
  [prop('uint32', 'int', { register: 'HoldingRegister', offset: 4, dataType: 'uint32' }), '3000000000'],
  [prop('float32', 'float', { register: 'HoldingRegister', offset: 6, dataType: 'float32' }), '21.5'],
  [prop('float64', 'float', { register: 'HoldingRegister', offset: 8, dataType: 'float64' }), '-1234.5678'],
  [prop('boolean', 'boolean', { register: 'HoldingRegister', offset: 12, dataType: 'boolean' }), 'true'],
  [prop('string', 'string', { register: 'HoldingRegister', offset: 13, limit: 3, dataType: 'string' }), 'Hello!'],
  [prop('float32-isSwap', 'float', { register: 'HoldingRegister', offset: 16, dataType: 'float32', isSwap: true }), '21.5'],
  [prop('float32-isRegisterSwap', 'float', { register: 'HoldingRegister', offset: 18, dataType: 'float32', isRegisterSwap: true }), '21.5'],
  [prop('int32-both-swaps', 'int', { register: 'HoldingRegister', offset: 20, dataType: 'int32', isSwap: true, isRegisterSwap: true }), '-123456789'],
  [prop('uint16-scaled', 'int', { register: 'HoldingRegister', offset: 1, dataType: 'uint16', scale: 2 }), '108642'],
  [prop('input-scaled', 'float', { register: 'InputRegister', offset: 0, dataType: 'int16', scale: 0.1 }), '21.5'],
  [prop('coil-on', 'boolean', { register: 'CoilRegister', offset: 0 }), 'true'],
  [prop('coil-off', 'boolean', { register: 'CoilRegister', offset: 1 }), 'false'],
  [prop('discrete-on', 'boolean', { register: 'DiscreteInputRegister', offset: 0 }), 'true'],
];

async function open(config: Record<string, unknown>, props: PropertyVisitor[], opts: { coalesce?: boolean } = {}) {
  let requests = 0;
  const lost: string[] = [];
  const conn = await modbusDriver({ ...opts, onRequest: () => requests++ }).open({ id: 'default/m', config, properties: props }, { log, pushed: () => undefined, lost: (r) => lost.push(r) });
  return { conn, lost, requests: () => requests };
}

async function readValues(conn: DeviceConnection, props: PropertyVisitor[]): Promise<Record<string, string>> {
  const r = await conn.read(props);
  return Object.fromEntries([...r].map(([k, v]) => [k, v instanceof Error ? `Error: ${v.message}` : v]));
}

describe('Modbus TCP against pymodbus (an independent slave)', () => {
  let port: number;
  let slave: Awaited<ReturnType<typeof pymodbusSlave>>;
  beforeAll(async () => {
    port = await freePort();
    slave = await pymodbusSlave('tcp', port);
  });
  afterAll(() => slave?.stop());

  it('reads every register kind and data type, with each swap and scale', async () => {
    const props = known.map(([p]) => p);
    const { conn } = await open({ ip: '127.0.0.1', port, slaveID: 1 }, props);
    expect(await readValues(conn, props)).toEqual(Object.fromEntries(known.map(([p, v]) => [p.name, v])));
    await conn.close();
  });

  it('coalesces neighbouring reads into one request per register kind, and splits them back', async () => {
    const props = known.map(([p]) => p);
    const on = await open({ ip: '127.0.0.1', port, slaveID: 1 }, props);
    const off = await open({ ip: '127.0.0.1', port, slaveID: 1 }, props, { coalesce: false });
    const [a, b] = [await readValues(on.conn, props), await readValues(off.conn, props)];
    expect(a).toEqual(b);
    expect(on.requests()).toBe(4); // holding 0-21, input 0, coils 0-1, discrete 0
    expect(off.requests()).toBe(props.length);
    await on.conn.close();
    await off.conn.close();
  });

  it('writes with the right function and reads back; refuses what cannot be written', async () => {
    const w = [
      prop('w-int16', 'int', { register: 'HoldingRegister', offset: 60, dataType: 'int16' }, true),
      prop('w-float32', 'float', { register: 'HoldingRegister', offset: 62, dataType: 'float32' }, true),
      prop('w-scaled', 'float', { register: 'HoldingRegister', offset: 64, dataType: 'int16', scale: 0.1 }, true),
      prop('w-coil', 'boolean', { register: 'CoilRegister', offset: 5 }, true),
    ];
    const { conn } = await open({ ip: '127.0.0.1', port, slaveID: 1 }, w);
    await conn.write(w[0]!, '-5');
    await conn.write(w[1]!, '3.25');
    await conn.write(w[2]!, '12.3');
    await conn.write(w[3]!, 'true');
    expect(await readValues(conn, w)).toEqual({ 'w-int16': '-5', 'w-float32': '3.25', 'w-scaled': '12.3', 'w-coil': 'true' });
    await expect(conn.write(w[0]!, '40000')).rejects.toThrow(/out of range for int16/);
    await expect(conn.write(w[0]!, 'warm')).rejects.toThrow(/not a number/);
    await expect(conn.write(prop('in', 'int', { register: 'InputRegister', offset: 0 }), '1')).rejects.toThrow(/cannot be written/);
    // a second client sees what was written: it is in the slave, not in our cache
    const other = await modbusClient(port);
    expect((await other.readHoldingRegisters(60, 1)).data).toEqual([0xfffb]);
    other.close(() => undefined);
    await conn.close();
  });

  it('writes and reads back every data type with each swap, laid out in the registers as the swap says', async () => {
    const values: Record<string, { type: TwinType; value: string; bytes: (v: number) => Buffer }> = {
      int16: { type: 'int', value: '-12345', bytes: (v) => (b => (b.writeInt16BE(v), b))(Buffer.alloc(2)) },
      uint16: { type: 'int', value: '54321', bytes: (v) => (b => (b.writeUInt16BE(v), b))(Buffer.alloc(2)) },
      int32: { type: 'int', value: '-123456789', bytes: (v) => (b => (b.writeInt32BE(v), b))(Buffer.alloc(4)) },
      uint32: { type: 'int', value: '4000000000', bytes: (v) => (b => (b.writeUInt32BE(v), b))(Buffer.alloc(4)) },
      float32: { type: 'float', value: '-2.5', bytes: (v) => (b => (b.writeFloatBE(v), b))(Buffer.alloc(4)) },
      float64: { type: 'float', value: '1234.5678', bytes: (v) => (b => (b.writeDoubleBE(v), b))(Buffer.alloc(8)) },
    };
    const other = await modbusClient(port);
    try {
      for (const [dataType, v] of Object.entries(values)) {
        for (const [isSwap, isRegisterSwap] of [[false, false], [true, false], [false, true], [true, true]] as const) {
          const p = prop('w', v.type, { register: 'HoldingRegister', offset: 80, dataType, isSwap, isRegisterSwap }, true);
          const { conn } = await open({ ip: '127.0.0.1', port, slaveID: 1 }, [p]);
          await conn.write(p, v.value);
          expect((await readValues(conn, [p])).w, `${dataType} isSwap=${isSwap} isRegisterSwap=${isRegisterSwap}`).toBe(v.value);
          // the registers, read by another client: big-endian bytes, then the swaps
          const be = v.bytes(Number(v.value));
          const words: number[] = [];
          for (let i = 0; i < be.length; i += 2) words.push(isSwap ? be.readUInt16LE(i) : be.readUInt16BE(i));
          if (isRegisterSwap) words.reverse();
          expect((await other.readHoldingRegisters(80, words.length)).data).toEqual(words);
          await conn.close();
        }
      }
    } finally {
      other.close(() => undefined);
    }
  });

  it('turns an exception response into that property’s error, and the others still read', async () => {
    const props = [prop('ok', 'int', { register: 'HoldingRegister', offset: 0, dataType: 'int16' }), prop('beyond', 'int', { register: 'HoldingRegister', offset: 100, dataType: 'int16' })];
    const { conn } = await open({ ip: '127.0.0.1', port, slaveID: 1 }, props);
    const v = await readValues(conn, props);
    expect(v.ok).toBe('-1234');
    expect(v.beyond).toMatch(/Error: .*HoldingRegister 100\+1: Modbus exception 2: Illegal data address/);
    await conn.close();
  });

  it('times out on a slave that stops answering, and reads again when it answers', async () => {
    const props = [prop('ok', 'int', { register: 'HoldingRegister', offset: 0, dataType: 'int16' })];
    const { conn } = await open({ ip: '127.0.0.1', port, slaveID: 1, timeout: 300 }, props);
    slave.proc.kill('SIGSTOP');
    try {
      expect((await readValues(conn, props)).ok).toMatch(/Error: .*Timed out/);
    } finally {
      slave.proc.kill('SIGCONT');
    }
    await eventually(async () => (await readValues(conn, props)).ok === '-1234', 5000, 'reads after SIGCONT');
    await conn.close();
  });

  it('reports the transport lost when the slave goes away, and opens again when it is back', async () => {
    const props = [prop('ok', 'int', { register: 'HoldingRegister', offset: 0, dataType: 'int16' })];
    const { conn, lost } = await open({ ip: '127.0.0.1', port, slaveID: 1 }, props);
    await slave.stop();
    // a dropped connection shows at the latest on the next request
    await eventually(async () => (await readValues(conn, props)).ok?.startsWith('Error') && lost.length > 0, 5000, 'lost');
    expect(lost[0]).toMatch(/tcp:\/\/127\.0\.0\.1:\d+/);
    await conn.close();
    await expect(open({ ip: '127.0.0.1', port, slaveID: 1 }, props)).rejects.toThrow();
    slave = await pymodbusSlave('tcp', port);
    const again = await open({ ip: '127.0.0.1', port, slaveID: 1 }, props);
    expect((await readValues(again.conn, props)).ok).toBe('-1234');
    await again.conn.close();
  });
});

describe('Modbus TCP against modbus-serial’s ServerTCP', () => {
  it('reads and writes holding registers and coils', async () => {
    const port = await freePort();
    const holding = new Array<number>(10).fill(0);
    holding[2] = 77;
    const coils = new Array<boolean>(10).fill(false);
    const { ServerTCP } = ModbusSerial as unknown as { ServerTCP: new (v: unknown, o: unknown) => { on(e: string, f: () => void): void; close(cb: () => void): void } };
    const server = new ServerTCP(
      {
        getHoldingRegister: (a: number) => holding[a] ?? 0,
        getInputRegister: () => 0,
        getCoil: (a: number) => coils[a] ?? false,
        setRegister: (a: number, v: number) => void (holding[a] = v),
        setCoil: (a: number, v: boolean) => void (coils[a] = v),
      },
      { host: '127.0.0.1', port, unitID: 3 },
    );
    await new Promise<void>((r) => server.on('initialized', r));
    const props = [prop('reg', 'int', { register: 'HoldingRegister', offset: 2, dataType: 'uint16' }, true), prop('coil', 'boolean', { register: 'CoilRegister', offset: 4 }, true)];
    const { conn } = await open({ ip: '127.0.0.1', port, slaveID: 3 }, props);
    expect(await readValues(conn, props)).toEqual({ reg: '77', coil: 'false' });
    await conn.write(props[0]!, '1234');
    await conn.write(props[1]!, 'true');
    expect(holding[2]).toBe(1234);
    expect(coils[4]).toBe(true);
    expect(await readValues(conn, props)).toEqual({ reg: '1234', coil: 'true' });
    await conn.close();
    await new Promise<void>((r) => server.close(r));
  });
});

/** Modbus CRC-16 (poly 0xA001), little-endian on the wire */
function crc16(buf: Buffer): number {
  let crc = 0xffff;
  for (const b of buf) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >> 1) ^ 0xa001 : crc >> 1;
  }
  return crc;
}

describe('Modbus RTU on a real serial line (socat pty pair)', () => {
  let pair: PtyPair;
  beforeAll(async () => {
    pair = await ptyPair(dir, 'rtu');
  });
  afterAll(() => pair?.stop());

  it('reads and writes through pymodbus’s RTU slave, two slave IDs sharing one line', async () => {
    const slave = await pymodbusSlave('rtu', pair.b, 19200);
    try {
      const cfg = { serialPort: pair.a, baudRate: 19200, dataBits: 8, parity: 'none', stopBits: 1 };
      const props = known.map(([p]) => p);
      const one = await open({ ...cfg, slaveID: 1 }, props);
      const two = await open({ ...cfg, slaveID: 2 }, props);
      const expected = Object.fromEntries(known.map(([p, v]) => [p.name, v]));
      // both at once: the line serializes them
      const [a, b] = await Promise.all([readValues(one.conn, props), readValues(two.conn, props)]);
      expect(a).toEqual(expected);
      expect(b).toEqual(expected);
      const w = prop('w', 'int', { register: 'HoldingRegister', offset: 70, dataType: 'int32' }, true);
      await one.conn.write(w, '-70000');
      expect(await readValues(two.conn, [w])).toEqual({ w: '-70000' });
      await one.conn.close();
      await two.conn.close();
    } finally {
      await slave.stop();
    }
  });

  it('reads and writes through modbus-serial’s ServerSerial on the far end', async () => {
    const holding = [11, 22, 33, 0];
    const { ServerSerial } = ModbusSerial as unknown as { ServerSerial: new (v: unknown, o: unknown) => { on(e: string, f: (err?: unknown) => void): void; close(cb: () => void): void } };
    const server = new ServerSerial(
      { getHoldingRegister: (a: number) => holding[a] ?? 0, getInputRegister: () => 0, getCoil: () => false, setRegister: (a: number, v: number) => void (holding[a] = v), setCoil: () => undefined },
      { path: pair.b, baudRate: 9600, unitID: 7 },
    );
    await new Promise<void>((r) => server.on('initialized', () => r()));
    try {
      const props = [0, 1, 2].map((i) => prop(`r${i}`, 'int', { register: 'HoldingRegister', offset: i, dataType: 'uint16' }, true));
      const { conn } = await open({ serialPort: pair.a, baudRate: 9600, slaveID: 7 }, props);
      expect(await readValues(conn, props)).toEqual({ r0: '11', r1: '22', r2: '33' });
      await conn.write(props[1]!, '2222');
      expect(holding[1]).toBe(2222);
      await conn.close();
    } finally {
      await new Promise<void>((r) => server.close(r));
    }
  });

  it('turns a bad CRC, garbage and silence into errors, and reads again when the slave answers properly', async () => {
    // a hand-made slave on the far end: it answers FC3 requests, in whatever way the test says
    const far = new SerialPort({ path: pair.b, baudRate: 19200 });
    await new Promise<void>((r) => far.on('open', () => r()));
    let mode: 'bad-crc' | 'garbage' | 'silent' | 'good' = 'bad-crc';
    far.on('data', (req: Buffer) => {
      if (req.length < 8 || mode === 'silent') return;
      const count = req.readUInt16BE(4);
      const frame = Buffer.alloc(3 + count * 2);
      frame[0] = req[0] as number;
      frame[1] = 3;
      frame[2] = count * 2;
      for (let i = 0; i < count; i++) frame.writeUInt16BE(4242, 3 + i * 2);
      const crc = Buffer.alloc(2);
      crc.writeUInt16LE(mode === 'bad-crc' ? crc16(frame) ^ 0xffff : crc16(frame));
      far.write(mode === 'garbage' ? Buffer.from('\xff\x00garbage line\r\n', 'latin1') : Buffer.concat([frame, crc]));
    });
    const p = [prop('v', 'int', { register: 'HoldingRegister', offset: 0, dataType: 'uint16' })];
    const { conn } = await open({ serialPort: pair.a, baudRate: 19200, slaveID: 1, timeout: 300 }, p);
    expect((await readValues(conn, p)).v).toMatch(/Error: .*CRC error/);
    mode = 'garbage';
    expect((await readValues(conn, p)).v).toMatch(/Error: /);
    mode = 'silent';
    expect((await readValues(conn, p)).v).toMatch(/Error: .*Timed out/);
    mode = 'good';
    await eventually(async () => (await readValues(conn, p)).v === '4242', 5000, 'a good answer');
    await conn.close();
    await new Promise((r) => far.close(r));
  });

  it('reports the line lost when the adapter is unplugged, and opens again when it is back', async () => {
    const slave = await pymodbusSlave('rtu', pair.b, 19200);
    const p = [prop('v', 'int', { register: 'HoldingRegister', offset: 0, dataType: 'int16' })];
    const { conn, lost } = await open({ serialPort: pair.a, baudRate: 19200, slaveID: 1 }, p);
    expect((await readValues(conn, p)).v).toBe('-1234');
    await slave.stop();
    await pair.stop(); // the pty vanishes, as an unplugged USB adapter does
    await eventually(async () => lost.length > 0 || (await readValues(conn, p)).v?.startsWith('Error') === true, 5000, 'lost');
    await conn.close();
    pair = await ptyPair(dir, 'rtu');
    const back = await pymodbusSlave('rtu', pair.b, 19200);
    try {
      const again = await open({ serialPort: pair.a, baudRate: 19200, slaveID: 1 }, p);
      expect((await readValues(again.conn, p)).v).toBe('-1234');
      await again.conn.close();
    } finally {
      await back.stop();
    }
  });
});
