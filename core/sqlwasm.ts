/**
 * sql.js's WebAssembly module. Here it is read from node_modules (tests, development); in a bundle,
 * build.mjs puts in its place a module that holds the wasm brotli-compressed (~290 KiB instead of
 * sql.js's 920 KiB of inlined base64), which is what keeps edgecore.js small.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export function sqlWasmBinary(): Uint8Array {
  return readFileSync(createRequire(import.meta.url).resolve('sql.js/dist/sql-wasm.wasm'));
}
