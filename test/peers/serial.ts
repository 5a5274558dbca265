/** Real serial lines for tests: socat pty pairs, and the slaves that sit on their far end. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { ROOT } from './proc.js';

export interface PtyPair {
  /** the end the driver opens */
  a: string;
  /** the end the device (simulator, slave) opens */
  b: string;
  proc: ChildProcess;
  /** pulls the cable: both ends vanish */
  stop(): Promise<void>;
}

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function ptyPair(dir: string, name: string): Promise<PtyPair> {
  const a = join(dir, `${name}-a`);
  const b = join(dir, `${name}-b`);
  const proc = spawn('socat', [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !(existsSync(a) && existsSync(b)); i++) await wait(20);
  if (!existsSync(a) || !existsSync(b)) throw new Error('socat did not make the pty pair');
  return {
    a,
    b,
    proc,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

// from the repository root: benches run this file bundled elsewhere
const PYMODBUS_SLAVE = join(ROOT, 'test', 'peers', 'pymodbus_slave.py');

/** Debian's pymodbus as a TCP slave (`tcp`, port) or RTU slave (`rtu`, serial port, baud); see pymodbus_slave.py */
export async function pymodbusSlave(...args: [mode: 'tcp', port: number] | [mode: 'rtu', path: string, baud: number]): Promise<{ proc: ChildProcess; stop(): Promise<void> }> {
  const proc = spawn('/usr/bin/python3', [PYMODBUS_SLAVE, ...args.map(String)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  if (args[0] === 'tcp') {
    const port = args[1];
    for (let i = 0; ; i++) {
      if (i === 100 || proc.exitCode !== null) throw new Error(`pymodbus did not listen on ${port}: ${stderr}`);
      const ok = await new Promise<boolean>((r) => {
        const s = connect(port, '127.0.0.1', () => {
          s.destroy();
          r(true);
        }).on('error', () => r(false));
      });
      if (ok) break;
      await wait(50);
    }
  } else {
    await wait(1200); // the RTU server has nothing to connect to: give it time to open the port
  }
  return {
    proc,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

export type ModbusClient = import('modbus-serial/ModbusRTU.js').ModbusRTU;

/** A bare modbus-serial TCP client: another client's view of a slave's registers, or the bench's peer. */
export async function modbusClient(port: number, slave = 1): Promise<ModbusClient> {
  const m = await import('modbus-serial');
  const c = new ((m as { default?: unknown }).default as new () => ModbusClient)();
  await c.connectTCP('127.0.0.1', { port });
  c.setID(slave);
  c.setTimeout(1000);
  return c;
}
