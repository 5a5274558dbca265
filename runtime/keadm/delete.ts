/** keadm delete TYPE NAME [-n NS] */
import { pathOf } from '../../api/resources.js';
import { flags, UsageError } from './flags.js';
import { objectLabel, openApi, statusMessage, typeOf } from './api.js';

export async function del(argv: readonly string[]): Promise<number> {
  const f = flags(argv, ['n', 'namespace', 'config-dir', 'data-dir']);
  const [word, name] = f.positional;
  if (!word || !name) throw new UsageError('usage: keadm delete TYPE NAME [-n NAMESPACE] (TYPE: nodes, pods, configmaps, secrets, devices, devicemodels, rules, ruleendpoints)');
  const type = typeOf(word);
  const ns = f.str('n') ?? f.str('namespace') ?? 'default';
  const r = await openApi(f.dirs()).call('DELETE', pathOf(type, ns, name));
  if (r.status !== 200) throw new Error(statusMessage(r));
  process.stdout.write(`${objectLabel(type, name).replace('/', ' "')}" deleted\n`);
  return 0;
}
