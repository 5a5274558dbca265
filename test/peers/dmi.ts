/** The Python DMI mapper (dmi_mapper.py) as a test peer: its events, and commands to it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { ROOT } from './proc.js';

export interface MapperEvent {
  call?: string;
  reply?: unknown;
  ok?: boolean;
  code?: string;
  error?: string;
  [k: string]: any;
}

export interface PyMapper {
  child: ChildProcess;
  events: MapperEvent[];
  /** the first event from index `from` on that matches */
  next(match: (e: MapperEvent) => boolean, timeoutMs?: number, from?: number): Promise<MapperEvent>;
  /** sends a command and waits for its reply */
  command(cmd: Record<string, unknown>): Promise<MapperEvent>;
  kill(): Promise<void>;
}

export function pyMapper(edgeSocket: string, ownSocket: string, protocol: string, name = `${protocol}-mapper`): PyMapper {
  const child = spawn('/usr/bin/python3', [resolve(ROOT, 'test/peers/dmi_mapper.py'), edgeSocket, ownSocket, protocol, name], { stdio: ['pipe', 'pipe', 'pipe'] });
  const events: MapperEvent[] = [];
  const stderr: string[] = [];
  const waiters = new Set<() => void>();
  let partial = '';
  child.stdout?.on('data', (b: Buffer) => {
    partial += b.toString('utf8');
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) if (l.trim()) events.push(JSON.parse(l) as MapperEvent);
    for (const w of waiters) w();
  });
  child.stderr?.on('data', (b: Buffer) => stderr.push(b.toString('utf8')));
  const exited = new Promise<void>((res) => child.on('exit', () => res()));
  const next: PyMapper['next'] = (match, timeoutMs = 20_000, from = 0) =>
    new Promise((res, rej) => {
      const check = (): boolean => {
        const e = events.slice(from).find(match);
        if (e) res(e);
        return e !== undefined;
      };
      if (check()) return;
      const w = (): void => {
        if (!check()) return;
        clearTimeout(timer);
        waiters.delete(w);
      };
      const timer = setTimeout(() => {
        waiters.delete(w);
        rej(new Error(`mapper ${name}: no such event within ${timeoutMs} ms; events:\n${events.slice(-10).map((e) => JSON.stringify(e)).join('\n')}\nstderr: ${stderr.join('').slice(-2000)}`));
      }, timeoutMs);
      waiters.add(w);
    });
  return {
    child,
    events,
    next,
    command(cmd) {
      const from = events.length;
      child.stdin?.write(`${JSON.stringify(cmd)}\n`);
      return next((e) => e.reply !== undefined && JSON.stringify(e.reply) === JSON.stringify(cmd), 20_000, from);
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
