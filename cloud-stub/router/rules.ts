/**
 * The router's view of Rules and RuleEndpoints: each rule with its two endpoints resolved (or the
 * reason it cannot run: a missing endpoint, a flow the router does not run), and path matching as
 * KubeEdge matches a rest source's `sourceResource.path`: segment by segment, `{name}` standing for
 * any one segment, a pattern matching a path that starts with it; the most specific (longest, then
 * most literal) pattern wins.
 */
import { FLOWS, checkRuleResource, type EndpointType } from '../../api/rules.js';
import type { ObjectStore } from '../store/objects.js';

export interface Endpoint {
  name: string;
  type: EndpointType;
  properties: Record<string, string>;
}

export interface RouteRule {
  key: string;
  namespace: string;
  name: string;
  source?: Endpoint;
  target?: Endpoint;
  sourceResource: Record<string, string>;
  targetResource: Record<string, string>;
  /** why the rule cannot run now, when it cannot */
  problem?: string;
}

function endpoint(store: ObjectStore, namespace: string, name: string): Endpoint | undefined {
  const o = store.get('ruleendpoint', namespace, name);
  const spec = o?.object.spec as { ruleEndpointType?: EndpointType; properties?: Record<string, string> } | undefined;
  return spec?.ruleEndpointType ? { name, type: spec.ruleEndpointType, properties: spec.properties ?? {} } : undefined;
}

export function loadRule(store: ObjectStore, namespace: string, name: string): RouteRule | undefined {
  const o = store.get('rule', namespace, name);
  if (!o) return undefined;
  const spec = (o.object.spec ?? {}) as { source?: string; target?: string; sourceResource?: Record<string, string>; targetResource?: Record<string, string> };
  const rule: RouteRule = { key: `${namespace}/${name}`, namespace, name, sourceResource: spec.sourceResource ?? {}, targetResource: spec.targetResource ?? {} };
  const source = endpoint(store, namespace, spec.source ?? '');
  const target = endpoint(store, namespace, spec.target ?? '');
  if (source) rule.source = source;
  if (target) rule.target = target;
  if (!source) rule.problem = `ruleendpoint "${spec.source ?? ''}" not found in namespace ${namespace}`;
  else if (!target) rule.problem = `ruleendpoint "${spec.target ?? ''}" not found in namespace ${namespace}`;
  else if (!FLOWS.some(([a, b]) => a === source.type && b === target.type)) rule.problem = `a ${source.type} source cannot go to a ${target.type} target`;
  else {
    const bad = [...checkRuleResource(source.type, 'source', rule.sourceResource, 'sourceResource'), ...checkRuleResource(target.type, 'target', rule.targetResource, 'targetResource')];
    if (bad.length) rule.problem = bad.map((p) => `${p.field}: ${p.message}`).join('; ');
  }
  return rule;
}

export function loadRules(store: ObjectStore, namespace?: string): RouteRule[] {
  return store.list('rule', namespace).map((o) => loadRule(store, o.namespace, o.name) as RouteRule);
}

export function segments(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

/** the part of `path` after `pattern`, or undefined when the pattern does not match its start */
export function matchPath(pattern: string, path: string): { remainder: string; specificity: number } | undefined {
  const p = segments(pattern);
  const s = segments(path);
  if (p.length > s.length) return undefined;
  let literals = 0;
  for (let i = 0; i < p.length; i++) {
    const seg = p[i] as string;
    if (/^\{[^}]+\}$/.test(seg)) continue;
    if (seg !== s[i]) return undefined;
    literals++;
  }
  const rest = s.slice(p.length);
  return { remainder: rest.length ? `/${rest.join('/')}${path.endsWith('/') ? '/' : ''}` : '', specificity: p.length * 1000 + literals };
}

/** The rule whose source (of `type`) matches `path` best; with `node`, one bound to another node is skipped. */
export function bestRule(rules: readonly RouteRule[], type: EndpointType, path: string, node?: string): { rule: RouteRule; remainder: string } | undefined {
  let best: { rule: RouteRule; remainder: string; specificity: number } | undefined;
  for (const rule of rules) {
    if (rule.source?.type !== type || rule.sourceResource.path === undefined) continue;
    if (node !== undefined && rule.sourceResource.node_name !== undefined && rule.sourceResource.node_name !== node) continue;
    const m = matchPath(rule.sourceResource.path, path);
    if (m && (!best || m.specificity > best.specificity)) best = { rule, ...m };
  }
  return best && { rule: best.rule, remainder: best.remainder };
}
