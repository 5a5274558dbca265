/** keadm delete KIND NAME [-n NS] */
import { flags, UsageError } from './flags.js';
import { kindOf, openApi, pathOf, statusMessage } from './api.js';

export async function del(argv: readonly string[]): Promise<number> {
  const f = flags(argv, ['n', 'namespace', 'config-dir', 'data-dir']);
  const [kindWord, name] = f.positional;
  if (!kindWord || !name) throw new UsageError('usage: keadm delete nodes|devices|devicemodels NAME [-n NAMESPACE]');
  const kind = kindOf(kindWord);
  const ns = f.str('n') ?? f.str('namespace') ?? 'default';
  const r = await openApi(f.dirs()).call('DELETE', pathOf(kind, ns, name));
  if (r.status !== 200) throw new Error(statusMessage(r));
  const group = kind === 'nodes' ? 'node' : `${kind.slice(0, -1)}.devices.kubeedge.io`;
  process.stdout.write(`${group} "${name}" deleted\n`);
  return 0;
}
