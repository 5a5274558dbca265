/** Bench output: a table on stdout and JSON in bench/results/<name>.json. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { arch, cpus, totalmem } from 'node:os';

export interface Row {
  metric: string;
  ours: number | string;
  peer?: number | string;
  peerName?: string;
  ratio?: number;
  unit: string;
  target?: string;
  met?: boolean;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

const fmt = (v: number | string | undefined): string => (v === undefined ? '' : typeof v === 'number' ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2)) : v);

export function report(name: string, rows: Row[]): void {
  const table = rows.map((r) => [r.metric, fmt(r.ours), r.peerName ? `${fmt(r.peer)} (${r.peerName})` : '', r.ratio === undefined ? '' : r.ratio.toFixed(2), r.unit, r.target ? `${r.target} ${r.met ? 'MET' : 'NOT MET'}` : '']);
  const head = ['metric', 'ours', 'peer', 'ratio', 'unit', 'target'];
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => (row[i] as string).length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of table) console.log(line(r));
  mkdirSync('bench/results', { recursive: true });
  const out = { bench: name, at: new Date().toISOString(), node: process.version, arch: arch(), cpus: cpus().length, memBytes: totalmem(), rows };
  writeFileSync(`bench/results/${name}.json`, JSON.stringify(out, null, 2) + '\n');
  console.log(`wrote bench/results/${name}.json`);
}

export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}
