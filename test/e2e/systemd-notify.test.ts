/**
 * edgecore under a service manager, as systemd runs a Type=notify unit with WatchdogSec: the test
 * holds the notify socket itself (a Python AF_UNIX datagram socket; systemd cannot run as PID 1 in
 * this sandbox) and reads what edgecore sends through systemd-notify: READY=1 once it runs, then
 * WATCHDOG=1 every half interval, which stops while the process is frozen (SIGSTOP) and while its
 * store cannot write (a disk full: /dev/full), and comes back after.
 */
import { symlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCluster, eventually, readyOf, device, thermometerModel, type Cluster, type Edge } from './cluster.js';
import { runProcess, type Proc } from '../peers/proc.js';

const NODE = 'edge-sd';

describe('systemd notify and watchdog', () => {
  let c: Cluster;
  let edge: Edge;
  let socket: Proc;
  const sockPath = (): string => join(c.dir, 'notify.sock');
  /** datagrams received, with the time each came */
  const got = (): { at: number; text: string }[] =>
    socket.lines.filter((l) => l.startsWith('MSG ')).map((l) => {
      const [, at, text] = /^MSG (\d+) (.*)$/.exec(l) as unknown as [string, string, string];
      return { at: Number(at), text };
    });
  const petsSince = (t: number): number => got().filter((m) => m.at >= t && m.text === 'WATCHDOG=1').length;

  beforeAll(async () => {
    c = await makeCluster();
    await c.startCloud();
    socket = runProcess('python3', ['-u', '-c', `
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print('LISTENING')
while True:
    data = s.recv(4096)
    for line in data.decode().split('\\n'):
        print('MSG %d %s' % (int(time.time() * 1000), line))
`, sockPath()]);
    await socket.waitFor(/LISTENING/);
    edge = await c.startEdge(NODE, { heartbeat: 1, env: { NOTIFY_SOCKET: sockPath(), WATCHDOG_USEC: '1000000' } });
    await eventually(async () => readyOf((await c.api.call('GET', `/api/v1/nodes/${NODE}`)).body) === 'True', 15_000, 'Ready');
  });
  afterAll(async () => {
    await socket?.kill('SIGKILL');
    await c?.stop();
  });

  it('says READY=1 with its pid once it runs, then pets the watchdog every half interval', async () => {
    await eventually(async () => got().some((m) => m.text === 'READY=1'), 10_000, 'READY=1');
    const texts = got().map((m) => m.text);
    expect(texts.indexOf('READY=1')).toBeLessThan(texts.indexOf('WATCHDOG=1') === -1 ? Infinity : texts.indexOf('WATCHDOG=1'));
    expect(texts).toContain(`MAINPID=${edge.proc.child.pid}`);
    const t = Date.now();
    await eventually(async () => petsSince(t) >= 3, 10_000, 'three pets');
  });

  it('stops petting while frozen, and goes on when it runs again', async () => {
    process.kill(edge.proc.child.pid as number, 'SIGSTOP');
    const frozenAt = Date.now();
    await new Promise((r) => setTimeout(r, 2500)); // 2.5 watchdog intervals: systemd would have killed it
    process.kill(edge.proc.child.pid as number, 'SIGCONT');
    // nothing came while it was stopped (a systemd-notify spawned just before the SIGSTOP may land in its first second); pets are every 0.5 s
    expect(got().filter((m) => m.at >= frozenAt + 1000 && m.at < frozenAt + 2400 && m.text === 'WATCHDOG=1')).toEqual([]);
    const t = Date.now();
    await eventually(async () => petsSince(t) >= 2, 10_000, 'pets again');
  });

  it('stops petting while its store cannot write (disk full), says why, and goes on once it can', async () => {
    // the store's changes file is /dev/full now: its next write is ENOSPC (edgecore sees the file at the
    // path is not the one it appends to, saves the store whole and starts a changes file, which fails)
    const tmp = join(c.dir, NODE, 'edgecore.db.changes');
    rmSync(tmp);
    symlinkSync('/dev/full', tmp);
    expect((await c.api.call('POST', '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devicemodels', thermometerModel)).status).toBe(201);
    expect((await c.api.call('POST', '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices', device('sd-thermo', NODE))).status).toBe(201);
    await edge.proc.waitFor(/not petting the systemd watchdog/, 15_000);
    expect(edge.proc.lines.find((l) => /not petting/.test(l))).toMatch(/unhealthy \(store: cannot persist .*edgecore\.db: .*ENOSPC/);
    const ready = await fetch(`http://127.0.0.1:${edge.metaPort}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toMatch(/\[-\]store failed: cannot persist .*ENOSPC/);
    // (a pet spawned on the last healthy tick may land in the first second)
    const sickAt = Date.now() + 1000;
    await new Promise((r) => setTimeout(r, 2500));
    expect(petsSince(sickAt)).toBe(0);
    // space again: the cloud resends what was not acknowledged, the store writes, and the pets come back
    rmSync(tmp);
    await edge.proc.waitFor(/healthy again/, 30_000);
    const t = Date.now();
    await eventually(async () => petsSince(t) >= 2, 10_000, 'pets again');
    expect((await fetch(`http://127.0.0.1:${edge.metaPort}/readyz`)).status).toBe(200);
  });
});
