/**
 * PATCH bodies, as kubectl sends them: a JSON merge patch (RFC 7386: CRDs, `kubectl apply` of a
 * Device), a strategic merge patch (core kinds: lists of named things such as containers, env,
 * volumes merged by their key, with the `$patch`, `$setElementOrder` and `$deleteFromPrimitiveList`
 * directives), and a JSON patch (RFC 6902, `kubectl patch --type=json`).
 */
import { isObj } from '../../core/guards.js';
import { ApiError } from './status.js';

type Json = unknown;

/** RFC 7386: an object patch merges member by member (null removes one); anything else replaces */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isObj(patch)) return patch;
  const out: Record<string, Json> = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else setOwn(out, k, mergePatch(own(out, k), v));
  }
  return out;
}

/** the keys Kubernetes merges lists of objects by (patchMergeKey) */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  volumes: 'name',
  env: 'name',
  envFrom: '',
  volumeMounts: 'mountPath',
  ports: 'containerPort',
  items: 'key',
  conditions: 'type',
  httpHeaders: 'name',
};

export function strategicMergePatch(target: Json, patch: Json): Json {
  if (!isObj(patch)) return patch;
  if (patch.$patch === 'replace') {
    const { $patch: _replace, ...rest } = patch;
    return rest;
  }
  const out: Record<string, Json> = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$retainKeys') continue;
    if (k.startsWith('$setElementOrder/')) continue; // mergeList orders the list it names
    const del = /^\$deleteFromPrimitiveList\/(.+)$/.exec(k);
    if (del) {
      const field = del[1] as string;
      const gone = new Set((Array.isArray(v) ? v : []).map((x) => JSON.stringify(x)));
      const list = own(out, field);
      if (Array.isArray(list)) setOwn(out, field, list.filter((x) => !gone.has(JSON.stringify(x))));
      continue;
    }
    if (v === null) {
      delete out[k];
      continue;
    }
    const key = Object.hasOwn(MERGE_KEYS, k) ? MERGE_KEYS[k] : undefined;
    const cur = own(out, k);
    if (Array.isArray(v) && key && Array.isArray(cur)) setOwn(out, k, mergeList(cur, v, key, patch[`$setElementOrder/${k}`]));
    else setOwn(out, k, isObj(v) ? strategicMergePatch(cur, v) : v);
  }
  return out;
}

/** a list of objects merged item by item on `key` (`$patch: delete` removes one), in the order `$setElementOrder` gives */
function mergeList(cur: readonly Json[], items: readonly Json[], key: string, order: Json): Json[] {
  const merged = [...cur];
  for (const item of items) {
    if (!isObj(item) || !(key in item)) {
      merged.push(item);
      continue;
    }
    const at = merged.findIndex((x) => isObj(x) && x[key] === item[key]);
    if (item.$patch === 'delete') {
      if (at >= 0) merged.splice(at, 1);
    } else if (at >= 0) merged[at] = strategicMergePatch(merged[at], item);
    else merged.push(strategicMergePatch(undefined, item));
  }
  if (Array.isArray(order)) {
    const rank = new Map(order.map((w, i) => [isObj(w) ? w[key] : w, i]));
    const rankOf = (x: Json): number => rank.get(isObj(x) ? x[key] : x) ?? Infinity;
    merged.sort((a, b) => rankOf(a) - rankOf(b));
  }
  return merged;
}

/** sets an own property, even one named `__proto__` (an assignment would change the prototype) */
function setOwn(o: Record<string, Json>, key: string, value: Json): void {
  Object.defineProperty(o, key, { value, writable: true, enumerable: true, configurable: true });
}

const own = (o: Record<string, Json>, key: string): Json => (Object.hasOwn(o, key) ? o[key] : undefined);

/** RFC 6901: "" is the whole document; else "/"-separated tokens with ~1 for "/" and ~0 for "~" */
function pointer(path: unknown, what: string): string[] {
  if (typeof path !== 'string') throw new Error(`${what} must be a string`);
  if (path === '') return [];
  if (!path.startsWith('/')) throw new Error(`${what} ${JSON.stringify(path)} is not a JSON pointer (it starts with "/")`);
  return path.slice(1).split('/').map((t) => {
    if (/~[^01]|~$/.test(t)) throw new Error(`${what} ${JSON.stringify(path)} has a bad escape (~0 or ~1 only)`);
    return t.replace(/~1/g, '/').replace(/~0/g, '~');
  });
}

