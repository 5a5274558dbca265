/** The start-up check KubeEdge does: edgecore refuses to run beside a cloudcore unless told to. */
import { readdirSync, readFileSync } from 'node:fs';

export function cloudcoreRunningHere(procRoot = '/proc'): number | undefined {
  let entries: string[];
  try {
    entries = readdirSync(procRoot);
  } catch {
    return undefined;
  }
  for (const pid of entries) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    let argv: string[];
    try {
      argv = readFileSync(`${procRoot}/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      continue;
    }
    // `cloudcore ...`, or `node [node flags] /path/cloudcore.js ...` (also a bin symlink named cloudcore)
    const base = (a: string | undefined): string => a?.split('/').pop() ?? '';
    const script = argv.slice(1).find((a) => !a.startsWith('-'));
    if (base(argv[0]) === 'cloudcore' || (/^node(js)?$/.test(base(argv[0])) && /^cloudcore(\.js)?$/.test(base(script)))) return Number(pid);
  }
  return undefined;
}
