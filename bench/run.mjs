// Runs the benchmarks: bundles each bench/*.bench.ts with esbuild (no TS runtime needed) and runs
// it in its own process. `npm run bench -- link` runs one; flags after the names go to each bench
// (`npm run bench -- soak --minutes 60`). Each prints a table and writes JSON to bench/results/.
// scale, soak and fuzz are long (minutes each): a plain `npm run bench` runs them too.
import { build } from 'esbuild';
import { readdirSync, mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const firstFlag = args.findIndex((a) => a.startsWith('--'));
const only = firstFlag < 0 ? args : args.slice(0, firstFlag);
const flags = firstFlag < 0 ? [] : args.slice(firstFlag);
const benches = readdirSync('bench').filter((f) => f.endsWith('.bench.ts')).map((f) => f.replace('.bench.ts', '')).filter((n) => only.length === 0 || only.includes(n));
mkdirSync('.tmp/bench', { recursive: true });
let failed = 0;
for (const name of benches) {
  const outfile = `.tmp/bench/${name}.mjs`;
  await build({
    entryPoints: [`bench/${name}.bench.ts`],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    packages: 'external',
    logLevel: 'warning',
  });
  console.log(`\n== bench ${name} ==`);
  const r = spawnSync(process.execPath, ['--expose-gc', outfile, ...flags], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