/** an array index as RFC 6901 writes one: digits without a leading zero; `-` (past the end) where `end` allows */
function arrayIndex(token: string, length: number, end: 'append' | 'inside'): number {
  if (token === '-' && end === 'append') return length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw new Error(`${JSON.stringify(token)} is not an array index`);
  const i = Number(token);
  if (end === 'append' ? i > length : i >= length) throw new Error(`index ${i} is out of bounds (the array has ${length})`);
  return i;
}

/** the value at `parts`, or an error naming what is missing */
function valueAt(doc: Json, parts: readonly string[]): Json {
  let cur = doc;
  for (const p of parts) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(p, cur.length, 'inside')];
    else if (isObj(cur) && Object.hasOwn(cur, p)) cur = cur[p];
    else throw new Error(`the path does not exist (no ${JSON.stringify(p)})`);
  }
  return cur;
}

/** deep equality of JSON values: object keys in any order, numbers by value */
function jsonEqual(a: Json, b: Json): boolean {
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (isObj(a) || isObj(b)) {
    if (!isObj(a) || !isObj(b)) return false;
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return a === b;
}

/** RFC 6902 on a copy: add, remove, replace, move, copy, test; throws a 422 saying which operation failed and why */
/** adds (or, with `replace`, replaces) the value at `parts` of `doc`; returns the new document */
function put(doc: Json, parts: readonly string[], value: Json, replace: boolean): Json {
  if (parts.length === 0) return value;
  const parent = valueAt(doc, parts.slice(0, -1));
  const key = parts.at(-1) as string;
  if (Array.isArray(parent)) {
    if (replace) parent[arrayIndex(key, parent.length, 'inside')] = value;
    else parent.splice(arrayIndex(key, parent.length, 'append'), 0, value);
  } else if (isObj(parent)) {
    if (replace && !Object.hasOwn(parent, key)) throw new Error(`the path does not exist (no ${JSON.stringify(key)})`);
    setOwn(parent, key, value);
  } else throw new Error('the parent of the path is not an object or an array');
  return doc;
}

/** removes the value at `parts` of `doc`, and returns it */
function remove(doc: Json, parts: readonly string[]): Json {
  if (parts.length === 0) throw new Error('the whole document cannot be removed');
  const parent = valueAt(doc, parts.slice(0, -1));
  const key = parts.at(-1) as string;
  if (Array.isArray(parent)) return parent.splice(arrayIndex(key, parent.length, 'inside'), 1)[0];
  if (!isObj(parent) || !Object.hasOwn(parent, key)) throw new Error(`the path does not exist (no ${JSON.stringify(key)})`);
  const v = parent[key];
  delete parent[key];
  return v;
}

/** one operation applied to `doc` (changed in place where it can be); the new document */
function applyOperation(doc: Json, op: Record<string, Json>): Json {
  const path = pointer(own(op, 'path'), '"path"');
  const value = (): Json => {
    if (!Object.hasOwn(op, 'value')) throw new Error('it needs "value"');
    return op.value;
  };
  switch (op.op) {
    case 'add':
      return put(doc, path, structuredClone(value()), false);
    case 'replace':
      valueAt(doc, path);
      return put(doc, path, structuredClone(value()), true);
    case 'remove':
      remove(doc, path);
      return doc;
    case 'move': {
      const from = pointer(own(op, 'from'), '"from"');
      if (path.length > from.length && from.every((p, j) => p === path[j])) throw new Error('a value cannot be moved into itself');
      return put(doc, path, remove(doc, from), false);
    }
    case 'copy':
      return put(doc, path, structuredClone(valueAt(doc, pointer(own(op, 'from'), '"from"'))), false);
    case 'test':
      if (!jsonEqual(valueAt(doc, path), value())) throw new Error('the test failed: the value differs');
      return doc;
    default:
      throw new Error(`${JSON.stringify(op.op)} is not an operation (add, remove, replace, move, copy, test)`);
  }
}

export function jsonPatch(target: Json, ops: Json): Json {
  if (!Array.isArray(ops)) throw new ApiError('BadRequest', 'a JSON patch is a list of operations');
  let doc = structuredClone(target) as Json;
  ops.forEach((op, i) => {
    if (!isObj(op) || typeof op.op !== 'string') throw new ApiError('BadRequest', `JSON patch operation ${i} needs "op"`);
    try {
      doc = applyOperation(doc, op);
    } catch (err) {
      throw new ApiError('Invalid', `JSON patch operation ${i} (${String(op.op)} ${String(op.path)}): ${(err as Error).message}`);
    }
  });
  return doc;
}
