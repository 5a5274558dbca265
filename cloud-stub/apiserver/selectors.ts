/**
 * Label and field selectors, as Kubernetes parses them: `app=web,tier!=db,env in (a,b),env notin
 * (c),gpu,!spot` on labels; `metadata.name=x,spec.nodeName=n,status.phase!=Failed` on fields (any
 * dotted path of the object as the API shows it).
 */
import type { KubeObject } from '../store/objects.js';
import { ApiError } from './status.js';

export type Selector = (o: KubeObject) => boolean;

/** splits on commas outside parentheses */
function terms(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

export function labelSelector(text: string | null): Selector {
  if (!text) return () => true;
  // only an object's own labels: `constructor` or `toString` is no label of any object
  const label = (o: KubeObject, key: string): string | undefined => {
    const labels = o.metadata.labels;
    return labels && Object.hasOwn(labels, key) ? labels[key] : undefined;
  };
  const tests = terms(text).map((t): Selector => {
    let m = /^([^\s!=,()]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(t);
    if (m) {
      const [, key, op, list] = m as unknown as [string, string, string, string];
      const values = list.split(',').map((v) => v.trim()).filter(Boolean);
      return op === 'in' ? (o) => values.includes(label(o, key) ?? '\0') : (o) => !values.includes(label(o, key) ?? '\0');
    }
    m = /^([^\s!=,()]+)\s*(==|=|!=)\s*([^\s,()]*)$/.exec(t);
    if (m) {
      const [, key, op, value] = m as unknown as [string, string, string, string];
      return op === '!=' ? (o) => label(o, key) !== value : (o) => label(o, key) === value;
    }
    m = /^(!?)([^\s!=,()]+)$/.exec(t);
    if (m) {
      const [, not, key] = m as unknown as [string, string, string];
      return not ? (o) => label(o, key) === undefined : (o) => label(o, key) !== undefined;
    }
    throw new ApiError('BadRequest', `unable to parse requirement ${JSON.stringify(t)} of labelSelector ${JSON.stringify(text)}`);
  });
  return (o) => tests.every((test) => test(o));
}

function field(o: unknown, path: string): string {
  let v: unknown = o;
  for (const p of path.split('.')) v = v && typeof v === 'object' && Object.hasOwn(v, p) ? (v as Record<string, unknown>)[p] : undefined;
  return v === undefined || v === null ? '' : String(v);
}

export function fieldSelector(text: string | null): Selector {
  if (!text) return () => true;
  const tests = terms(text).map((t): Selector => {
    const m = /^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$/.exec(t);
    if (!m) throw new ApiError('BadRequest', `invalid field selector ${JSON.stringify(t)}: use path=value or path!=value`);
    const [, path, op, value] = m as unknown as [string, string, string, string];
    return op === '!=' ? (o) => field(o, path) !== value : (o) => field(o, path) === value;
  });
  return (o) => tests.every((test) => test(o));
}
