/**
 * A small typed schema for configs: validates a parsed YAML value, fills defaults, and reports
 * every problem with its path (`modules.edgeHub.heartbeat: expected a number, got "x"`).
 * Unknown keys are errors, because a typo in a headless device's config must not pass silently.
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

function check(field: Field, value: unknown, path: string, problems: string[]): unknown {
  if (value === undefined || value === null) {
    if (field.kind === 'object') return check(field, {}, path, problems);
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
      for (const key of Object.keys(input)) {
        if (!(key in field.fields)) problems.push(`${path ? path + '.' : ''}${key}: unknown key`);
      }
      for (const [key, sub] of Object.entries(field.fields)) {
        out[key] = check(sub, input[key], path ? `${path}.${key}` : key, problems);
      }
      return out;
    }
  }
}

/** Validates `value` against `schema`; throws a ConfigError listing every problem by path. */
export function validate<F extends Fields>(schema: ObjField<F>, value: unknown): Infer<ObjField<F>> {
  const problems: string[] = [];
  const out = check(schema, value, '', problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return out as Infer<ObjField<F>>;
}

/** The config with every default filled in (what `--defaultconfig` prints). */
export function defaults<F extends Fields>(schema: ObjField<F>): Infer<ObjField<F>> {
  return validate(schema, {});
}
