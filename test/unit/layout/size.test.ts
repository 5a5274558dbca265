/**
 * How big a function may grow, and how deep its blocks may nest (docs/design.md, "The floors"): no
 * function over 60 lines, no block nested deeper than 4 (if, loops, switch, try; an else-if is not
 * deeper, and a function starts again at 0). A module's factory wires its parts; what it decides
 * lives in functions of their own, so none needs to be long.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { FLOORS } from './floors.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const MAX_LINES = 60;
const MAX_DEPTH = 4;

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

const isFunction = (n: ts.Node): n is ts.FunctionLikeDeclaration =>
  ts.isFunctionDeclaration(n) || ts.isArrowFunction(n) || ts.isFunctionExpression(n) || ts.isMethodDeclaration(n) || ts.isConstructorDeclaration(n) || ts.isGetAccessor(n) || ts.isSetAccessor(n);
const isBlock = (n: ts.Node): boolean =>
  ts.isIfStatement(n) || ts.isForStatement(n) || ts.isForOfStatement(n) || ts.isForInStatement(n) || ts.isWhileStatement(n) || ts.isDoStatement(n) || ts.isSwitchStatement(n) || ts.isTryStatement(n);

function nameOf(fn: ts.FunctionLikeDeclaration): string {
  if (fn.name) return fn.name.getText();
  const p = fn.parent;
  if (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)) return p.name.getText();
  return `<anonymous at line ${fn.getSourceFile().getLineAndCharacterOfPosition(fn.getStart()).line + 1}>`;
}

function measure(): { lengths: Map<string, number>; deep: string[] } {
  const lengths = new Map<string, number>();
  const deep: string[] = [];
  for (const file of Object.keys(FLOORS).flatMap(sources)) {
    const src = ts.createSourceFile(file, readFileSync(join(ROOT, file), 'utf8'), ts.ScriptTarget.Latest, true);
    const line = (pos: number): number => src.getLineAndCharacterOfPosition(pos).line + 1;
    const visit = (n: ts.Node, depth: number): void => {
      let d = depth;
      if (isFunction(n)) {
        d = 0;
        const key = `${file}:${nameOf(n)}`;
        lengths.set(key, Math.max(lengths.get(key) ?? 0, line(n.end) - line(n.getStart()) + 1));
      } else if (isBlock(n) && !(ts.isIfStatement(n) && ts.isIfStatement(n.parent) && n.parent.elseStatement === n)) {
        d = depth + 1;
        if (d > MAX_DEPTH) deep.push(`${file}:${line(n.getStart())} is nested ${d} deep`);
      }
      ts.forEachChild(n, (c) => visit(c, d));
    };
    visit(src, 0);
  }
  return { lengths, deep };
}

describe('the size of functions', () => {
  const { lengths, deep } = measure();

  it(`no block nests deeper than ${MAX_DEPTH}`, () => {
    expect(deep).toEqual([]);
  });

  it(`no function is over ${MAX_LINES} lines`, () => {
    expect([...lengths].filter(([, n]) => n > MAX_LINES).map(([key, n]) => `${key}: ${n} lines`)).toEqual([]);
  });
});
