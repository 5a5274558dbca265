/**
 * A small typed schema for configs: validates a parsed YAML value, fills defaults, and reports
 * every problem with its path (`modules.edgeHub.heartbeat: expected a number, got "x"`).
 * Unknown keys are errors, because a typo in a headless device's config must not pass silently;
 * but a key of KubeEdge's own config (`foreign`, see kubeedge-keys.ts) that we do not use is
 * accepted and listed as ignored, so a KubeEdge user's file loads as it is.
 */
import { ConfigError } from './errors.js';

interface Base<T> {
  readonly kind: string;
  readonly def?: T;
}
export interface StrField extends Base<string> { kind: 'string'; oneOf?: readonly string[] }
export interface NumField extends Base<number> { kind: 'number'; min?: number; max?: number; integer?: boolean }
export interface BoolField extends Base<boolean> { kind: 'boolean' }
export interface StrListField extends Base<string[]> { kind: 'strings' }
export interface StrMapField extends Base<Record<string, string>> { kind: 'stringmap' }
export interface ObjField<F extends Fields> extends Base<undefined> { kind: 'object'; fields: F }
export type Field = StrField | NumField | BoolField | StrListField | StrMapField | ObjField<Fields>;
export type Fields = { readonly [key: string]: Field };
/** the keys of another program's config: a subtree, or 1 for a leaf that takes any value */
export type KeyTree = { readonly [key: string]: KeyTree | 1 };

export type Infer<S> = S extends StrField
  ? string
  : S extends NumField
    ? number
    : S extends BoolField
      ? boolean
      : S extends StrListField
        ? string[]
        : S extends StrMapField
          ? Record<string, string>
          : S extends ObjField<infer F>
          ? { [K in keyof F]: Infer<F[K]> }
          : never;

export const s = {
  str: (def: string, oneOf?: readonly string[]): StrField => ({ kind: 'string', def, ...(oneOf ? { oneOf } : {}) }),
  num: (def: number, opts: { min?: number; max?: number; integer?: boolean } = {}): NumField => ({ kind: 'number', def, ...opts }),
  bool: (def: boolean): BoolField => ({ kind: 'boolean', def }),
  strs: (def: string[]): StrListField => ({ kind: 'strings', def }),
  /** a map of strings (labels) */
  map: (def: Record<string, string> = {}): StrMapField => ({ kind: 'stringmap', def }),
  obj: <F extends Fields>(fields: F): ObjField<F> => ({ kind: 'object', fields }),
};

const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a map' : String(v));

/** Damerau-free edit distance, small strings only (config keys) */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] as number;
      row[j] = Math.min(cur + 1, (row[j - 1] as number) + 1, prev + (a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length] as number;
}

function nearest(key: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(1, Math.min(3, Math.floor(key.length / 3)));
  for (const c of candidates) {
    const d = distance(key, c);
    if (d <= bestD) [best, bestD] = [c, d];
  }
  return best;
}

interface Seen {
  problems: string[];
  ignored: string[];
}

function check(field: Field, value: unknown, path: string, seen: Seen, foreign?: KeyTree | 1): unknown {
  const problems = seen.problems;
  if (value === undefined || value === null) {
    if (field.kind === 'object') return check(field, {}, path, seen);
    if (Array.isArray(field.def)) return [...field.def];
    return field.kind === 'stringmap' ? { ...field.def } : field.def;
  }
  switch (field.kind) {
    case 'string':
      if (typeof value !== 'string') problems.push(`${path}: expected a string, got ${show(value)}`);
      else if (field.oneOf && !field.oneOf.includes(value)) problems.push(`${path}: must be one of ${field.oneOf.join(', ')}, got ${show(value)}`);
      return value;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) problems.push(`${path}: expected a number, got ${show(value)}`);
      else if (field.integer && !Number.isInteger(value)) problems.push(`${path}: expected a whole number, got ${value}`);
      else if (field.min !== undefined && value < field.min) problems.push(`${path}: must be at least ${field.min}, got ${value}`);
      else if (field.max !== undefined && value > field.max) problems.push(`${path}: must be at most ${field.max}, got ${value}`);
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') problems.push(`${path}: expected true or false, got ${show(value)}`);
      return value;
    case 'strings':
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) problems.push(`${path}: expected a list of strings, got ${show(value)}`);
      return value;
    case 'stringmap':
      if (typeof value !== 'object' || Array.isArray(value) || Object.values(value as object).some((v) => typeof v !== 'string')) {
        problems.push(`${path}: expected a map of strings, got ${show(value)}`);
      }
      return value;
    case 'object': {
      if (typeof value !== 'object' || Array.isArray(value)) {
        problems.push(`${path}: expected a map, got ${show(value)}`);
        return value;
      }
      const input = value as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      const theirs = foreign === 1 ? undefined : foreign;
      for (const key of Object.keys(input)) {
        if (key in field.fields) continue;
        const where = `${path ? path + '.' : ''}${key}`;
        if (foreign === 1 || (theirs && key in theirs)) {
          seen.ignored.push(where);
          continue;
        }
        const near = nearest(key, [...Object.keys(field.fields), ...Object.keys(theirs ?? {})]);
        problems.push(`${where}: unknown key${near ? ` (did you mean ${near}?)` : ''}`);
      }
      for (const [key, sub] of Object.entries(field.fields)) {
        // a value of a KubeEdge key we do implement is checked as ours
        out[key] = check(sub, input[key], path ? `${path}.${key}` : key, seen, theirs?.[key]);
      }
      return out;
    }
  }
}

/** Validates `value` against `schema`; throws a ConfigError listing every problem by path. */
export function validate<F extends Fields>(schema: ObjField<F>, value: unknown): Infer<ObjField<F>> {
  return validateWith(schema, value).config;
}

/** Validates, accepting the keys of `foreign` that the schema does not have; returns them as `ignored`. */
export function validateWith<F extends Fields>(schema: ObjField<F>, value: unknown, foreign?: KeyTree): { config: Infer<ObjField<F>>; ignored: string[] } {
  const seen: Seen = { problems: [], ignored: [] };
  const out = check(schema, value, '', seen, foreign);
  if (seen.problems.length > 0) throw new ConfigError(seen.problems);
  return { config: out as Infer<ObjField<F>>, ignored: seen.ignored };
}

/** ignored keys as one line per module (`modules.<name>`) or top-level key, for the log */
export function ignoredByModule(ignored: readonly string[]): string[] {
  const groups = new Map<string, string[]>();
  for (const path of ignored) {
    const parts = path.split('.');
    const head = parts[0] === 'modules' && parts.length > 2 ? `modules.${parts[1]}` : parts.length > 1 ? (parts[0] as string) : '';
    const rest = head ? path.slice(head.length + 1) : path;
    groups.set(head, [...(groups.get(head) ?? []), rest]);
  }
  return [...groups].map(([head, keys]) => {
    const shown = keys.length > 12 ? `${keys.slice(0, 12).join(', ')} and ${keys.length - 12} more` : keys.join(', ');
    return `${head ? `${head}: ` : ''}KubeEdge's ${shown} ${keys.length === 1 ? 'is' : 'are'} not used here; ignored`;
  });
}

/** The config with every default filled in (what `--defaultconfig` prints). */
export function defaults<F extends Fields>(schema: ObjField<F>): Infer<ObjField<F>> {
  return validate(schema, {});
}
