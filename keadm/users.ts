/**
 * The processes that use files keadm is about to remove: those started with one of the configs on
 * their command line (`--config FILE`), and those holding one of the files open (a database, a key).
 * Found through /proc, as fuser would. keadm reset stops ours (cloudcore, edgecore) and refuses,
 * naming them, when another program holds a file.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import type { Program } from './service.js';

export interface FileUser {
  pid: number;
  /** the command line, as ps shows it (cut) */
  command: string;
  /** the file it uses */
  file: string;
  /** one of ours, which keadm may stop */
  program?: Program;
}

function programOf(argv: readonly string[]): Program | undefined {
  for (const a of argv) {
    const b = basename(a);
    if (b === 'edgecore' || b === 'edgecore.js') return 'edgecore';
    if (b === 'cloudcore' || b === 'cloudcore.js') return 'cloudcore';
  }
  return undefined;
}

export function fileUsers(files: ReadonlySet<string>, configs: readonly string[], proc = '/proc'): FileUser[] {
  const out: FileUser[] = [];
  const self = new Set([process.pid, process.ppid]);
  for (const entry of readdirSync(proc)) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || self.has(pid)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`${proc}/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      continue; // gone
    }
    if (argv.length === 0) continue; // a kernel thread
    const command = argv.join(' ').slice(0, 200);
    const program = programOf(argv);
    const configArg = argv.find((a, i) => configs.includes(a) && (argv[i - 1] === '--config' || argv[i - 1] === '-c')) ?? argv.map((a) => a.replace(/^--config=/, '')).find((a) => configs.includes(a));
    if (configArg !== undefined) {
      out.push({ pid, command, file: configArg, ...(program ? { program } : {}) });
      continue;
    }
    let fds: string[] = [];
    try {
      fds = readdirSync(`${proc}/${pid}/fd`);
    } catch {
      continue; // another user's process, or gone
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`${proc}/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (files.has(target)) {
        out.push({ pid, command, file: target, ...(program ? { program } : {}) });
        break;
      }
    }
  }
  return out;
}
