/**
 * The Modbus driver (modbus-serial), TCP (`ip`, `port`) or RTU (`serialPort`, `baudRate`, …).
 * One request at a time per line, each with a timeout; on an RTU line, shared by every slave on
 * it, with the 3.5-character gap between frames. Neighbouring reads are coalesced (plan.ts).
 * Exceptions, timeouts and CRC errors become the property's error; a dropped TCP connection or a
 * closed serial port is reported lost, and the device manager opens the device again.
 */
import type { ModbusRTU as Client } from 'modbus-serial/ModbusRTU.js';
import type { EventEmitter } from 'node:events';
import type { ConfigData, DeviceConnection, DeviceInfo, Driver, DriverHooks, PropertyVisitor, ReadResult } from '../core/types.js';
import { errorText } from '../../core/errors.js';
import { num, str } from '../core/types.js';
import { decode, encode, isBitRegister, registerSpec, type RegisterSpec } from './codec.js';
import { planReads, type ReadRequest } from './plan.js';

type ModbusCtor = (new () => Client) & { RTUBufferedPort?: unknown };

/** requests waiting for a line at most; beyond it a request fails at once rather than queue without end */
const MAX_QUEUED = 256;
export const DEFAULT_TIMEOUT_MS = 1000;

let loaded: Promise<ModbusCtor> | undefined;
/** modbus-serial is loaded on the first Modbus device (it loads serialport, a native add-on, when present) */
const loadModbus = (): Promise<ModbusCtor> => (loaded ??= import('modbus-serial').then((m) => ((m as { default?: unknown }).default ?? m) as ModbusCtor));

interface Line {
  client: Client;
  /** runs one request on the line, after every request before it, with the line's gap */
  run<T>(slave: number, timeoutMs: number, fn: (c: Client) => Promise<T>): Promise<T>;
  lost: Set<(reason: string) => void>;
  /** closed or dropped: a new open makes a new line */
  dead: boolean;
  refs: number;
  key: string;
}

function makeLine(client: Client, key: string, gapMs: number): Line {
  let tail: Promise<unknown> = Promise.resolve();
  let queued = 0;
  const die = (reason: string): void => {
    if (line.dead) return;
    line.dead = true;
    for (const l of line.lost) l(reason);
  };
  const line: Line = {
    client,
    key,
    refs: 0,
    dead: false,
    lost: new Set(),
    run(slave, timeoutMs, fn) {
      if (queued >= MAX_QUEUED) return Promise.reject(new Error(`${key}: ${MAX_QUEUED} requests already wait for this line`));
      const exec = (): Promise<Awaited<ReturnType<typeof fn>>> => {
        if (line.dead || !client.isOpen) {
          die(`${key} closed`);
          return Promise.reject(new Error(`${key} is not open`));
        }
        client.setID(slave);
        client.setTimeout(timeoutMs); // modbus-serial has none by default: a silent slave would hang the line
        const request = fn(client) as Promise<Awaited<ReturnType<typeof fn>>>;
        if (gapMs === 0) return request; // TCP: a dropped connection is seen by the socket and by the next request
        const gap = (): Promise<void> => new Promise((r) => setTimeout(r, gapMs));
        return request.then(
          (v) => gap().then(() => v),
          (err: unknown) => gap().then(() => Promise.reject(err)),
        );
      };
      queued++;
      // an idle line runs the request at once; a busy one after every request before it
      const task = queued === 1 ? exec() : tail.then(exec);
      tail = task.then(
        () => void queued--,
        () => void queued--,
      );
      return task;
    },
  };
  client.on('close', () => die(`${key} closed`));
  client.on('error', (err: unknown) => die(`${key}: ${errorText(err)}`));
  // modbus-serial does not always relay a dropped TCP connection: watch its socket too
  (client as unknown as { _port?: { _client?: EventEmitter } })._port?._client?.on?.('close', () => die(`${key}: connection closed by the slave`));
  return line;
}

/** RTU lines by serial port: every slave on one port shares it */
const rtuLines = new Map<string, Promise<Line>>();

/** 3.5 character times (11 bits each), at least 1.75 ms (Modbus over serial line, 2.5.1.1) */
export function interFrameGapMs(baudRate: number): number {
  return baudRate > 19200 ? 1.75 : (3.5 * 11 * 1000) / baudRate;
}

async function openRtu(cfg: ConfigData): Promise<Line> {
  const path = str(cfg.serialPort, '');
  const baudRate = num(cfg.baudRate, 9600);
  const options = { baudRate, dataBits: num(cfg.dataBits, 8), stopBits: num(cfg.stopBits, 1), parity: str(cfg.parity, 'none') as 'none' };
  const key = `${path}@${baudRate}`;
  let pending = rtuLines.get(path);
  if (!pending) {
    pending = (async () => {
      const Modbus = await loadModbus();
      if (!Modbus.RTUBufferedPort) throw new Error('Modbus RTU needs the serialport add-on, which cannot be loaded here (npm install serialport beside edgecore)');
      const client = new Modbus();
      client.on('error', () => undefined); // reported through the line
      await client.connectRTUBuffered(path, options);
      return makeLine(client, key, interFrameGapMs(baudRate));
    })();
    rtuLines.set(path, pending);
    pending.catch(() => rtuLines.delete(path));
  }
  const line = await pending;
  if (line.dead && rtuLines.get(path) === pending) {
    rtuLines.delete(path);
    return openRtu(cfg);
  }
  if (line.key !== key) throw new Error(`${path} is already open at ${line.key.split('@')[1]} baud; every device on one line must use the same settings`);
  return line;
}

