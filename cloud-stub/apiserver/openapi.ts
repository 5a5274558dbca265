/**
 * The OpenAPI documents kubectl reads: `/openapi/v3` (a root naming one document per group version,
 * each behind a content hash kubectl caches by), each group version's v3 document (the kinds'
 * schemas and their paths, with the `fieldValidation` parameter that tells kubectl to leave field
 * validation to the server), and `/openapi/v2` as JSON. `kubectl explain` reads v3; `kubectl apply
 * --validate` reads v3 to learn that the server validates. The schemas are Kubernetes' and KubeEdge's
 * own (api/openapi/schemas.json); they are parsed at the first request that needs them, and each
 * document is built once.
 */
import { createHash } from 'node:crypto';
import { RESOURCES, apiVersionOf, pathOf, type ResourceType } from '../../api/resources.js';
import { schemasText, type Schema } from '../../api/openapi/schemas.js';

let parsed: Record<string, Schema> | undefined;

/** every schema, by its OpenAPI name (`io.k8s.api.core.v1.Pod`) */
export function schemas(): Record<string, Schema> {
  parsed ??= (JSON.parse(schemasText()) as { schemas: Record<string, Schema> }).schemas;
  return parsed;
}

/** a group's prefix in OpenAPI names */
const PREFIX: Record<string, string> = {
  '': 'io.k8s.api.core.v1',
  'devices.kubeedge.io': 'io.kubeedge.devices.v1beta1',
  'rules.kubeedge.io': 'io.kubeedge.rules.v1',
  'events.k8s.io': 'io.k8s.api.events.v1',
};
const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';

const schemaName = (group: string, kind: string): string => `${PREFIX[group] as string}.${kind}`;

/** the schema of a type's objects */
export function schemaOf(type: ResourceType): Schema | undefined {
  return schemas()[schemaName(type.group, type.kindName)];
}

interface Kind {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  readOnly: boolean;
}

/** what each group version document holds (events are served in two groups, read only) */
function kindsByGroupVersion(): Map<string, Kind[]> {
  const m = new Map<string, Kind[]>();
  const add = (gv: string, k: Kind): void => void m.set(gv, [...(m.get(gv) ?? []), k]);
  for (const r of RESOURCES) add(apiVersionOf(r), { group: r.group, version: r.version, kind: r.kindName, plural: r.plural, namespaced: r.namespaced, readOnly: !!r.derived });
  for (const group of ['', 'events.k8s.io']) add(group ? `${group}/v1` : 'v1', { group, version: 'v1', kind: 'Event', plural: 'events', namespaced: true, readOnly: true });
  return m;
}

/** the key of a group version in the v3 root (`api/v1`, `apis/devices.kubeedge.io/v1beta1`) */
const docKey = (gv: string): string => (gv.includes('/') ? `apis/${gv}` : `api/${gv}`);

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Schema): unknown => ({ content: { 'application/json': { schema } } });
const query = (name: string, description: string): unknown => ({ name, in: 'query', description, schema: { type: 'string', uniqueItems: true } });
const WRITE_PARAMS = [
  query('dryRun', 'When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed'),
  query('fieldManager', 'fieldManager is a name associated with the actor or entity that is making these changes.'),
  query('fieldValidation', 'fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore - Warn (the default) - Strict'),
];
const PATCH_TYPES = ['application/apply-patch+yaml', 'application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json'];

