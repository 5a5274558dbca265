/**
 * keadm reset on a host where cloudcore and edgecore were started by hand (no pid file, no unit):
 * it stops them rather than removing the files under them; and when another program holds one of
 * its files it refuses, names it, and removes nothing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCluster, type Cluster, type Edge } from './cluster.js';
import { ROOT } from '../peers/proc.js';

const keadm = (args: string[]) => spawnSync(process.execPath, [join(ROOT, 'dist', 'keadm.js'), ...args], { encoding: 'utf8', timeout: 60_000 });

describe('keadm reset under running programs', () => {
  let c: Cluster;
  let edge: Edge;
  beforeAll(async () => {
    c = await makeCluster();
    await c.startCloud(); // <dir>/config/cloudcore.yaml, <dir>/ca, <dir>/cloudcore.db: keadm's layout for --config-dir and --data-dir <dir>
    edge = await c.startEdge('edge-reset', { configFile: join(c.dir, 'config', 'edgecore.yaml'), dataSource: join(c.dir, 'edgecore.db') });
  });
  afterAll(() => c?.stop());

  it('refuses, naming the process, while another program holds one of its files; then stops ours and removes everything', async () => {
    const dirs = ['--config-dir', c.dir, '--data-dir', c.dir];
    // somebody reading the edge's database
    const holder = spawn('sleep', ['60'], { stdio: [openSync(join(c.dir, 'edgecore.db'), 'r'), 'ignore', 'ignore'] });
    try {
      await new Promise((r) => setTimeout(r, 200));
      const refused = keadm(['reset', '--force', ...dirs]);
      expect(refused.status).not.toBe(0);
      expect(refused.stderr).toContain(`pid ${holder.pid} (sleep 60) uses ${join(c.dir, 'edgecore.db')}: stop it first; nothing was removed`);
      for (const f of ['config/cloudcore.yaml', 'config/edgecore.yaml', 'ca/rootCA.key', 'edgecore.db']) expect(existsSync(join(c.dir, f)), f).toBe(true);
      expect(c.cloud?.child.exitCode).toBeNull();
      expect(edge.proc.child.exitCode).toBeNull();
    } finally {
      holder.kill('SIGKILL');
    }
    await new Promise((r) => setTimeout(r, 200));
    const reset = keadm(['reset', '--force', ...dirs]);
    expect(reset.status, reset.stderr).toBe(0);
    expect(reset.stdout).toMatch(new RegExp(`stopped cloudcore \\(pid ${c.cloud?.child.pid}, using ${join(c.dir, 'config', 'cloudcore.yaml')}\\)`));
    expect(reset.stdout).toMatch(new RegExp(`stopped edgecore \\(pid ${edge.proc.child.pid}, using ${join(c.dir, 'config', 'edgecore.yaml')}\\)`));
    // both stopped cleanly (cloudcore used to crash on an acknowledgement sent after CloudHub had stopped)
    expect(await c.cloud?.exited).toBe(0);
    expect(await edge.proc.exited).toBe(0);
    for (const f of ['config/cloudcore.yaml', 'config/edgecore.yaml', 'ca/rootCA.key', 'edgecore.db', 'cloudcore.db']) expect(existsSync(join(c.dir, f)), f).toBe(false);
  });
});
