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
    // `cloudcore ...`, or `node /path/cloudcore.js ...` (also a bin symlink named cloudcore)
    const prog = argv.slice(0, 2).map((a) => a.split('/').pop() ?? '');
    if (prog[0] === 'cloudcore' || (/^node(js)?$/.test(prog[0] ?? '') && /^cloudcore(\.js)?$/.test(prog[1] ?? ''))) return Number(pid);
  }
  return undefined;
}
