/**
 * PATCH bodies, as kubectl sends them: a JSON merge patch (RFC 7386: CRDs, `kubectl apply` of a
 * Device), a strategic merge patch (core kinds: lists of named things such as containers, env,
 * volumes merged by their key, with the `$patch`, `$setElementOrder` and `$deleteFromPrimitiveList`
 * directives), and a JSON patch (RFC 6902, `kubectl patch --type=json`).
 */
import { isObj } from '../../runtime/core/guards.js';
import { ApiError } from './status.js';

type Json = unknown;

export function mergePatch(target: Json, patch: Json): Json {
  if (!isObj(patch)) return patch;
  const out: Record<string, Json> = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
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
    const order = /^\$setElementOrder\/(.+)$/.exec(k);
    if (order) continue; // applied below, with the list it orders
    const del = /^\$deleteFromPrimitiveList\/(.+)$/.exec(k);
    if (del) {
      const field = del[1] as string;
      const gone = new Set((Array.isArray(v) ? v : []).map((x) => JSON.stringify(x)));
      if (Array.isArray(out[field])) out[field] = (out[field] as Json[]).filter((x) => !gone.has(JSON.stringify(x)));
      continue;
    }
    if (v === null) {
      delete out[k];
      continue;
    }
    const key = MERGE_KEYS[k];
    if (Array.isArray(v) && key && Array.isArray(out[k])) {
      const merged = [...(out[k] as Json[])];
      for (const item of v) {
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
      const wanted = patch[`$setElementOrder/${k}`];
      if (Array.isArray(wanted)) {
        const rank = new Map(wanted.map((w, i) => [isObj(w) ? w[key] : w, i]));
        merged.sort((a, b) => (rank.get(isObj(a) ? a[key] : a) ?? Infinity) - (rank.get(isObj(b) ? b[key] : b) ?? Infinity));
      }
      out[k] = merged;
    } else {
      out[k] = isObj(v) ? strategicMergePatch(out[k], v) : v;
    }
  }
  return out;
}

/** RFC 6902 on a copy: add, remove, replace, move, copy, test; throws a 422 saying which op failed */
export function jsonPatch(target: Json, ops: Json): Json {
  if (!Array.isArray(ops)) throw new ApiError('BadRequest', 'a JSON patch is a list of operations');
  const doc = structuredClone(target) as Json;
  const parse = (path: string): string[] => path.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const parentOf = (root: Json, parts: string[]): [Record<string, Json> | Json[], string] => {
    let cur: Json = root;
    for (const p of parts.slice(0, -1)) cur = Array.isArray(cur) ? cur[Number(p)] : isObj(cur) ? cur[p] : undefined;
    if (!isObj(cur) && !Array.isArray(cur)) throw new Error('its path does not exist');
    return [cur as Record<string, Json> | Json[], parts.at(-1) as string];
  };
  const get = (root: Json, path: string): Json => {
    let cur: Json = root;
    for (const p of parse(path)) cur = Array.isArray(cur) ? cur[Number(p)] : isObj(cur) ? cur[p] : undefined;
    return cur;
  };
  const put = (root: Json, path: string, value: Json, insert: boolean): void => {
    const [parent, key] = parentOf(root, parse(path));
    if (Array.isArray(parent)) {
      const i = key === '-' ? parent.length : Number(key);
      if (insert) parent.splice(i, 0, value);
      else parent[i] = value;
    } else parent[key] = value;
  };
  const remove = (root: Json, path: string): void => {
    const [parent, key] = parentOf(root, parse(path));
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else delete parent[key];
  };
  ops.forEach((op, i) => {
    if (!isObj(op) || typeof op.op !== 'string' || typeof op.path !== 'string') throw new ApiError('BadRequest', `operation ${i} needs op and path`);
    try {
      switch (op.op) {
        case 'add':
          return put(doc, op.path, op.value, true);
        case 'replace':
          if (get(doc, op.path) === undefined) throw new Error('its path does not exist');
          return put(doc, op.path, op.value, false);
        case 'remove':
          return remove(doc, op.path);
        case 'move':
        case 'copy': {
          const v = structuredClone(get(doc, String(op.from)));
          if (op.op === 'move') remove(doc, String(op.from));
          return put(doc, op.path, v, true);
        }
        case 'test':
          if (JSON.stringify(get(doc, op.path)) !== JSON.stringify(op.value)) throw new Error('the test failed');
          return;
        default:
          throw new Error(`${op.op} is not an operation`);
      }
    } catch (err) {
      throw new ApiError('Invalid', `JSON patch operation ${i} (${String(op.op)} ${op.path}): ${(err as Error).message}`);
    }
  });
  return doc;
}
