/**
 * What this node and its pods use, for `kubectl top` (metrics.k8s.io at the cloud): counters read
 * when the cloud asks, turned into rates against the counters read the time before (or a second
 * earlier, when that is too old). Nothing runs between requests.
 */
import { readFileSync } from 'node:fs';
import type { NodeUsage } from '../../api/usage.js';
import type { Pod } from '../../api/pods/types.js';
import type { Observed } from './worker.js';

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

/** a pod this node runs, and its containers' newest attempts */
export interface PodOnNode {
  /** `<namespace>/<name>` */
  key: string;
  pod: Pod;
  current(container: string): Observed | undefined;
}

/** the counters of the node and of every running container */
async function sample(pods: readonly PodOnNode[]): Promise<UsageSample> {
  const containers = new Map<string, Counters>();
  for (const { key, pod, current } of pods) {
    for (const spec of pod.spec.containers) {
      const cur = current(spec.name);
      if (cur?.container.state !== 'running') continue;
      containers.set(`${key}/${spec.name}`, await cur.runtime.usage(cur.container).catch(() => ({})));
    }
  }
  return { at: performance.now(), node: nodeCounters(), containers };
}

/** what the node and each running container used between two samples */
export function usageBetween(base: UsageSample, now: UsageSample, pods: readonly PodOnNode[]): NodeUsage {
  const windowMs = now.at - base.at;
  const podsUsage: NodeUsage['pods'] = [];
  for (const { key, pod } of pods) {
    const containers = pod.spec.containers
      .filter((c) => now.containers.has(`${key}/${c.name}`))
      .map((c) => {
        const u = now.containers.get(`${key}/${c.name}`) as Counters;
        return { name: c.name, cpuNanocores: rate(base.containers.get(`${key}/${c.name}`), u, windowMs), memoryBytes: u.memoryBytes ?? 0 };
      });
    if (containers.length) podsUsage.push({ namespace: pod.metadata.namespace ?? 'default', name: pod.metadata.name, containers });
  }
  const node = { cpuNanocores: rate(base.node, now.node, windowMs), memoryBytes: now.node.memoryBytes ?? 0 };
  return { timestamp: new Date().toISOString(), windowSeconds: Math.round(windowMs) / 1000, node, pods: podsUsage };
}

/** kubectl top's reader: rates over the window since the last ask, or over a fresh second */
export function createUsageReader(pods: () => PodOnNode[]): () => Promise<NodeUsage> {
  let last: UsageSample | undefined;
  return async () => {
    const age = last ? performance.now() - last.at : Infinity;
    let base = age >= FRESH_WINDOW_MS && age <= MAX_WINDOW_MS ? last : undefined;
    if (!base) {
      base = await sample(pods());
      await new Promise((r) => setTimeout(r, FRESH_WINDOW_MS));
    }
    last = await sample(pods());
    return usageBetween(base, last, pods());
  };
}
