/** Where a process spent its CPU: a summary of a V8 .cpuprofile (`node --cpu-prof`), by self time. */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { ROOT } from '../../test/peers/proc.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

/** bundles edgecore unminified (names kept) and returns the launcher that runs it under --cpu-prof, writing into `dir` */
export async function profiledEdgecore(dir: string): Promise<string[]> {
  const outfile = join(ROOT, '.tmp', 'bench', 'edgecore-profiled.mjs');
  await build({ entryPoints: [join(ROOT, 'bench', 'peers', 'edgecore-profiled.ts')], outfile, bundle: true, platform: 'node', target: 'node20', format: 'esm', packages: 'external', define: { __KUBEEDGE_VERSION__: '"bench"' }, logLevel: 'warning' });
  return [process.execPath, '--cpu-prof', `--cpu-prof-dir=${dir}`, outfile];
}

/** what a frame belongs to: a package, Node itself, V8's own work, or ours (the bundle) */
function ownerOf(url: string, name: string): string {
  if (name === '(garbage collector)' || name === '(program)' || name === '(idle)') return name;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) return pkg;
  if (url.startsWith('node:')) return 'node (internals)';
  if (url === '') return 'native';
  return 'edgecore (ours)';
}

/** self time by owner and the top functions, as percentages of the sampled time */
export function summarizeProfile(dir: string, top = 12): { byOwner: [string, number][]; byFunction: [string, number][]; totalMs: number } {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no .cpuprofile in ${dir}`);
  const p = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const nodes = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  p.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const idle = [...selfUs].filter(([id]) => nodes.get(id)?.callFrame.functionName === '(idle)').reduce((a, [, us]) => a + us, 0);
  const busy = [...selfUs.values()].reduce((a, b) => a + b, 0) - idle;
  const owners = new Map<string, number>();
  const fns = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const f = nodes.get(id)?.callFrame;
    if (!f || f.functionName === '(idle)') continue;
    const owner = ownerOf(f.url, f.functionName);
    owners.set(owner, (owners.get(owner) ?? 0) + us);
    const key = `${f.functionName || '(anonymous)'} [${owner}]`;
    fns.set(key, (fns.get(key) ?? 0) + us);
  }
  const pct = (m: Map<string, number>): [string, number][] => [...m].sort((a, b) => b[1] - a[1]).map(([k, us]) => [k, (100 * us) / busy]);
  return { byOwner: pct(owners).slice(0, top), byFunction: pct(fns).slice(0, top), totalMs: busy / 1000 };
}
