/**
 * KubeEdge's router resources (rules.kubeedge.io/v1): a RuleEndpoint says where messages can come
 * from or go to (`rest` in the cloud, `eventbus` and `servicebus` at an edge), a Rule joins a source
 * endpoint to a target endpoint. Checked as KubeEdge's CRDs describe them, and what the endpoints'
 * types need of a rule's resources where the endpoints exist (a rule may come before them: it is
 * then marked failed, with the reason, until they do).
 */
import { Checker, type Obj, type Problem } from './check.js';

export const ENDPOINT_TYPES = ['rest', 'eventbus', 'servicebus'] as const;
export type EndpointType = (typeof ENDPOINT_TYPES)[number];

/** the flows the router runs, source type → target type */
export const FLOWS: readonly (readonly [EndpointType, EndpointType])[] = [
  ['rest', 'eventbus'],
  ['eventbus', 'rest'],
  ['rest', 'servicebus'],
  ['servicebus', 'rest'],
];

const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
/** a path of `/`-separated segments, each literal or a `{name}` placeholder */
const PATH = /^(\/([-._~a-zA-Z0-9%:@!$&'()*+,;=]+|\{[a-zA-Z_][a-zA-Z0-9_]*\}))+\/?$|^\/$/;
const TOPIC = /^[^#+\s]{1,256}$/;

export function checkRuleEndpointSpec(spec: Obj): Problem[] {
  const c = new Checker();
  c.only(spec, 'spec', ['ruleEndpointType', 'properties']);
  const type = c.str(spec, 'ruleEndpointType', 'spec', { required: true, oneOf: ENDPOINT_TYPES });
  const props = c.strMap(spec, 'properties', 'spec');
  if (type === 'servicebus') {
    const port = props?.service_port;
    if (port === undefined) c.bad('spec.properties.service_port', 'is required for a servicebus endpoint: the port of the edge app it calls');
    else if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) c.bad('spec.properties.service_port', `must be a port (1-65535), not ${JSON.stringify(port)}`);
  }
  return c.problems;
}

/** What a rule needs of its resources for one endpoint type; `side` says which end the endpoint is. */
export function checkRuleResource(type: EndpointType, side: 'source' | 'target', res: Record<string, string>, path: string): Problem[] {
  const c = new Checker();
  const need = (key: string, test: (v: string) => boolean, what: string): void => {
    const v = res[key];
    if (v === undefined) c.bad(`${path}.${key}`, `is required for a ${type} ${side}`);
    else if (!test(v)) c.bad(`${path}.${key}`, `${JSON.stringify(v)} is not ${what}`);
  };
  if (side === 'source') {
    if (type === 'rest' || type === 'servicebus') need('path', (v) => PATH.test(v), 'a path like /a/{name}');
    if (type === 'eventbus') {
      need('topic', (v) => TOPIC.test(v), 'an MQTT topic without wildcards');
      need('node_name', (v) => NAME.test(v), 'a node name');
    }
  } else {
    if (type === 'rest') need('resource', (v) => /^https?:\/\/[^\s/]+/i.test(v) && URL.canParse(v), 'an http(s) URL');
    if (type === 'eventbus') need('topic', (v) => TOPIC.test(v), 'an MQTT topic without wildcards');
    if (type === 'servicebus') need('path', (v) => PATH.test(v), 'a path like /a/b');
  }
  return c.problems;
}

/**
 * `endpointType` gives the type of a RuleEndpoint of the rule's namespace when it exists; a rule
 * whose endpoints exist must be a flow the router runs, with the resources its endpoints need.
 */
export function checkRuleSpec(spec: Obj, endpointType?: (name: string) => EndpointType | undefined): Problem[] {
  const c = new Checker();
  c.only(spec, 'spec', ['source', 'sourceResource', 'target', 'targetResource']);
  const source = c.str(spec, 'source', 'spec', { required: true });
  const target = c.str(spec, 'target', 'spec', { required: true });
  for (const [k, v] of [['source', source], ['target', target]] as const) if (v !== undefined && !NAME.test(v)) c.bad(`spec.${k}`, `${JSON.stringify(v)} is not a RuleEndpoint name`);
  const sourceRes = c.obj(spec, 'sourceResource', 'spec', true);
  const targetRes = c.obj(spec, 'targetResource', 'spec', true);
  c.strMap(spec, 'sourceResource', 'spec');
  c.strMap(spec, 'targetResource', 'spec');
  const st = source ? endpointType?.(source) : undefined;
  const tt = target ? endpointType?.(target) : undefined;
  if (st && tt && !FLOWS.some(([a, b]) => a === st && b === tt)) {
    c.bad('spec.target', `a ${st} source cannot go to a ${tt} target: the router runs ${FLOWS.map(([a, b]) => `${a}→${b}`).join(', ')}`);
  }
  if (st && sourceRes) c.problems.push(...checkRuleResource(st, 'source', sourceRes as Record<string, string>, 'spec.sourceResource'));
  if (tt && targetRes) c.problems.push(...checkRuleResource(tt, 'target', targetRes as Record<string, string>, 'spec.targetResource'));
  return c.problems;
}
