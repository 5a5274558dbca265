/**
 * Memory and CPU limits for process pods through cgroups: v1 (a tree per controller, as on these
 * machines) or v2 (one unified tree, as on Raspberry Pi OS). Each container gets its own group under
 * `kubeedge/`, limits or not; the process joins it before its command runs. Being outside edgecore's
 * own group is what lets a pod outlive `systemctl restart edgecore`: systemd stops a unit by the
 * processes of its group in the hierarchy it tracks (name=systemd on v1; the unified one on v2 and
 * in hybrid mode), so on v1 the process moves in those too, and in `pids`, whose count is the unit's.
 * Needs root and a writable tree; without them `version` is undefined and limits cannot be kept
 * (the pod says so).
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
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
  /** what the group uses: CPU time so far (ns) and its working set (bytes, as kubelet counts it: without inactive file pages) */
  usage(name: string): { cpuNanos?: number; memoryBytes?: number };
  /** SIGKILL to every process still in the group */
  killAll(name: string): void;
  /** removes the group once the kernel has let go of its processes (waits up to a few seconds) */
  remove(name: string): Promise<void>;
}

const PERIOD_US = 100_000;
/** v1: the hierarchies a pod's process joins (those present; cpuacct counts its CPU time, where it is not cpu's) */
const V1_HIERARCHIES = ['memory', 'cpu', 'cpuacct', 'pids', 'systemd', 'unified'] as const;

function mounted(dir: string): boolean {
  try {
    return lstatSync(dir).isDirectory() && existsSync(join(dir, 'cgroup.procs'));
  } catch {
    return false;
  }
}

export function openCgroups(root = '/sys/fs/cgroup'): Cgroups {
  return new CgroupTree(root);
}

function readNumber(file: string, key: string): number {
  try {
    const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(readFileSync(file, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function fileNumber(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

const quota = (cores: number): number => Math.max(1000, Math.round(cores * PERIOD_US));

/** the limits of a group in one hierarchy (v2: the one tree) */
function writeLimits(hierarchy: string, dir: string, limits: CgroupLimits): void {
  if (hierarchy === 'v2') {
    if (limits.memoryBytes) writeFileSync(join(dir, 'memory.max'), String(Math.floor(limits.memoryBytes)));
    if (limits.cpuCores) writeFileSync(join(dir, 'cpu.max'), `${quota(limits.cpuCores)} ${PERIOD_US}`);
  } else if (hierarchy === 'memory' && limits.memoryBytes) {
    writeFileSync(join(dir, 'memory.limit_in_bytes'), String(Math.floor(limits.memoryBytes)));
  } else if (hierarchy === 'cpu' && limits.cpuCores) {
    writeFileSync(join(dir, 'cpu.cfs_period_us'), String(PERIOD_US));
    writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(quota(limits.cpuCores)));
  }
}

class CgroupTree implements Cgroups {
  private readonly hierarchies: string[];
  version: 'v1' | 'v2' | undefined;

  constructor(private readonly root: string) {
    const v2 = existsSync(join(root, 'cgroup.controllers'));
    this.hierarchies = v2 ? [] : V1_HIERARCHIES.filter((h) => mounted(join(root, h)));
    this.version = v2 ? 'v2' : this.hierarchies.includes('memory') ? 'v1' : undefined;
    try {
      if (this.version === 'v2') {
        mkdirSync(join(root, 'kubeedge'), { recursive: true });
        // the controllers a child may use are those its parent hands down
        for (const dir of [root, join(root, 'kubeedge')]) writeFileSync(join(dir, 'cgroup.subtree_control'), '+memory +cpu +pids');
      } else if (this.version === 'v1') {
        for (const h of this.hierarchies) mkdirSync(join(root, h, 'kubeedge'), { recursive: true });
      }
    } catch {
      this.version = undefined; // not root, or a read-only tree
    }
  }

  /** the group's folder in each hierarchy (v2: the one tree), by what it holds */
  private dirs(name: string): { hierarchy: string; dir: string }[] {
    if (this.version === 'v2') return [{ hierarchy: 'v2', dir: join(this.root, 'kubeedge', name) }];
    if (this.version === 'v1') return this.hierarchies.map((h) => ({ hierarchy: h, dir: join(this.root, h, 'kubeedge', name) }));
    return [];
  }

  create(name: string, limits: CgroupLimits): string[] {
    return this.dirs(name).map(({ hierarchy, dir }) => {
      mkdirSync(dir, { recursive: true });
      writeLimits(hierarchy, dir, limits);
      return join(dir, 'cgroup.procs');
    });
  }

  oomKilled(name: string): boolean {
    const mem = this.dirs(name).find((d) => d.hierarchy === 'v2' || d.hierarchy === 'memory');
    if (!mem) return false;
    return mem.hierarchy === 'v2' ? readNumber(join(mem.dir, 'memory.events'), 'oom_kill') > 0 : readNumber(join(mem.dir, 'memory.oom_control'), 'oom_kill') > 0;
  }

  usage(name: string): { cpuNanos?: number; memoryBytes?: number } {
    const at = (h: string): string | undefined => this.dirs(name).find((d) => d.hierarchy === h)?.dir;
    const v2 = at('v2');
    if (v2) {
      const current = fileNumber(join(v2, 'memory.current'));
      const usec = existsSync(join(v2, 'cpu.stat')) ? readNumber(join(v2, 'cpu.stat'), 'usage_usec') : undefined;
      return { ...(usec !== undefined ? { cpuNanos: usec * 1000 } : {}), ...(current !== undefined ? { memoryBytes: Math.max(0, current - readNumber(join(v2, 'memory.stat'), 'inactive_file')) } : {}) };
    }
    const cpu = at('cpuacct') ?? at('cpu');
    const mem = at('memory');
    const cpuNanos = cpu ? fileNumber(join(cpu, 'cpuacct.usage')) : undefined;
    const used = mem ? fileNumber(join(mem, 'memory.usage_in_bytes')) : undefined;
    return { ...(cpuNanos !== undefined ? { cpuNanos } : {}), ...(used !== undefined && mem ? { memoryBytes: Math.max(0, used - readNumber(join(mem, 'memory.stat'), 'total_inactive_file')) } : {}) };
  }

  killAll(name: string): void {
    const pids = new Set<string>();
    for (const { dir } of this.dirs(name)) {
      try {
        for (const p of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (p) pids.add(p);
      } catch {
        /* not made */
      }
    }
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* gone already */
      }
    }
  }

  async remove(name: string): Promise<void> {
    for (const { dir } of this.dirs(name)) {
      for (let i = 0; i < 50 && existsSync(dir); i++) {
        try {
          rmdirSync(dir);
        } catch {
          // EBUSY while a killed process is not yet reaped
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }
  }
}
