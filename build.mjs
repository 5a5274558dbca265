// Bundles edgecore, cloudcore and keadm into single files under dist/ and reports where the bytes go.
// Native add-ons (serialport, onoff, epoll) stay external: edgecore loads them lazily.
import { build, analyzeMetafile } from 'esbuild';
import { readFileSync, writeFileSync, statSync, chmodSync, rmSync, mkdirSync, copyFileSync, readdirSync } from 'node:fs';
import { brotliCompressSync, gzipSync, constants as zlib } from 'node:zlib';
import { builtinModules, createRequire } from 'node:module';

const nodeRequire = createRequire(import.meta.url);

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
/** dist/edgecore.js must stay under this (bytes); KubeEdge's edgecore is 95 MiB. */
export const EDGECORE_BUDGET = 1.5 * 1024 * 1024;

/**
 * Node flags for a small footprint, in each shebang (and in images/ systemd units): a 1 MiB young
 * generation saves ~20 KiB per connected edge on the cloud (bench/link); compiling WebAssembly with
 * the baseline compiler only (no optimizing tier for sql.js) saves ~20 MiB of edgecore's RSS
 * (bench/metamanager). edgecore also runs without Sparkplug: why is at NODE_ARGS in
 * keadm/service.ts; keep the two in step.
 */
const SMALL_FLAGS = '--max-semi-space-size=1 --liftoff-only';
const EDGECORE_FLAGS = '--max-semi-space-size=1 --no-sparkplug --liftoff-only';

const bundles = [
  { name: 'edgecore', entry: 'runtime/entry.ts', budget: EDGECORE_BUDGET, flags: EDGECORE_FLAGS },
  { name: 'cloudcore', entry: 'cloud-stub/entry.ts', flags: SMALL_FLAGS },
  { name: 'keadm', entry: 'keadm/entry.ts', flags: SMALL_FLAGS },
  // an optional program with its own package: node-opcua's client is most of its ~3 MiB
  { name: 'mapper-opcua', entry: 'runtime/mappers/opcua-entry.ts', plugins: [], flags: SMALL_FLAGS },
];

// ESM output still meets CommonJS dependencies (require, __dirname): give them what they expect.
const banner = (flags) => [
  `#!/usr/bin/env -S node ${flags}`,
  "import { createRequire as __kcr } from 'node:module';",
  "import { fileURLToPath as __kfu } from 'node:url';",
  "import { dirname as __kdn } from 'node:path';",
  'const require = __kcr(import.meta.url);',
  'const __filename = __kfu(import.meta.url);',
  'const __dirname = __kdn(__filename);',
].join('\n');

const external = ['serialport', '@serialport/*', 'onoff', 'epoll', 'bufferutil', 'utf-8-validate', 'cbor-extract'];
/**
 * Parts of modbus-serial edgecore never uses (its slave servers, and the BLE, UDP, telnet, ASCII and
 * C701 ports) are replaced by an empty module: ~40 KiB of a bundle that must stay small.
 */
const unusedModbusParts = /modbus-serial[\\/](servers[\\/].*|ports[\\/](bleport|testport|asciiport|telnetport|c701port|udpport|tcprtubufferedport))\.js$/;
const dropUnused = {
  name: 'drop-unused',
  setup(b) {
    b.onLoad({ filter: unusedModbusParts }, () => ({ contents: 'module.exports = undefined;', loader: 'js' }));
  },
};
/**
 * sql.js's wasm, brotli-compressed into the bundle in place of core/sqlwasm.ts (which reads
 * it from node_modules): 290 KiB of compressed base64 where sql.js's inline build has 920 KiB.
 */
const WASM_MARK = '__kubeedge_lite_sql_wasm__';
let sqlWasmPacked = '';
const sqlWasm = {
  name: 'sql-wasm',
  setup(b) {
    b.onLoad({ filter: /core[\\/]sqlwasm\.ts$/ }, () => {
      const wasm = readFileSync('node_modules/sql.js/dist/sql-wasm.wasm');
      const packed = brotliCompressSync(wasm, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_LGWIN]: 24, [zlib.BROTLI_PARAM_SIZE_HINT]: wasm.length } });
      sqlWasmPacked = packed.toString('base64');
      // the bytes go into a comment of packedWasm (put there once built: see below), read back
      // through its source text: a string literal would stay on the heap for the process's life
      return {
        loader: 'js',
        contents: `import { brotliDecompressSync } from 'node:zlib';\nfunction packedWasm() { return ${JSON.stringify(WASM_MARK)}; }\nexport function sqlWasmBinary() { const t = packedWasm.toString(); return brotliDecompressSync(Buffer.from(t.slice(t.indexOf('/*') + 2, t.lastIndexOf('*/')), 'base64')); }`,
      };
    });
  },
};
/**
 * Node's built-in modules by require(), not import: Node makes an ES module of a built-in by reading
 * every export, getters too, so `import … from 'node:tls'` alone materializes tls.rootCertificates
 * (144 PEM strings, 214 KiB of heap) and 'node:crypto' its webcrypto. Required, a getter runs only
 * when used. The banner's `require` loads them.
 */
