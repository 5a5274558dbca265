/**
 * The README's binary deployment on two machines: a cloud and an edge, each in its own network
 * namespace with its own address (10.77.0.1 and 10.77.0.2 on a veth pair) and its own /etc/kubeedge;
 * `cloudcore --minconfig` advertises the cloud's address, the edge joins through it and is Ready;
 * an address added to advertiseAddress is in the certificate after a restart, and the edge is back.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../peers/proc.js';

const ip = (...args: string[]): void => {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
};

describe('the binary deployment on two machines', () => {
  const id = String(process.pid % 100000);
  const [cloudNs, edgeNs] = [`kec-${id}`, `kee-${id}`];
  const shared = mkdtempSync(join(tmpdir(), 'ke-two-'));
  const made = ['/etc/kubeedge', '/var/lib/kubeedge'].filter((d) => !existsSync(d));
  beforeAll(() => {
    if (process.getuid?.() !== 0) throw new Error('this test needs root: it makes network and mount namespaces');
    for (const d of made) mkdirSync(d);
    ip('netns', 'add', cloudNs);
    ip('netns', 'add', edgeNs);
    ip('link', 'add', `vc${id}`, 'type', 'veth', 'peer', 'name', `ve${id}`);
    ip('link', 'set', `vc${id}`, 'netns', cloudNs);
    ip('link', 'set', `ve${id}`, 'netns', edgeNs);
    ip('-n', cloudNs, 'addr', 'add', '10.77.0.1/24', 'dev', `vc${id}`);
    ip('-n', edgeNs, 'addr', 'add', '10.77.0.2/24', 'dev', `ve${id}`);
    ip('-n', cloudNs, 'link', 'set', `vc${id}`, 'up');
    ip('-n', edgeNs, 'link', 'set', `ve${id}`, 'up');
  });
  afterAll(() => {
    spawnSync('ip', ['netns', 'del', cloudNs]);
    spawnSync('ip', ['netns', 'del', edgeNs]);
    for (const d of made) rmdirSync(d);
    rmSync(shared, { recursive: true, force: true });
  });

  it('the cloud advertises its own address, the edge joins through it, and an added address is in the certificate', async () => {
    const script = join(ROOT, 'test', 'e2e', 'two-hosts.sh');
    const dist = join(ROOT, 'dist');
    const side = (name: string, ns: string, extra: string[]) => {
      const p = spawn('ip', ['netns', 'exec', ns, 'unshare', '--mount', '--propagation', 'private', ...extra, 'bash', script, name, dist, shared], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      p.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
      p.stderr.on('data', (b: Buffer) => (out += b.toString('utf8')));
      const done = new Promise<number | null>((resolve) => p.on('close', resolve));
      return { p, done, out: () => out };
    };
    // the edge gets a pid namespace too: on another machine it would not see the cloud's cloudcore
    const edge = side('edge', edgeNs, ['--pid', '--fork', '--mount-proc']);
    const cloud = side('cloud', cloudNs, []);
    const code = await Promise.race([cloud.done, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 100_000))]);
    edge.p.kill('SIGKILL');
    spawnSync('ip', ['netns', 'pids', edgeNs], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).forEach((pid) => spawnSync('kill', ['-9', pid]));
    spawnSync('ip', ['netns', 'pids', cloudNs], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).forEach((pid) => spawnSync('kill', ['-9', pid]));
    const said = `${cloud.out()}\n--- edge ---\n${edge.out().slice(-3000)}`;
    expect(code, said).toBe(0);
    expect(cloud.out()).toMatch(/advertiseAddress:\n\s+- 10\.77\.0\.1\n/);
    expect(cloud.out()).toMatch(/^edge-b\s+Ready\s/m);
    expect(cloud.out()).toMatch(/made the server certificate \S+ for 10\.77\.0\.1, 10\.77\.0\.99, localhost \(the one before did not cover 10\.77\.0\.99\)/);
    expect(cloud.out()).toMatch(/IP Address:10\.77\.0\.99/);
    expect(cloud.out()).toContain('TWO-HOSTS-OK');
  }, 120_000);
});
