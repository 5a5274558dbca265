/** keadm get nodes|devices|devicemodels [NAME] [-n NS] [-o yaml|json]: a table by default. */
import { stringify } from 'yaml';
import { flags, UsageError } from './flags.js';
import { kindOf, openApi, pathOf, statusMessage } from './api.js';

interface Obj {
  metadata?: { name?: string; namespace?: string; creationTimestamp?: string };
  spec?: { nodeName?: string; deviceModelRef?: { name?: string }; protocol?: { protocolName?: string }; properties?: unknown[] };
  status?: { conditions?: { type: string; status: string }[]; state?: string };
}

export function age(ts: string | undefined, now = Date.now()): string {
  if (!ts) return '<unknown>';
  const s = Math.max(0, Math.floor((now - Date.parse(ts)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] as number) + 3))).join('')).join('\n') + '\n';
}

export async function get(argv: readonly string[]): Promise<number> {
  const f = flags(argv, ['n', 'namespace', 'o', 'output', 'config-dir', 'data-dir'], ['A', 'all-namespaces']);
  const [kindWord, name] = f.positional;
  if (!kindWord) throw new UsageError('keadm get needs a kind: nodes, devices or devicemodels');
  const kind = kindOf(kindWord);
  const ns = f.str('n') ?? f.str('namespace') ?? 'default';
  const output = f.str('o') ?? f.str('output');
  if (output !== undefined && output !== 'yaml' && output !== 'json') throw new UsageError(`-o ${output}: use yaml or json`);
  const api = openApi(f.dirs());
  const r = await api.call('GET', pathOf(kind, ns, name));
  if (r.status !== 200) throw new Error(statusMessage(r));
  if (output === 'json') return void process.stdout.write(JSON.stringify(r.body, null, 2) + '\n'), 0;
  if (output === 'yaml') return void process.stdout.write(stringify(r.body)), 0;
  const items = (name === undefined ? ((r.body as { items?: Obj[] }).items ?? []) : [r.body as Obj]);
  if (items.length === 0) {
    process.stdout.write(kind === 'nodes' ? 'No resources found\n' : `No resources found in ${ns} namespace.\n`);
    return 0;
  }
  const rows =
    kind === 'nodes'
      ? [['NAME', 'STATUS', 'ROLES', 'AGE'], ...items.map((o) => [o.metadata?.name ?? '', o.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? 'Ready' : 'NotReady', 'agent,edge', age(o.metadata?.creationTimestamp)])]
      : kind === 'devices'
        ? [['NAME', 'NODE', 'MODEL', 'PROTOCOL', 'STATE', 'AGE'], ...items.map((o) => [o.metadata?.name ?? '', o.spec?.nodeName ?? '', o.spec?.deviceModelRef?.name ?? '', o.spec?.protocol?.protocolName ?? '', o.status?.state ?? '', age(o.metadata?.creationTimestamp)])]
        : [['NAME', 'PROPERTIES', 'AGE'], ...items.map((o) => [o.metadata?.name ?? '', String(o.spec?.properties?.length ?? 0), age(o.metadata?.creationTimestamp)])];
  process.stdout.write(table(rows));
  return 0;
}
