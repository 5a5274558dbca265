/** Runs a bundle as a child process and lets a test wait for its log lines. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** the repository root: the nearest folder above this file (or its bundled copy) with a package.json */
export const ROOT = ((): string => {
  let dir = import.meta.dirname;
  while (!existsSync(resolve(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})();

export interface Proc {
  child: ChildProcess;
  lines: string[];
  waitFor(re: RegExp, timeoutMs?: number, from?: number): Promise<string>;
  count(re: RegExp): number;
  kill(signal?: NodeJS.Signals): Promise<void>;
  exited: Promise<number | null>;
}

/** `launcher` runs the bundle: by default this Node; the ARM test passes qemu and an arm64 Node. */
export function runBundle(name: 'edgecore' | 'cloudcore' | 'keadm' | 'mapper-opcua', args: string[], env: Record<string, string> = {}, launcher: string[] = [process.execPath]): Proc {
  const [cmd, ...pre] = launcher as [string, ...string[]];
  return runProcess(cmd, [...pre, resolve(ROOT, 'dist', `${name}.js`), ...args], env, name);
}

export function runProcess(cmd: string, args: string[], env: Record<string, string> = {}, name = cmd): Proc {
  const child = spawn(cmd, args, {
    env: { ...process.env, CHECK_EDGECORE_ENVIRONMENT: 'false', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const onData = (buf: Buffer, partial: { s: string }): void => {
    partial.s += buf.toString('utf8');
    const parts = partial.s.split('\n');
    partial.s = parts.pop() ?? '';
    for (const l of parts) {
      lines.push(l);
      if (process.env.E2E_VERBOSE) process.stdout.write(`[${name}] ${l}\n`);
    }
    for (const w of waiters) w();
  };
  const out = { s: '' };
  const err = { s: '' };
  child.stdout?.on('data', (b: Buffer) => onData(b, out));
  child.stderr?.on('data', (b: Buffer) => onData(b, err));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  return {
    child,
    lines,
    exited,
    count: (re) => lines.filter((l) => re.test(l)).length,
    waitFor(re, timeoutMs = 15_000, from = 0) {
      return new Promise((resolvePromise, reject) => {
        const check = (): boolean => {
          for (let i = from; i < lines.length; i++) {
            const l = lines[i] as string;
            if (re.test(l)) {
              resolvePromise(l);
              return true;
            }
          }
          return false;
        };
        if (check()) return;
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`${name}: no line matching ${re} within ${timeoutMs} ms; last lines:\n${lines.slice(-15).join('\n')}`));
        }, timeoutMs);
        const w = (): void => {
          if (check()) {
            clearTimeout(timer);
            waiters.delete(w);
          }
        };
        waiters.add(w);
        void exited.then(() => {
          if (waiters.has(w)) {
            setTimeout(() => {
              if (!waiters.has(w)) return;
              waiters.delete(w);
              clearTimeout(timer);
              reject(new Error(`${name} exited before logging ${re}; last lines:\n${lines.slice(-15).join('\n')}`));
            }, 50);
          }
        });
      });
    },
    async kill(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}
