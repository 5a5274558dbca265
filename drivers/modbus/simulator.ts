/**
 * A simulated Modbus TCP thermostat, for the quick start and the tests: input register 0 holds the
 * temperature × 10, drifting towards holding register 0, the setpoint × 10, which can be written;
 * coil 0 is the heater, on while the room is colder than the setpoint.
 *
 * The server is a few lines over node:net rather than modbus-serial's ServerTCP, so keadm (which
 * runs it for `keadm quickstart`) carries no driver library.
 */
import { createServer, type Server, type Socket } from 'node:net';

export interface Thermostat {
  port: number;
  temperature(): number;
  setpoint(): number;
  close(): Promise<void>;
}

/** What a simulated slave holds: each read gets an address, each write an address and a value. */
export interface RegisterMap {
  coil(addr: number): boolean;
  discreteInput(addr: number): boolean;
  holding(addr: number): number;
  input(addr: number): number;
  writeCoil(addr: number, on: boolean): void;
  writeHolding(addr: number, value: number): void;
}

const ILLEGAL_FUNCTION = 1;
const ILLEGAL_ADDRESS = 2;
const ILLEGAL_VALUE = 3;
const MBAP = 7;

function bits(n: number, at: number, get: (addr: number) => boolean): Buffer {
  const out = Buffer.alloc(1 + Math.ceil(n / 8));
  out[0] = n > 0 ? out.length - 1 : 0;
  for (let i = 0; i < n; i++) if (get(at + i)) out[1 + (i >> 3)]! |= 1 << (i & 7);
  return out;
}

function words(n: number, at: number, get: (addr: number) => number): Buffer {
  const out = Buffer.alloc(1 + 2 * n);
  out[0] = 2 * n;
  for (let i = 0; i < n; i++) out.writeUInt16BE(get(at + i) & 0xffff, 1 + 2 * i);
  return out;
}

/** The response PDU's body (after the function code) for one request PDU, or an exception code. */
export function answer(pdu: Buffer, map: RegisterMap): Buffer | number {
  const fc = pdu[0]!;
  if (pdu.length < 5) return ILLEGAL_VALUE;
  const addr = pdu.readUInt16BE(1);
  const count = pdu.readUInt16BE(3);
  const ranged = (max: number): number | undefined => (count < 1 || count > max ? ILLEGAL_VALUE : addr + count > 0x10000 ? ILLEGAL_ADDRESS : undefined);
  switch (fc) {
    case 1:
    case 2:
      return ranged(2000) ?? bits(count, addr, fc === 1 ? map.coil : map.discreteInput);
    case 3:
    case 4:
      return ranged(125) ?? words(count, addr, fc === 3 ? map.holding : map.input);
    case 5:
      if (count !== 0xff00 && count !== 0) return ILLEGAL_VALUE;
      map.writeCoil(addr, count === 0xff00);
      return pdu.subarray(1, 5);
    case 6:
      map.writeHolding(addr, count);
      return pdu.subarray(1, 5);
    case 15:
    case 16: {
      const bad = ranged(fc === 15 ? 1968 : 123);
      if (bad !== undefined) return bad;
      const data = pdu.subarray(6, 6 + (pdu[5] ?? 0));
      if (data.length !== (fc === 15 ? Math.ceil(count / 8) : 2 * count)) return ILLEGAL_VALUE;
      for (let i = 0; i < count; i++) {
        if (fc === 15) map.writeCoil(addr + i, ((data[i >> 3]! >> (i & 7)) & 1) === 1);
        else map.writeHolding(addr + i, data.readUInt16BE(2 * i));
      }
      return pdu.subarray(1, 5);
    }
    default:
      return ILLEGAL_FUNCTION;
  }
}

/** Serves `map` as Modbus TCP for one unit id (255 or 0 answer to any). */
export async function serveModbusTcp(map: RegisterMap, opts: { port: number; host?: string; unitID?: number }): Promise<Server> {
  const unit = opts.unitID ?? 1;
  const serve = (socket: Socket): void => {
    let pending: Buffer = Buffer.alloc(0);
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (pending.length >= MBAP) {
        const length = pending.readUInt16BE(4);
        if (length < 2 || length > 254) return void socket.destroy(); // not Modbus TCP
        if (pending.length < 6 + length) break;
        const frame = pending.subarray(0, 6 + length);
        pending = pending.subarray(6 + length);
        const id = frame[6]!;
        if (id !== unit && unit !== 255 && id !== 0) continue; // another unit's request: a real gateway stays silent
        const pdu = frame.subarray(MBAP);
        const body = answer(pdu, map);
        const reply = typeof body === 'number' ? Buffer.from([pdu[0]! | 0x80, body]) : Buffer.concat([pdu.subarray(0, 1), body]);
        const head = Buffer.alloc(MBAP);
        frame.copy(head, 0, 0, 4); // transaction and protocol ids
        head.writeUInt16BE(reply.length + 1, 4);
        head[6] = id;
        socket.write(Buffer.concat([head, reply]));
      }
    });
  };
  const server = createServer(serve);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

export async function startThermostat(opts: { port: number; host?: string; unitID?: number; start?: number }): Promise<Thermostat> {
  let temperature = opts.start ?? 18.0;
  let setpoint = 21.0;
  const heater = (): boolean => temperature < setpoint;
  const server = await serveModbusTcp(
    {
      input: (addr) => (addr === 0 ? Math.round(temperature * 10) : 0),
      holding: (addr) => (addr === 0 ? Math.round(setpoint * 10) : 0),
      coil: (addr) => addr === 0 && heater(),
      discreteInput: () => false,
      writeHolding: (addr, value) => {
        if (addr === 0) setpoint = (value > 0x7fff ? value - 0x10000 : value) / 10;
      },
      writeCoil: () => undefined,
    },
    opts,
  );
  // the room warms or cools a little every second, towards the setpoint, with some noise
  const timer = setInterval(() => {
    temperature += (setpoint - temperature) * 0.1 + (Math.random() - 0.5) * 0.2;
  }, 1000);
  timer.unref();
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return {
    port: opts.port,
    temperature: () => temperature,
    setpoint: () => setpoint,
    close: () =>
      new Promise((resolve) => {
        clearInterval(timer);
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
