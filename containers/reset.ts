/**
 * What `keadm reset` does to pods: every container Edged made, in either runtime, stopped and
 * removed (process pods outlive edgecore, by design), their mount points and cgroups with them,
 * and the root directory deleted. It uses the runtimes themselves, so it removes what they make.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../core/log.js';
import { createProcessRuntime } from './process.js';
import { createPodmanRuntime } from './podman.js';
import type { ContainerRuntime } from './runtime.js';

export async function removeEveryPod(root: string, endpoint: string): Promise<number> {
  const log = createLogger({ level: 'error' });
  const runtimes: ContainerRuntime[] = [];
  if (existsSync(root)) runtimes.push(createProcessRuntime({ root, log, logMaxBytes: Infinity, logMaxFiles: 2 }));
  const podman = createPodmanRuntime({ endpoint, log, logMaxBytes: 1024 * 1024 });
  if ((await podman.check()) === undefined) runtimes.push(podman);
  let removed = 0;
  for (const rt of runtimes) {
    const uids = new Set<string>();
    for (const c of await rt.list().catch(() => [])) {
      if (c.state === 'running') await rt.stop(c, 0);
      await rt.remove(c);
      uids.add(c.podUid);
      removed++;
    }
    if (rt.name === 'process' && existsSync(join(root, 'pods'))) for (const uid of readdirSync(join(root, 'pods'))) uids.add(uid);
    for (const uid of uids) await rt.removePod(uid);
    await rt.close();
  }
  rmSync(root, { recursive: true, force: true });
  return removed;
}
