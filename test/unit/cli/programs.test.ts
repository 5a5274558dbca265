import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from '../../peers/proc.js';
import { NODE_ARGS, bundlePath, unitText } from '../../../keadm/service.js';

const run = (prog: string, args: string[]) => spawnSync(process.execPath, [join(ROOT, 'dist', `${prog}.js`), ...args], { encoding: 'utf8', env: { ...process.env, CHECK_EDGECORE_ENVIRONMENT: 'false' } });

const temps: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'ke-cli-'));
  temps.push(d);
  return d;
};
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

describe('edgecore and cloudcore command lines', () => {
  it('print version, help, and configs that parse back', () => {
    for (const prog of ['edgecore', 'cloudcore']) {
      expect(run(prog, ['--version']).stdout).toMatch(new RegExp(`^${prog} version: v\\d+\\.\\d+\\.\\d+`));
      expect(run(prog, ['--help']).stdout).toContain('--minconfig');
      const min = parse(run(prog, ['--minconfig']).stdout);
      expect(min.kind).toBe(prog === 'edgecore' ? 'EdgeCore' : 'CloudCore');
      const full = parse(run(prog, ['--defaultconfig']).stdout);
      expect(full.modules).toBeTruthy();
    }
  });

  it('the token sits on a line of its own, so the sed recipe works', () => {
    const text = run('edgecore', ['--minconfig']).stdout;
    const dir = tempDir();
    const file = join(dir, 'edgecore.yaml');
    writeFileSync(file, text);
    execFileSync('sed', ['-i', '-e', 's|token: .*|token: abc.def|g', file]);
    expect(parse(execFileSync('cat', [file], { encoding: 'utf8' })).modules.edgeHub.token).toBe('abc.def');
  });

  it('exit non-zero with one line naming the bad path', () => {
    const dir = tempDir();
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'apiVersion: edgecore.config.kubeedge.io/v1alpha2\nkind: EdgeCore\nmodules:\n  edgeHub:\n    heartbeat: fast\n  eventBuss: {}\n');
    const r = run('edgecore', ['--config', file]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('modules.edgeHub.heartbeat: expected a number');
    expect(r.stderr).toContain('modules.eventBuss: unknown key');
    writeFileSync(file, 'modules: [1, 2');
    const y = run('cloudcore', ['--config', file]);
    expect(y.status).toBe(1);
    expect(y.stderr).toMatch(/is not valid YAML/);
    const missing = run('cloudcore', ['--config', join(dir, 'nope.yaml')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/no config at \S+nope\.yaml; write one with "cloudcore --minconfig > /);
  });

  it('edgecore refuses to start beside a running cloudcore unless CHECK_EDGECORE_ENVIRONMENT=false', async () => {
    const { makeCluster } = await import('../../e2e/cluster.js');
    const c = await makeCluster();
    try {
      await c.startCloud();
      const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'edgecore.js'), '--config', '/nonexistent/edgecore.yaml'], { encoding: 'utf8', env: { ...process.env, CHECK_EDGECORE_ENVIRONMENT: 'true' } });
      // the config error comes first when the file is missing; with a valid file the environment check speaks
      const file = join(c.dir, 'edge.yaml');
      writeFileSync(file, 'kind: EdgeCore\n');
      const r2 = spawnSync(process.execPath, [join(ROOT, 'dist', 'edgecore.js'), '--config', file], { encoding: 'utf8', env: { ...process.env, CHECK_EDGECORE_ENVIRONMENT: '' } });
      expect(r.status).toBe(1);
      expect(r2.status).toBe(1);
      expect(r2.stderr).toMatch(/a cloudcore runs on this host \(pid \d+\); set CHECK_EDGECORE_ENVIRONMENT=false/);
    } finally {
      await c.stop();
    }
  });
});

describe('the Node flags each program runs with', () => {
  it('are the same in the bundle\'s shebang, in the unit keadm writes and in what keadm starts, and this node takes them', () => {
    for (const prog of ['edgecore', 'cloudcore'] as const) {
      const bundle = join(ROOT, 'dist', `${prog}.js`);
      const flags = NODE_ARGS[prog].join(' ');
      expect(readFileSync(bundle, 'utf8').split('\n', 1)[0]).toBe(`#!/usr/bin/env -S node ${flags}`);
      expect(unitText(prog, '/etc/kubeedge/config/x.yaml')).toContain(`ExecStart=${process.execPath} ${flags} ${bundlePath(prog)} --config`);
      // run as a user runs it: through its shebang (a flag this node lacks would stop it here)
      expect(execFileSync(bundle, ['--version'], { encoding: 'utf8' })).toMatch(new RegExp(`^${prog} version: v`));
    }
    expect(NODE_ARGS.edgecore).toContain('--no-sparkplug');
  });
});
