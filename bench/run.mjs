// Runs the benchmarks: bundles each bench/*.bench.ts with esbuild (no TS runtime needed) and runs
// it in its own process. `npm run bench -- link` runs one. Each prints a table and writes JSON
// to bench/results/.
import { build } from 'esbuild';
import { readdirSync, mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const only = process.argv.slice(2);
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
  const r = spawnSync(process.execPath, ['--expose-gc', outfile], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
