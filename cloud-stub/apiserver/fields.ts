/**
 * Field validation as Kubernetes does it (1.27 and later): a field the kind's schema does not have,
 * or a field given twice, is dropped with a warning by default (`fieldValidation=Warn`), refused with
 * every such field named (`Strict`, what `kubectl apply` asks for unless told otherwise), or dropped
 * silently (`Ignore`). The schemas are Kubernetes' and KubeEdge's own (openapi.ts); on top of them,
 * a Device's configData keys are checked against what its protocol's driver reads, since the CRD
 * keeps any key there and a misspelt `slaveId` would otherwise be stored and never read.
 */
import type { ResourceType } from '../../api/resources.js';
import type { Schema } from '../../api/openapi/schemas.js';
import { deviceConfigData } from '../../api/devices/spec.js';
import { isObj } from '../../core/guards.js';
import { ApiError } from './status.js';
import { schemaOf, schemas } from './openapi.js';

export type FieldValidation = 'Ignore' | 'Warn' | 'Strict';
const DIRECTIVES: readonly FieldValidation[] = ['Ignore', 'Strict', 'Warn'];

/** the request's `fieldValidation` (Warn when absent, as since Kubernetes 1.27) */
export function fieldValidationOf(params: URLSearchParams): FieldValidation {
  const v = params.get('fieldValidation');
  if (v === null || v === '') return 'Warn';
  if (!(DIRECTIVES as readonly string[]).includes(v)) throw new ApiError('BadRequest', `fieldValidation: Unsupported value: ${JSON.stringify(v)}: supported values: ${DIRECTIVES.map((d) => `"${d}"`).join(', ')}`);
  return v as FieldValidation;
}

/** nesting deeper than this in a request body is refused (the scan below recurses) */
const MAX_DEPTH = 200;

/** the paths of keys given twice in one JSON object of `text` (already parsed, so well-formed) */
export function duplicateFields(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  const skipSpace = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i++;
  };
  const string = (): string => {
    const start = i++;
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (path: string, depth: number): void => {
    if (depth > MAX_DEPTH) throw new ApiError('BadRequest', `request body nests deeper than ${MAX_DEPTH} levels`);
    skipSpace();
    const c = text[i];
    if (c === '"') return void string();
    if (c === '{' || c === '[') {
      const object = c === '{';
      const seen = new Set<string>();
      i++;
      skipSpace();
      if (text[i] === (object ? '}' : ']')) return void i++;
      for (let n = 0; ; n++) {
        skipSpace();
        let at = `${path}[${n}]`;
        if (object) {
          const key = string();
          at = path ? `${path}.${key}` : key;
          if (seen.has(key)) out.push(at);
          seen.add(key);
          skipSpace();
          i++; // ':'
        }
        value(at, depth + 1);
        skipSpace();
        if (text[i++] !== ',') return;
      }
    }
    while (i < text.length && !',}] \t\n\r'.includes(text[i] as string)) i++;
  };
  value('', 0);
  return out;
}

/** the known key nearest to `key` (another case, or a letter or two off), for "did you mean" */
function nearest(key: string, known: readonly string[]): string | undefined {
  const k = key.toLowerCase();
  const same = known.find((x) => x.toLowerCase() === k);
  if (same) return same;
  let best: string | undefined;
  let bestDistance = k.length > 4 ? 2 : 1;
  for (const x of known) {
    const d = distance(k, x.toLowerCase());
    if (d <= bestDistance && (best === undefined || d < bestDistance)) [best, bestDistance] = [x, d];
  }
  return best;
}

function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min((row[j] as number) + 1, (next[j - 1] as number) + 1, (row[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length] as number;
}

const unknownField = (path: string, key: string, known: readonly string[]): string => {
  const guess = nearest(key, known);
  return `unknown field ${JSON.stringify(path)}${guess ? ` (did you mean ${JSON.stringify(guess)}?)` : ''}`;
};

/** follows `$ref` and the single-`allOf` wrapping Kubernetes puts around references */
function resolve(s: Schema, all: Record<string, Schema>): Schema {
  for (let n = 0; n < 10; n++) {
    if (s.$ref) s = all[s.$ref.split('/').at(-1) as string] ?? {};
    else if (s.allOf?.length === 1 && !s.properties) s = s.allOf[0] as Schema;
    else break;
  }
  return s;
}

/** drops what `schema` does not declare from `value`, and names each dropped field in `out` */
function prune(schema: Schema, value: unknown, path: string, all: Record<string, Schema>, out: string[]): void {
  const s = resolve(schema, all);
  if (s['x-kubernetes-preserve-unknown-fields'] || s['x-kubernetes-int-or-string']) return;
  if (Array.isArray(value)) {
    if (s.items) value.forEach((v, i) => prune(s.items as Schema, v, `${path}[${i}]`, all, out));
    return;
  }
  if (!isObj(value)) return;
  const at = (k: string): string => (path ? `${path}.${k}` : k);
  if (s.properties) {
    const known = Object.keys(s.properties);
    for (const k of Object.keys(value)) {
      const p = s.properties[k];
      // status is the system's to write: what a body says there is dropped anyway
      if (p) {
        if (!(path === '' && k === 'status')) prune(p, value[k], at(k), all, out);
      } else if (typeof s.additionalProperties === 'object') prune(s.additionalProperties, value[k], at(k), all, out);
      else if (s.additionalProperties !== true) {
        out.push(unknownField(at(k), k, known));
        delete value[k];
      }
    }
  } else if (typeof s.additionalProperties === 'object') {
    for (const k of Object.keys(value)) prune(s.additionalProperties, value[k], at(k), all, out);
  }
}

/**
 * Drops from `body` every field its kind does not have (and every configData key its driver does not
 * read), and returns what was dropped as Kubernetes words it (`unknown field "spec.nodename"`).
 */
export function dropUnknownFields(type: ResourceType, body: unknown): string[] {
  const all = schemas();
  const out: string[] = [];
  const schema = schemaOf(type);
  if (!schema || !isObj(body)) return out;
  prune(schema, body, '', all, out);
  if (type.kind === 'device' && isObj(body.spec)) {
    for (const { path, config, keys } of deviceConfigData(body.spec)) {
      for (const k of Object.keys(config)) {
        if (keys.includes(k)) continue;
        out.push(unknownField(`${path}.${k}`, k, keys));
        delete config[k];
      }
    }
  }
  return out;
}

/**
 * Applies `mode` to what was found: Strict refuses (naming every field, as Kubernetes' strict decoder
 * does), Warn returns the warnings to send, Ignore returns none.
 */
export function judgeFields(type: ResourceType, mode: FieldValidation, found: readonly string[]): string[] {
  if (!found.length || mode === 'Ignore') return [];
  if (mode === 'Warn') return [...found];
  const k = type.kindName;
  throw new ApiError('BadRequest', `${k} in version ${JSON.stringify(type.version)} cannot be handled as a ${k}: strict decoding error: ${found.join(', ')}`);
}

/** a `Warning` header's value (RFC 7234 warn-code 299, as Kubernetes sends) */
export function warningHeader(text: string): string {
  return `299 - ${JSON.stringify(text)}`;
}