function operations(k: Kind): Record<string, unknown> {
  const gvk = { group: k.group, version: k.version, kind: k.kind };
  const schema = schemaName(k.group, k.kind);
  const op = (action: string, verb: string, response: string, extra: Record<string, unknown> = {}): unknown => ({
    operationId: `${verb}${k.kind}`,
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk,
    responses: { '200': { description: 'OK', ...(json(ref(response)) as object) } },
    ...extra,
  });
  const withBody = (action: string, verb: string, body: Schema, types = ['*/*']): unknown =>
    op(action, verb, schema, { parameters: WRITE_PARAMS, requestBody: { content: Object.fromEntries(types.map((t) => [t, { schema: body }])), required: true } });
  const type = { group: k.group, version: k.version, plural: k.plural, namespaced: k.namespaced } as ResourceType;
  const namespace = k.namespaced ? '{namespace}' : undefined;
  const collection = pathOf(type, namespace);
  // pathOf encodes the braces of the path's parameters
  const at = (p: string): string => p.replace(/%7B/g, '{').replace(/%7D/g, '}');
  const item = at(pathOf(type, namespace, '{name}'));
  const paths: Record<string, unknown> = {};
  paths[at(collection)] = { get: op('list', 'list', `${schema}List`), ...(k.readOnly ? {} : { post: withBody('post', 'create', ref(schema)) }) };
  paths[item] = {
    get: op('get', 'read', schema),
    ...(k.readOnly ? {} : { put: withBody('put', 'replace', ref(schema)), patch: withBody('patch', 'patch', ref(`${META}.Patch`), PATCH_TYPES), delete: op('delete', 'delete', `${META}.Status`) }),
  };
  if (k.namespaced) paths[pathOf(type, undefined)] = { get: op('list', 'listForAllNamespaces', `${schema}List`) };
  if (k.kind === 'Pod') paths[`${item}/eviction`] = { post: op('post', 'createEvictionFor', 'io.k8s.api.policy.v1.Eviction', { requestBody: { content: { '*/*': { schema: ref('io.k8s.api.policy.v1.Eviction') } }, required: true } }) };
  return paths;
}

/** `names` and every schema they refer to, in the order found */
function closure(names: readonly string[]): Record<string, Schema> {
  const all = schemas();
  const out: Record<string, Schema> = {};
  const refs = (x: unknown, found: string[]): string[] => {
    if (Array.isArray(x)) for (const v of x) refs(v, found);
    else if (x && typeof x === 'object') for (const [key, v] of Object.entries(x)) key === '$ref' ? found.push(String(v).split('/').at(-1) as string) : refs(v, found);
    return found;
  };
  const todo = [...names];
  while (todo.length) {
    const name = todo.pop() as string;
    const s = all[name];
    if (out[name] || !s) continue;
    out[name] = s;
    todo.push(...refs(s, []));
  }
  return out;
}

const documents = new Map<string, { text: string; hash: string }>();

function document(gv: string, kinds: readonly Kind[]): { text: string; hash: string } {
  let doc = documents.get(gv);
  if (!doc) {
    const names = kinds.flatMap((k) => [schemaName(k.group, k.kind), `${schemaName(k.group, k.kind)}List`]);
    if (gv === 'v1') names.push('io.k8s.api.policy.v1.Eviction');
    names.push(`${META}.Status`, `${META}.DeleteOptions`, `${META}.Patch`, `${META}.WatchEvent`);
    const paths = Object.assign({}, ...kinds.map(operations)) as Record<string, unknown>;
    const text = JSON.stringify({ openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.32.0' }, paths, components: { schemas: closure(names) } });
    doc = { text, hash: createHash('sha512').update(text).digest('hex').toUpperCase() };
    documents.set(gv, doc);
  }
  return doc;
}

/** `/openapi/v3` and `/openapi/v3/<api/v1 | apis/group/version>`: the JSON text, or undefined */
export function openApiV3(path: string): string | undefined {
  const kinds = kindsByGroupVersion();
  if (path === '/openapi/v3') {
    const paths: Record<string, unknown> = {};
    for (const [gv, k] of kinds) paths[docKey(gv)] = { serverRelativeURL: `/openapi/v3/${docKey(gv)}?hash=${document(gv, k).hash}` };
    return JSON.stringify({ paths });
  }
  for (const [gv, k] of kinds) if (path === `/openapi/v3/${docKey(gv)}`) return document(gv, k).text;
  return undefined;
}

let v2: string | undefined;

/** `/openapi/v2` as JSON: every schema as a definition (v2 has no `allOf` around a reference) */
export function openApiV2(version: string): string {
  if (!v2) {
    const definitions = JSON.parse(JSON.stringify(schemas()).replaceAll('#/components/schemas/', '#/definitions/'), (_key, value: unknown) => {
      const s = value as Schema;
      if (s && typeof s === 'object' && !Array.isArray(s) && s.allOf?.length === 1 && !s.properties) {
        const { allOf, ...rest } = s;
        return { ...rest, ...(allOf[0] as Schema) };
      }
      return value;
    }) as unknown;
    v2 = JSON.stringify({ swagger: '2.0', info: { title: 'Kubernetes', version }, paths: {}, definitions });
  }
  return v2;
}
