/** keadm apply -f FILE (or -f - for stdin): creates or updates every document in it. */
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { pathOf, typeOfManifest } from '../../api/resources.js';
import { flags, UsageError } from './flags.js';
import { objectLabel, openApi, statusMessage } from './api.js';

export async function apply(argv: readonly string[]): Promise<number> {
  const f = flags(argv, ['f', 'filename', 'n', 'namespace', 'config-dir', 'data-dir']);
  const file = f.str('f') ?? f.str('filename');
  if (!file) throw new UsageError('keadm apply needs -f FILE (or -f - for standard input)');
  const text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  const docs = parseAllDocuments(text);
  const objects: { obj: Record<string, unknown>; where: string }[] = [];
  for (const [i, doc] of (Array.isArray(docs) ? docs : [docs]).entries()) {
    if (doc.errors.length > 0) throw new Error(`${file}: document ${i + 1} is not valid YAML: ${doc.errors[0]?.message.split('\n')[0] ?? ''}`);
    const obj = doc.toJS() as unknown;
    if (obj === null || obj === undefined) continue;
    if (typeof obj !== 'object' || Array.isArray(obj)) throw new Error(`${file}: document ${i + 1} is not a map`);
    objects.push({ obj: obj as Record<string, unknown>, where: `${file}: document ${i + 1}` });
  }
  if (objects.length === 0) throw new Error(`${file}: no objects to apply`);
  const api = openApi(f.dirs());
  let failed = 0;
  for (const { obj, where } of objects) {
    const type = typeOfManifest(obj.apiVersion, obj.kind);
    if (!type) {
      failed++;
      process.stderr.write(`keadm: ${where}: no resource type ${String(obj.kind)} in ${String(obj.apiVersion)}\n`);
      continue;
    }
    const meta = (obj.metadata ?? {}) as { name?: unknown; namespace?: unknown };
    const name = typeof meta.name === 'string' ? meta.name : '';
    const ns = typeof meta.namespace === 'string' ? meta.namespace : (f.str('n') ?? f.str('namespace') ?? 'default');
    const label = objectLabel(type, name);
    let r = await api.call('POST', pathOf(type, ns), obj);
    let verb = 'created';
    if (r.status === 409 || (type.kind === 'node' && r.status === 405)) {
      r = await api.call('PUT', pathOf(type, ns, name), { ...obj, metadata: { ...meta, resourceVersion: undefined } });
      verb = 'configured';
    }
    if (r.status === 200 || r.status === 201) process.stdout.write(`${label} ${verb}\n`);
    else {
      failed++;
      process.stderr.write(`keadm: ${where} (${label}): ${statusMessage(r)}\n`);
    }
  }
  return failed === 0 ? 0 : 1;
}