async function openTcp(cfg: ConfigData, timeoutMs: number): Promise<Line> {
  const Modbus = await loadModbus();
  const client = new Modbus();
  client.on('error', () => undefined);
  const ip = str(cfg.ip, '127.0.0.1');
  const port = num(cfg.port, 502);
  await client.connectTCP(ip, { port, timeout: timeoutMs } as never);
  return makeLine(client, `tcp://${ip}:${port}`, 0);
}

async function closeLine(line: Line): Promise<void> {
  if (--line.refs > 0) return;
  line.dead = true;
  for (const [path, p] of rtuLines) if ((await p.catch(() => undefined)) === line) rtuLines.delete(path);
  return new Promise((resolve) => {
    if (!line.client.isOpen) return resolve();
    line.client.close(() => resolve());
    setTimeout(resolve, 500).unref();
  });
}

function readOne(c: Client, req: ReadRequest<unknown>): Promise<number[] | boolean[]> {
  switch (req.register) {
    case 'CoilRegister':
      return c.readCoils(req.offset, req.count).then((r) => r.data.slice(0, req.count));
    case 'DiscreteInputRegister':
      return c.readDiscreteInputs(req.offset, req.count).then((r) => r.data.slice(0, req.count));
    case 'HoldingRegister':
      return c.readHoldingRegisters(req.offset, req.count).then((r) => r.data);
    case 'InputRegister':
      return c.readInputRegisters(req.offset, req.count).then((r) => r.data);
  }
}

export interface ModbusDriverOptions {
  /** coalesce neighbouring reads (default true); off only to measure what it saves */
  coalesce?: boolean;
  /** counts every request sent, for the bench */
  onRequest?: () => void;
}

export function modbusDriver(opts: ModbusDriverOptions = {}): Driver {
  return {
    protocol: 'modbus',
    async open(device: DeviceInfo, hooks: DriverHooks): Promise<DeviceConnection> {
      const cfg = device.config;
      const slave = num(cfg.slaveID, 1);
      const timeoutMs = num(cfg.timeout, DEFAULT_TIMEOUT_MS);
      const line = typeof cfg.serialPort === 'string' ? await openRtu(cfg) : await openTcp(cfg, timeoutMs);
      line.refs++;
      const onLost = (reason: string): void => hooks.lost(reason);
      line.lost.add(onLost);
      const specs = new Map<string, RegisterSpec>(device.properties.map((p) => [p.name, registerSpec(p.config)]));
      const specOf = (p: PropertyVisitor): RegisterSpec => specs.get(p.name) ?? registerSpec(p.config);
      // the device manager reads the same list every cycle: plan it once
      const plans = new WeakMap<readonly PropertyVisitor[], ReadRequest<PropertyVisitor>[]>();
      return {
        async read(props): Promise<ReadResult> {
          const out: ReadResult = new Map();
          let plan = plans.get(props);
          if (!plan) plans.set(props, (plan = planReads(props.map((p) => ({ item: p, spec: specOf(p) })), opts.coalesce !== false)));
          for (const req of plan) {
            try {
              opts.onRequest?.();
              const raw = await line.run(slave, timeoutMs, (c) => readOne(c, req));
              for (const part of req.parts) {
                try {
                  out.set(part.item.name, decode(raw.slice(part.at, part.at + part.spec.limit) as number[], part.spec, part.item.type));
                } catch (err) {
                  out.set(part.item.name, err as Error);
                }
              }
            } catch (err) {
              const e = new Error(`${line.key} slave ${slave} ${req.register} ${req.offset}+${req.count}: ${errorText(err)}`);
              for (const part of req.parts) out.set(part.item.name, e);
            }
          }
          return out;
        },
        async write(prop, value) {
          const spec = specOf(prop);
          if (!spec.register.startsWith('Coil') && !spec.register.startsWith('Holding')) throw new Error(`${prop.name} is in a ${spec.register}, which cannot be written`);
          const data = encode(value, spec);
          opts.onRequest?.();
          await line.run(slave, timeoutMs, async (c) => {
            if (isBitRegister(spec.register)) await c.writeCoil(spec.offset, data as boolean);
            else if ((data as number[]).length === 1) await c.writeRegister(spec.offset, (data as number[])[0] as number);
            else await c.writeRegisters(spec.offset, data as number[]);
          });
        },
        async close() {
          line.lost.delete(onLost);
          await closeLine(line);
        },
      };
    },
  };
}