const builtinsByRequire = {
  name: 'builtins-by-require',
  setup(b) {
    b.onResolve({ filter: /^(node:)?[a-z_]+(\/[a-z_]+)?$/ }, (args) => {
      if (args.kind !== 'import-statement' || !builtinModules.includes(args.path.replace(/^node:/, ''))) return undefined;
      return { path: args.path.replace(/^node:/, ''), namespace: 'builtin-by-require' };
    });
    // its plain values as named exports (esbuild keeps those used), its getters left out
    b.onLoad({ filter: /.*/, namespace: 'builtin-by-require' }, (args) => {
      const names = Object.entries(Object.getOwnPropertyDescriptors(nodeRequire(args.path)))
        .filter(([k, d]) => 'value' in d && /^[A-Za-z_$][\w$]*$/.test(k) && k !== 'default')
        .map(([k]) => `export const ${k} = /* @__PURE__ */ (() => m.${k})();`);
      return { contents: `const m = require('node:${args.path}');\nexport default m;\n${names.join('\n')}`, loader: 'js' };
    });
  },
};
/**
 * The OpenAPI schemas cloudcore serves (api/openapi/schemas.json, 310 KiB), brotli-compressed into the
 * bundle in place of api/openapi/schemas.ts, which reads the file: ~50 KiB, unpacked on first use.
 */
const openApiSchemas = {
  name: 'openapi-schemas',
  setup(b) {
    b.onLoad({ filter: /api[\\/]openapi[\\/]schemas\.ts$/ }, () => {
      const packed = brotliCompressSync(readFileSync('api/openapi/schemas.json'), { params: { [zlib.BROTLI_PARAM_QUALITY]: 11 } });
      return {
        loader: 'js',
        contents: `import { brotliDecompressSync } from 'node:zlib';\nexport function schemasText() { return brotliDecompressSync(Buffer.from(${JSON.stringify(packed.toString('base64'))}, 'base64')).toString('utf8'); }`,
      };
    });
  },
};
const quiet = process.argv.includes('--quiet');
rmSync('dist', { recursive: true, force: true });
let failed = false;
for (const b of bundles) {
  const outfile = `dist/${b.name}.js`;
  const result = await build({
    entryPoints: [b.entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node18', // the packages' floor: Debian 12's nodejs (test:images runs the bundles on it)
    format: 'esm',
    minify: true,
    legalComments: 'none',
    metafile: true,
    banner: { js: banner(b.flags) },
    external,
    plugins: [builtinsByRequire, ...(b.plugins ?? (b.name === 'edgecore' ? [dropUnused, sqlWasm] : [sqlWasm, openApiSchemas]))],
    define: { __KUBEEDGE_VERSION__: JSON.stringify(pkg.version) },
    logLevel: 'warning',
  });
  if (sqlWasmPacked) {
    const js = readFileSync(outfile, 'utf8');
    const at = js.indexOf(JSON.stringify(WASM_MARK));
    if (at < 0 || js.indexOf(JSON.stringify(WASM_MARK), at + 1) >= 0) throw new Error(`${outfile}: sql.js's wasm mark not found once`);
    writeFileSync(outfile, `${js.slice(0, at)}/*${sqlWasmPacked}*/""${js.slice(at + WASM_MARK.length + 2)}`);
    sqlWasmPacked = '';
  }
  chmodSync(outfile, 0o755);
  const size = statSync(outfile).size;
  const over = b.budget !== undefined && size > b.budget;
  console.log(`${outfile}  ${(size / 1024).toFixed(1)} KiB${b.budget ? `  (budget ${(b.budget / 1024).toFixed(0)} KiB${over ? ', OVER' : ''})` : ''}`);
  if (!quiet) {
    const top = (await analyzeMetafile(result.metafile, { verbose: false })).split('\n').filter((l) => l.trim()).slice(1, 7);
    console.log(top.join('\n'));
  }
  if (over) failed = true;
}
// the dashboard cloudcore serves under /ui/: static files beside cloudcore.js, for browsers (edgecore gains nothing)
{
  mkdirSync('dist/ui', { recursive: true });
  await build({ entryPoints: ['cloud-stub/ui/app.ts', 'cloud-stub/ui/app.css'], outdir: 'dist/ui', bundle: true, platform: 'browser', target: 'es2020', format: 'esm', minify: true, legalComments: 'none', logLevel: 'warning' });
  for (const f of ['index.html', 'icon.svg']) copyFileSync(`cloud-stub/ui/${f}`, `dist/ui/${f}`);
  const files = readdirSync('dist/ui');
  const total = files.reduce((n, f) => n + statSync(`dist/ui/${f}`).size, 0);
  const gz = files.reduce((n, f) => n + gzipSync(readFileSync(`dist/ui/${f}`)).length, 0);
  console.log(`dist/ui/  ${(total / 1024).toFixed(1)} KiB (${(gz / 1024).toFixed(1)} KiB gzipped): ${files.join(', ')}`);
}
if (failed) {
  console.error('build.mjs: dist/edgecore.js is over its size budget');
  process.exit(1);
}
