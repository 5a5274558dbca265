/**
 * Field checks for manifests: each problem names its field path (`spec.containers[0].image`), so
 * the API's 422 and a standalone edge's log line say exactly what to fix.
 */
import { isObj } from '../runtime/core/guards.js';

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
  num(o: Obj, key: string, path: string, opts: { integer?: boolean; min?: number; max?: number; required?: boolean } = {}): void {
    const v = o[key];
    if (v === undefined || v === null) return void (opts.required && this.bad(`${path}.${key}`, 'is required'));
    if (typeof v !== 'number' || !Number.isFinite(v)) return this.bad(`${path}.${key}`, `must be a number, not ${JSON.stringify(v)}`);
    if (opts.integer && !Number.isInteger(v)) this.bad(`${path}.${key}`, `must be a whole number, not ${v}`);
    if (opts.min !== undefined && v < opts.min) this.bad(`${path}.${key}`, `must be at least ${opts.min}, not ${v}`);
    if (opts.max !== undefined && v > opts.max) this.bad(`${path}.${key}`, `must be at most ${opts.max}, not ${v}`);
  }
  bool(o: Obj, key: string, path: string): void {
    const v = o[key];
    if (v !== undefined && v !== null && typeof v !== 'boolean') this.bad(`${path}.${key}`, `must be true or false, not ${JSON.stringify(v)}`);
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

