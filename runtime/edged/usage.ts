/**
 * What this node and its pods use, for `kubectl top` (metrics.k8s.io at the cloud): counters read
 * when the cloud asks, turned into rates against the counters read the time before (or a second
 * earlier, when that is too old). Nothing runs between requests.
 */
import { readFileSync } from 'node:fs';

export interface Counters {
  cpuNanos?: number;
  memoryBytes?: number;
}

export interface UsageSample {
  /** ms (monotonic) */
  at: number;
  node: Counters;
  /** `<namespace>/<pod>/<container>` */
  containers: Map<string, Counters>;
}

/** the node's CPU time so far (busy, ns) and its memory in use (MemTotal − MemAvailable) */
export function nodeCounters(): Counters {
  const out: Counters = {};
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] as string;
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number) as number[];
    // jiffies at USER_HZ (100 on every Linux) to ns
    out.cpuNanos = ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * 10_000_000;
  } catch {
    /* not Linux */
  }
  try {
    const mem = readFileSync('/proc/meminfo', 'utf8');
    const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(mem)?.[1] ?? NaN);
    const used = (kb('MemTotal') - kb('MemAvailable')) * 1024;
    if (Number.isFinite(used)) out.memoryBytes = used;
  } catch {
    /* not Linux */
  }
  return out;
}

/** a sample older than this is no base for a rate */
export const MAX_WINDOW_MS = 120_000;
/** the window taken when there is no recent sample */
export const FRESH_WINDOW_MS = 1000;

/** nanocores over the window (0 when a counter is unknown or went back, as after a restart) */
export function rate(before: Counters | undefined, now: Counters, windowMs: number): number {
  if (before?.cpuNanos === undefined || now.cpuNanos === undefined || now.cpuNanos < before.cpuNanos || windowMs <= 0) return 0;
  return Math.round(((now.cpuNanos - before.cpuNanos) * 1000) / windowMs);
}
