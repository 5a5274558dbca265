/** keadm get TYPE [NAME] [-n NS | -A] [-o yaml|json|wide]: a table by default, as kubectl prints it. */
import { stringify } from 'yaml';
import { pathOf } from '../api/resources.js';
import { columns, type Obj } from '../api/columns.js';
import { flags, UsageError } from './flags.js';
import { openApi, statusMessage, typeOf } from './api.js';

export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] as number) + 3))).join('')).join('\n') + '\n';
}

export async function get(argv: readonly string[]): Promise<number> {
  const f = flags(argv, ['n', 'namespace', 'o', 'output', 'config-dir', 'data-dir'], ['A', 'all-namespaces']);
  const [word, name] = f.positional;
  if (!word) throw new UsageError('keadm get needs a type: nodes, pods, configmaps, secrets, devices, devicemodels, rules or ruleendpoints');
  const type = typeOf(word);
  const all = f.bool('A') || f.bool('all-namespaces');
  const ns = f.str('n') ?? f.str('namespace') ?? 'default';
  const output = f.str('o') ?? f.str('output');
  if (output !== undefined && !['yaml', 'json', 'wide'].includes(output)) throw new UsageError(`-o ${output}: use yaml, json or wide`);
  const api = openApi(f.dirs());
  const r = await api.call('GET', pathOf(type, all && name === undefined ? undefined : ns, name));
  if (r.status !== 200) throw new Error(statusMessage(r));
  if (output === 'json') return void process.stdout.write(JSON.stringify(r.body, null, 2) + '\n'), 0;
  if (output === 'yaml') return void process.stdout.write(stringify(r.body)), 0;
  const items = name === undefined ? ((r.body as { items?: Obj[] }).items ?? []) : [r.body as Obj];
  if (items.length === 0) {
    process.stdout.write(!type.namespaced || all ? 'No resources found\n' : `No resources found in ${ns} namespace.\n`);
    return 0;
  }
  const { head, row } = columns(type.kind, output === 'wide', all && type.namespaced && name === undefined);
  process.stdout.write(table([head, ...items.map(row)]));
  return 0;
}
