/** keadm logs POD [-c CONTAINER] [--tail N] [-f] [-n NS]: a pod's log, read from its edge. */
import { pathOf, resourceType } from '../api/resources.js';
import { flags, UsageError } from './flags.js';
import { openApi, statusMessage } from './api.js';

export async function logs(argv: readonly string[]): Promise<number> {
  const f = flags(argv, ['n', 'namespace', 'c', 'container', 'tail', 'config-dir', 'data-dir'], ['f', 'follow']);
  const [pod] = f.positional;
  if (!pod) throw new UsageError('usage: keadm logs POD [-c CONTAINER] [--tail N] [-f] [-n NAMESPACE]');
  const ns = f.str('n') ?? f.str('namespace') ?? 'default';
  const query = new URLSearchParams();
  const container = f.str('c') ?? f.str('container');
  if (container) query.set('container', container);
  const tail = f.str('tail');
  if (tail !== undefined && tail !== '-1') {
    if (!/^\d+$/.test(tail)) throw new UsageError(`--tail must be a whole number, not ${JSON.stringify(tail)}`);
    query.set('tailLines', tail);
  }
  if (f.bool('f') || f.bool('follow')) query.set('follow', 'true');
  const path = `${pathOf(resourceType('pod'), ns, pod, 'log')}${query.size ? `?${query.toString()}` : ''}`;
  const r = await openApi(f.dirs()).stream(path, (chunk) => process.stdout.write(chunk));
  if (r.status !== 200) throw new Error(statusMessage(r));
  return 0;
}
