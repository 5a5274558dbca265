/**
 * Field checks for manifests: each problem names its field path (`spec.containers[0].image`), so
 * the API's 422 and a standalone edge's log line say exactly what to fix.
 */
import { isObj } from '../core/guards.js';

export interface Problem {
  field: string;
  message: string;
}

export type Obj = Record<string, unknown>;

export class Checker {
  readonly problems: Problem[] = [];
  bad(field: string, message: string): void {
    this.problems.push({ field, message });
  }
  str(o: Obj, key: string, path: string, opts: { required?: boolean; oneOf?: readonly string[] } = {}): string | undefined {
    const v = o[key];
    if (v === undefined || v === null) {
      if (opts.required) this.bad(`${path}.${key}`, 'is required');
      return undefined;
    }
    if (typeof v !== 'string') return void this.bad(`${path}.${key}`, `must be a string, not ${JSON.stringify(v)}`);
    if (opts.oneOf && !opts.oneOf.includes(v)) this.bad(`${path}.${key}`, `must be one of ${opts.oneOf.join(', ')}, not ${JSON.stringify(v)}`);
    return v;
  }
  num(o: Obj, key: string, path: string, opts: { integer?: boolean; min?: number; max?: number; required?: boolean } = {}): number | undefined {
    const v = o[key];
    if (v === undefined || v === null) return void (opts.required && this.bad(`${path}.${key}`, 'is required'));
    if (typeof v !== 'number' || !Number.isFinite(v)) return void this.bad(`${path}.${key}`, `must be a number, not ${JSON.stringify(v)}`);
    if (opts.integer && !Number.isInteger(v)) this.bad(`${path}.${key}`, `must be a whole number, not ${v}`);
    if (opts.min !== undefined && v < opts.min) this.bad(`${path}.${key}`, `must be at least ${opts.min}, not ${v}`);
    if (opts.max !== undefined && v > opts.max) this.bad(`${path}.${key}`, `must be at most ${opts.max}, not ${v}`);
    return v;
  }
  bool(o: Obj, key: string, path: string): boolean | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') return void this.bad(`${path}.${key}`, `must be true or false, not ${JSON.stringify(v)}`);
    return v;
  }
  /** a list of strings */
  strs(o: Obj, key: string, path: string): string[] | undefined {
    const v = this.list(o, key, path);
    if (v === undefined) return undefined;
    v.forEach((x, i) => typeof x !== 'string' && this.bad(`${path}.${key}[${i}]`, `must be a string, not ${JSON.stringify(x)}`));
    return v.filter((x): x is string => typeof x === 'string');
  }
  /** a map of string values (labels, nodeSelector, configData of rules) */
  strMap(o: Obj, key: string, path: string): Record<string, string> | undefined {
    const v = this.obj(o, key, path);
    if (v === undefined) return undefined;
    for (const [k, x] of Object.entries(v)) if (typeof x !== 'string') this.bad(`${path}.${key}.${k}`, `must be a string, not ${JSON.stringify(x)}`);
    return v as Record<string, string>;
  }
  /**
   * Refuses every key not in `allowed`: a field this runtime does not run is an error naming it,
   * never silently ignored (a user must not believe a limit or a probe is in force when it is not).
   */
  only(o: Obj, path: string, allowed: readonly string[]): void {
    for (const k of Object.keys(o)) if (!allowed.includes(k)) this.bad(`${path}.${k}`, 'is not supported: this runtime does not run it');
  }
  obj(o: Obj, key: string, path: string, required = false): Obj | undefined {
    const v = o[key];
    if (v === undefined || v === null) return void (required && this.bad(`${path}.${key}`, 'is required'));
    if (!isObj(v)) return void this.bad(`${path}.${key}`, 'must be an object');
    return v;
  }
  list(o: Obj, key: string, path: string, required = false): unknown[] | undefined {
    const v = o[key];
    if (v === undefined || v === null) return void (required && this.bad(`${path}.${key}`, 'is required'));
    if (!Array.isArray(v)) return void this.bad(`${path}.${key}`, 'must be a list');
    return v;
  }
}

