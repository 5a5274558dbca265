/** keadm delete TYPE NAME [-n NS], or keadm delete -f FILE|- (every object of a manifest) */
import { pathOf, type ResourceType } from '../api/resources.js';
import { flags, UsageError } from './flags.js';
import { objectLabel, openApi, statusMessage, typeOf, type Api } from './api.js';
import { readManifests } from './apply.js';

const USAGE = 'usage: keadm delete TYPE NAME [-n NAMESPACE], or keadm delete -f FILE (TYPE: nodes, pods, configmaps, secrets, devices, devicemodels, rules, ruleendpoints)';

async function deleteOne(api: Api, type: ResourceType, ns: string, name: string): Promise<string | undefined> {
  const r = await api.call('DELETE', pathOf(type, ns, name));
  if (r.status !== 200) return statusMessage(r);
  process.stdout.write(`${objectLabel(type, name).replace('/', ' "')}" deleted\n`);
  return undefined;
}

export async function del(argv: readonly string[]): Promise<number> {
  const f = flags(argv, ['f', 'filename', 'n', 'namespace', 'config-dir', 'data-dir']);
  const ns = f.str('n') ?? f.str('namespace') ?? 'default';
  const file = f.str('f') ?? f.str('filename');
  const api = openApi(f.dirs());
  if (file) {
    if (f.positional.length > 0) throw new UsageError(`keadm delete takes -f FILE or TYPE NAME, not both; ${USAGE}`);
    let failed = 0;
    for (const o of readManifests(file, ns)) {
      const why = o.type ? await deleteOne(api, o.type, o.namespace, o.name) : `no resource type ${String(o.obj.kind)} in ${String(o.obj.apiVersion)}`;
      if (why === undefined) continue;
      failed++;
      process.stderr.write(`keadm: ${o.where}: ${why}\n`);
    }
    return failed === 0 ? 0 : 1;
  }
  const [word, name] = f.positional;
  if (!word || !name) throw new UsageError(USAGE);
  const why = await deleteOne(api, typeOf(word), ns, name);
  if (why !== undefined) throw new Error(why);
  return 0;
}
