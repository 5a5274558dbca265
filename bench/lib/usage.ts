/** What a process under test uses: memory and CPU, from the process itself or from /proc. */
import { readFileSync } from 'node:fs';
import type { Proc } from '../../test/peers/proc.js';

/** Asks a process for its GC'd memory line (SIGUSR2: cloudcore and the bare peer print one) and returns the figures in KiB. */
export async function memoryOf(proc: Proc): Promise<{ rss: number; heap: number }> {
  const from = proc.lines.length;
  proc.child.kill('SIGUSR2');
  const line = await proc.waitFor(/memory rssKiB=\d+/, 30_000, from);
  return { rss: Number(/rssKiB=(\d+)/.exec(line)?.[1]), heap: Number(/heapUsedKiB=(\d+)/.exec(line)?.[1]) };
}

/** user + system CPU seconds of a process (USER_HZ is 100 on Linux) */
export function cpuSeconds(pid: number | 'self'): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** anonymous resident memory (the heap, not the mapped code), KiB */
export const anonKiB = (pid: number): number => Number(/RssAnon:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
