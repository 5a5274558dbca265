/**
 * Memory and CPU limits for process pods through cgroups: v1 (a tree per controller, as on these
 * machines) or v2 (one unified tree, as on Raspberry Pi OS). Each container gets its own group under
 * `kubeedge/`; the process joins it before its command runs. Needs root; without it (or without a
 * writable cgroup tree) `available` is false and limits cannot be kept (the pod says so).
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CgroupLimits {
  memoryBytes?: number;
  cpuCores?: number;
}

export interface Cgroups {
  readonly version: 'v1' | 'v2' | undefined;
  /** makes the group with its limits; returns the files a process writes its pid to, to join it */
  create(name: string, limits: CgroupLimits): string[];
  /** did the kernel kill a process of the group for want of memory? */
  oomKilled(name: string): boolean;
  /** SIGKILL to every process still in the group */
  killAll(name: string): void;
  /** removes the group once the kernel has let go of its processes (waits up to a few seconds) */
  remove(name: string): Promise<void>;
}

const PERIOD_US = 100_000;

export function openCgroups(root = '/sys/fs/cgroup'): Cgroups {
  const v2 = existsSync(join(root, 'cgroup.controllers'));
  const v1 = !v2 && existsSync(join(root, 'memory'));
  const base = (controller: 'memory' | 'cpu'): string => (v2 ? join(root, 'kubeedge') : join(root, controller, 'kubeedge'));
  let version: 'v1' | 'v2' | undefined = v2 ? 'v2' : v1 ? 'v1' : undefined;
  try {
    if (version === 'v2') {
      mkdirSync(base('memory'), { recursive: true });
      // the controllers a child may use are those its parent hands down
      for (const dir of [root, base('memory')]) writeFileSync(join(dir, 'cgroup.subtree_control'), '+memory +cpu');
    } else if (version === 'v1') {
      mkdirSync(base('memory'), { recursive: true });
      if (existsSync(join(root, 'cpu'))) mkdirSync(base('cpu'), { recursive: true });
    }
  } catch {
    version = undefined; // not root, or a read-only tree
  }
  const dirs = (name: string): string[] => (version === 'v2' ? [join(base('memory'), name)] : version === 'v1' ? [join(base('memory'), name), join(base('cpu'), name)].filter((d) => existsSync(join(d, '..'))) : []);
  const readNumber = (file: string, key: string): number => {
    try {
      const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(readFileSync(file, 'utf8'));
      return m ? Number(m[1]) : 0;
    } catch {
      return 0;
    }
  };
  return {
    version,
    create(name, limits) {
      if (!version) return [];
      const out: string[] = [];
      for (const dir of dirs(name)) {
        mkdirSync(dir, { recursive: true });
        const cpuDir = version === 'v1' && dir.includes(`${join(root, 'cpu')}/`);
        if (version === 'v2') {
          if (limits.memoryBytes) writeFileSync(join(dir, 'memory.max'), String(Math.floor(limits.memoryBytes)));
          if (limits.cpuCores) writeFileSync(join(dir, 'cpu.max'), `${Math.max(1000, Math.round(limits.cpuCores * PERIOD_US))} ${PERIOD_US}`);
        } else if (cpuDir) {
          if (limits.cpuCores) {
            writeFileSync(join(dir, 'cpu.cfs_period_us'), String(PERIOD_US));
            writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(Math.max(1000, Math.round(limits.cpuCores * PERIOD_US))));
          }
        } else if (limits.memoryBytes) {
          writeFileSync(join(dir, 'memory.limit_in_bytes'), String(Math.floor(limits.memoryBytes)));
        }
        out.push(join(dir, 'cgroup.procs'));
      }
      return out;
    },
    oomKilled(name) {
      const dir = dirs(name)[0];
      if (!dir) return false;
      return version === 'v2' ? readNumber(join(dir, 'memory.events'), 'oom_kill') > 0 : readNumber(join(dir, 'memory.oom_control'), 'oom_kill') > 0;
    },
    killAll(name) {
      for (const dir of dirs(name)) {
        let pids: string[] = [];
        try {
          pids = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
        } catch {
          continue;
        }
        for (const pid of pids) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            /* gone already */
          }
        }
      }
    },
    async remove(name) {
      for (const dir of dirs(name)) {
        for (let i = 0; i < 50 && existsSync(dir); i++) {
          try {
            rmdirSync(dir);
          } catch {
            // EBUSY while a killed process is not yet reaped
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      }
    },
  };
}
