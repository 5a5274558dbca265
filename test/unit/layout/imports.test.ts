/**
 * The floors of docs/design.md ("The floors"), held: each top-level folder imports only the folders
 * below it, and a program never imports another program. A wrong-way import fails here, naming the
 * file, the line and the folder it reached.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FLOORS } from './floors.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');

/** npm packages that are a driver's library: native add-ons and their clients, loaded by edgecore alone */
const DRIVER_LIBRARIES = ['modbus-serial', 'serialport', 'onoff'];

const IMPORT = /(?:^|[^\w.])(?:import|export)\s*(?:type\s+)?(?:[^'";]*?\sfrom\s*)?\(?\s*['"]([^'"]+)['"]/g;

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = join(dir, e.name);
    if (e.isDirectory()) return sources(rel);
    return /\.ts$/.test(e.name) && !e.name.endsWith('.d.ts') ? [rel] : [];
  });
}

interface Import {
  file: string;
  line: number;
  spec: string;
  /** the repository path it reaches, for a relative import */
  target?: string;
}

function importsOf(file: string): Import[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const out: Import[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1]!;
    const line = text.slice(0, m.index).split('\n').length;
    const target = spec.startsWith('.') ? normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts') : undefined;
    out.push({ file, line, spec, ...(target !== undefined && { target }) });
  }
  return out;
}

const folderOf = (path: string): string => path.split('/')[0]!;

/** every import that leaves its folder for one its floor does not allow */
export function wrongWayImports(): string[] {
  const bad: string[] = [];
  for (const [folder, allowed] of Object.entries(FLOORS)) {
    for (const file of sources(folder)) {
      for (const imp of importsOf(file)) {
        if (imp.target === undefined) continue;
        const to = folderOf(imp.target);
        if (to === folder || allowed.includes(to) || allowed.includes(imp.target)) continue;
        bad.push(`${file}:${imp.line} imports ${imp.spec}: ${folder}/ may import ${allowed.length ? allowed.join(', ') : 'nothing outside itself'}`);
      }
    }
  }
  return bad;
}

/** the files a bundle entry reaches through relative imports */
function reached(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const imp of importsOf(file)) if (imp.target !== undefined) visit(imp.target.endsWith('.ts') ? imp.target : `${imp.target}.ts`);
  };
  visit(entry);
  return seen;
}

describe('the floors of the layout', () => {
  it('every top-level folder imports only the floors below it, and no program imports another', () => {
    expect(wrongWayImports()).toEqual([]);
  });

  it('every source folder has a floor: a new top-level folder must be given one here and in docs/design.md', () => {
    const tsFolders = readdirSync(ROOT, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !['node_modules', 'dist', 'test', 'bench', 'examples', 'images', 'docs'].includes(e.name) && !e.name.startsWith('.'))
      .filter((e) => sources(e.name).length > 0)
      .map((e) => e.name)
      .sort();
    expect(tsFolders).toEqual(Object.keys(FLOORS).sort());
  });

  it('keadm reaches no driver library (its quick start thermostat is plain node:net)', () => {
    const files = [...reached('keadm/entry.ts')];
    const libraries = files.flatMap((f) => importsOf(f).filter((i) => DRIVER_LIBRARIES.some((l) => i.spec === l || i.spec.startsWith(`${l}/`))).map((i) => `${relative(ROOT, join(ROOT, f))}:${i.line} ${i.spec}`));
    expect(files).toContain('drivers/modbus/simulator.ts');
    expect(libraries).toEqual([]);
  });
});
