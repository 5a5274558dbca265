/**
 * What petting systemd's watchdog costs edgecore: one `systemd-notify WATCHDOG=1` spawned per pet
 * (Node has no AF_UNIX datagram sockets), against a socket held here as systemd would hold it.
 * CPU per pet (edgecore's own and the child's) beside spawning /bin/true, the floor of any spawn,
 * and the share of a core at the unit's WatchdogSec=30 (a pet every 15 s).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { report, type Row } from './lib/report.js';

const N = Number(process.env.BENCH_PETS ?? 200);

/** this process' CPU and its waited-for children's, in ms */
function cpuMs(): number {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
  const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  return (ticks / 100) * 1000;
}

async function each(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ cpu: number; wall: number }> {
  const cpu0 = cpuMs();
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    await new Promise<void>((resolve, reject) => {
      const c = spawn(cmd, args, { stdio: 'ignore', env });
      c.on('error', reject);
      c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}`))));
    });
  }
  return { cpu: (cpuMs() - cpu0) / N, wall: (performance.now() - t0) / N };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ke-sdnotify-'));
  const sock = join(dir, 'notify.sock');
  // the socket systemd would hold: a Python datagram socket that reads and drops what comes
  const holder = spawn('python3', ['-u', '-c', 'import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint("up")\nwhile True: s.recv(4096)', sock], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((r) => holder.stdout?.once('data', r));
  const rows: Row[] = [];
  try {
    const env = { ...process.env, NOTIFY_SOCKET: sock };
    await each('systemd-notify', ['WATCHDOG=1'], env); // warm
    const pet = await each('systemd-notify', ['WATCHDOG=1'], env);
    const floor = await each('/bin/true', [], env);
    rows.push({ metric: 'watchdog pet (systemd-notify WATCHDOG=1), CPU per pet', ours: pet.cpu, peer: floor.cpu, peerName: 'spawning /bin/true', ratio: pet.cpu / floor.cpu, unit: 'ms' });
    rows.push({ metric: '  wall time per pet', ours: pet.wall, peer: floor.wall, peerName: 'spawning /bin/true', ratio: pet.wall / floor.wall, unit: 'ms' });
    rows.push({ metric: '  share of a core at WatchdogSec=30 (a pet each 15 s)', ours: (pet.cpu / 15_000) * 100, unit: '%' });
  } finally {
    holder.kill();
    rmSync(dir, { recursive: true, force: true });
  }
  report('sdnotify', rows);
}

await main();
