/** keadm apply -f FILE (or -f - for stdin): creates or updates every document in it. */
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { pathOf, typeOfManifest, type ResourceType } from '../api/resources.js';
import { flags, UsageError } from './flags.js';
import { objectLabel, openApi, statusMessage } from './api.js';

export interface ManifestObject {
  obj: Record<string, unknown>;
  where: string;
  type: ResourceType | undefined;
  name: string;
  namespace: string;
}

/** every object of a manifest file (several YAML documents), with its type, name and namespace */
export function readManifests(file: string, defaultNamespace: string): ManifestObject[] {
  const text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  const docs = parseAllDocuments(text);
  const objects: ManifestObject[] = [];
  for (const [i, doc] of (Array.isArray(docs) ? docs : [docs]).entries()) {
    if (doc.errors.length > 0) throw new Error(`${file}: document ${i + 1} is not valid YAML: ${doc.errors[0]?.message.split('\n')[0] ?? ''}`);
    const obj = doc.toJS() as unknown;
    if (obj === null || obj === undefined) continue;
    if (typeof obj !== 'object' || Array.isArray(obj)) throw new Error(`${file}: document ${i + 1} is not a map`);
    const o = obj as Record<string, unknown>;
    const meta = (o.metadata ?? {}) as { name?: unknown; namespace?: unknown };
    objects.push({
      obj: o,
      where: `${file}: document ${i + 1}`,
      type: typeOfManifest(o.apiVersion, o.kind),
      name: typeof meta.name === 'string' ? meta.name : '',
      namespace: typeof meta.namespace === 'string' ? meta.namespace : defaultNamespace,
    });
  }
  if (objects.length === 0) throw new Error(`${file}: no objects`);
  return objects;
}

export async function apply(argv: readonly string[]): Promise<number> {
  const f = flags(argv, ['f', 'filename', 'n', 'namespace', 'validate', 'config-dir', 'data-dir']);
  // as kubectl: an unknown or doubled field is refused unless told otherwise
  const validate = (f.str('validate') ?? 'strict').toLowerCase();
  const mode = ({ strict: 'Strict', true: 'Strict', warn: 'Warn', ignore: 'Ignore', false: 'Ignore' } as Record<string, string>)[validate];
  if (!mode) throw new UsageError(`--validate must be strict, warn or ignore, not ${JSON.stringify(validate)}`);
  const q = `?fieldValidation=${mode}`;
  const file = f.str('f') ?? f.str('filename');
  if (!file) throw new UsageError('keadm apply needs -f FILE (or -f - for standard input)');
  const objects = readManifests(file, f.str('n') ?? f.str('namespace') ?? 'default');
  const api = openApi(f.dirs());
  let failed = 0;
  for (const { obj, where, type, name, namespace: ns } of objects) {
    if (!type) {
      failed++;
      process.stderr.write(`keadm: ${where}: no resource type ${String(obj.kind)} in ${String(obj.apiVersion)}\n`);
      continue;
    }
    const label = objectLabel(type, name);
    let r = await api.call('POST', pathOf(type, ns) + q, obj);
    let verb = 'created';
    if (r.status === 409 || (type.kind === 'node' && r.status === 405)) {
      const before = await api.call('GET', pathOf(type, ns, name));
      r = await api.call('PUT', pathOf(type, ns, name) + q, { ...obj, metadata: { ...(obj.metadata as object), resourceVersion: undefined } });
      // the API keeps the version of an update that changes nothing, and sends the edge nothing
      const rv = (reply: { body: unknown }): unknown => (reply.body as { metadata?: { resourceVersion?: unknown } } | null)?.metadata?.resourceVersion;
      verb = r.status === 200 && before.status === 200 && rv(r) === rv(before) ? 'unchanged' : 'configured';
    }
    for (const w of r.warnings) process.stderr.write(`Warning: ${w}\n`);
    if (r.status === 200 || r.status === 201) process.stdout.write(`${label} ${verb}\n`);
    else {
      failed++;
      process.stderr.write(`keadm: ${where} (${label}): ${statusMessage(r)}\n`);
    }
  }
  return failed === 0 ? 0 : 1;
}
