/**
 * The board: Debian 12 arm64 (test/board/setup-board.sh) booted under qemu-system-aarch64 (TCG,
 * cortex-a72, 2 cores, 1 GiB) from a copy-on-write disk over the cached image. What the tests hold:
 *   - the host's commands run in the guest over a virtio-serial port (guest/exec-agent.sh);
 *   - the simulated GPIO lines, driven over another (guest/gpioctl-agent.sh);
 *   - serial lines: host ptys behind the guest's /dev/ttyS0 (a PCI 16550) and /dev/ttyUSB0 (an FTDI
 *     USB adapter, which the monitor can unplug and plug back);
 *   - qemu's monitor (HMP), and a power cut: qemu SIGKILLed, with what the guest had not flushed
 *     lost (cache=writeback: the guest's own page cache goes with it, as on a real board).
 * The guest reaches the host's loopback as 10.0.2.2 (user-mode networking).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { ROOT } from '../peers/proc.js';

export interface Board {
  /** seconds from qemu's start to the guest answering its first command */
  bootSeconds: number;
  /** a bash command in the guest: its exit code and its output (stdout and stderr) */
  run(cmd: string, timeoutS?: number): Promise<{ rc: number; out: string }>;
  /** the same, failing with what it said unless it exits 0 */
  sh(cmd: string, timeoutS?: number): Promise<string>;
  /** a command to the GPIO agent (`pull 3 up`, `burst 3 20`, `get 5`): its answer */
  gpio(cmd: string): Promise<string>;
  /** an HMP command to qemu's monitor: its answer */
  monitor(cmd: string): Promise<string>;
  /** the host ends of the guest's serial lines: ttyS0 and ttyUSB0 */
  pty: { ttyS0: string; ttyUSB0: string };
  /** what the console printed so far */
  console(): string;
  /** a power cut: qemu SIGKILLed */
  cut(): Promise<void>;
  /** a clean shutdown */
  poweroff(): Promise<void>;
}

/** the cached image setup-board.sh made (it prints its folder) */
export function boardImage(): string {
  const r = spawnSync('bash', [join(ROOT, 'test', 'board', 'setup-board.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const dir = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !existsSync(join(dir, 'ready'))) throw new Error(`test/board/setup-board.sh failed (exit ${r.status})`);
  return dir;
}

/** a copy-on-write disk over the image: what one board writes, kept across its boots (and cuts) */
export function newDisk(image: string, file: string): string {
  const r = spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', join(image, 'base.img'), file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`qemu-img create: ${r.stderr}`);
  return file;
}

/**
 * A line protocol over a unix socket qemu serves. With `keyed`, an answer names the request it
 * answers by its first word (the exec agent's ids), so one that comes after its request gave up (a
 * board still booting) is dropped rather than taken as the next one's; else answers come in order.
 */
class LineChannel {
  private buf = '';
  private readonly waiting = new Map<string, (line: string) => void>();
  private readonly fifo: ((line: string) => void)[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private constructor(
    private readonly socket: Socket,
    private readonly keyed: boolean,
  ) {
    socket.on('data', (d: Buffer) => {
      this.buf += d.toString('utf8');
      for (let i = this.buf.indexOf('\n'); i >= 0; i = this.buf.indexOf('\n')) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        if (!keyed) this.fifo.shift()?.(line);
        else this.waiting.get(line.split(' ')[0] ?? '')?.(line);
      }
    });
    socket.on('error', () => undefined);
  }

  static async open(path: string, keyed = false): Promise<LineChannel> {
    for (let i = 0; i < 200 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 50));
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(path, () => resolve(s));
      s.once('error', reject);
    });
    return new LineChannel(socket, keyed);
  }

  /** sends `line` (whose first word is its key, when keyed) and resolves with its answer; one request at a time */
  ask(line: string, timeoutMs: number): Promise<string> {
    const key = line.split(' ')[0] ?? '';
    const p = this.queue.then(
      () =>
        new Promise<string>((resolve, reject) => {
          const forget = (): void => {
            if (this.keyed) this.waiting.delete(key);
            else this.fifo.splice(this.fifo.indexOf(done), 1);
          };
          const timer = setTimeout(() => {
            forget();
            reject(new Error(`no answer within ${timeoutMs} ms to ${line.slice(0, 100)}`));
          }, timeoutMs);
          const done = (answer: string): void => {
            clearTimeout(timer);
            forget();
            resolve(answer);
          };
          if (this.keyed) this.waiting.set(key, done);
          else this.fifo.push(done);
          this.socket.write(`${line}\n`);
        }),
    );
    this.queue = p.catch(() => undefined);
    return p;
  }

  close(): void {
    this.socket.destroy();
  }
}

export async function bootBoard(opts: { image: string; disk: string; dir: string; memoryMiB?: number }): Promise<Board> {
  const run = join(opts.dir, 'run');
  rmSync(run, { recursive: true, force: true });
  mkdirSync(run, { recursive: true });
  const sock = (n: string): string => join(run, `${n}.sock`);
  const args = [
    '-M', 'virt', '-cpu', 'cortex-a72', '-smp', '2', '-m', String(opts.memoryMiB ?? 1024), '-display', 'none', '-no-reboot',
    '-kernel', join(opts.image, 'boot', 'vmlinuz'), '-initrd', join(opts.image, 'boot', 'initrd.img'),
    // ro: systemd-fsck-root checks the root file system (forced, repairing nothing) before it is remounted rw
    '-append', 'root=/dev/vda ro console=ttyAMA0 panic=-1 quiet systemd.show_status=false fsck.mode=force fsck.repair=no',
    '-drive', `if=none,id=hd0,file=${opts.disk},format=qcow2,cache=writeback`, '-device', 'virtio-blk-pci,drive=hd0',
    '-netdev', 'user,id=n0', '-device', 'virtio-net-pci,netdev=n0,romfile=',
    '-chardev', `socket,id=con,path=${sock('console')},server=on,wait=off,logfile=${join(run, 'console.log')}`, '-serial', 'chardev:con',
    '-monitor', `unix:${sock('monitor')},server=on,wait=off`,
    '-device', 'virtio-serial-pci,id=vser0',
    '-chardev', `socket,id=exec,path=${sock('exec')},server=on,wait=off`, '-device', 'virtserialport,chardev=exec,name=exec',
    '-chardev', `socket,id=gpioctl,path=${sock('gpioctl')},server=on,wait=off`, '-device', 'virtserialport,chardev=gpioctl,name=gpioctl',
    '-chardev', 'pty,id=s_pci', '-device', 'pci-serial,chardev=s_pci',
    '-device', 'qemu-xhci,id=xhci', '-chardev', 'pty,id=s_usb', '-device', 'usb-serial,chardev=s_usb,id=usbser0',
  ];
  const t0 = Date.now();
  const qemu: ChildProcess = spawn('qemu-system-aarch64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  qemu.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  qemu.stdout?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => qemu.once('exit', () => r()));
  let gone = false;
  void exited.then(() => (gone = true));
  for (let i = 0; i < 100 && !/label s_usb/.test(stderr); i++) await new Promise((r) => setTimeout(r, 50));
  const pty = (label: string): string => {
    const m = new RegExp(`char device redirected to (\\S+) \\(label ${label}\\)`).exec(stderr);
    if (!m) throw new Error(`qemu did not say where ${label} is: ${stderr}`);
    return m[1] as string;
  };
  const exec = await LineChannel.open(sock('exec'), true);
  const gpioctl = await LineChannel.open(sock('gpioctl'));
  const monitor = await new Promise<Socket>((resolve, reject) => {
    const s = connect(sock('monitor'), () => resolve(s));
    s.once('error', reject);
  });
  let monitorOut = '';
  monitor.on('data', (d: Buffer) => (monitorOut += d.toString()));
  monitor.on('error', () => undefined);

  let ids = 0;
  const runCmd = async (cmd: string, timeoutS = 120): Promise<{ rc: number; out: string }> => {
    if (gone) throw new Error(`the board is off: ${cmd}`);
    const id = ++ids;
    const answer = await exec.ask(`${id} ${timeoutS} ${Buffer.from(cmd).toString('base64')}`, (timeoutS + 15) * 1000);
    const [, rc, out] = answer.split(' ');
    return { rc: Number(rc), out: Buffer.from(out ?? '', 'base64').toString('utf8') };
  };
  // up once the agent answers (the agent starts early; the rest of the boot goes on)
  const deadline = Date.now() + 300_000;
  for (;;) {
    if (gone) throw new Error(`qemu exited during the boot: ${stderr}\n${readFileSync(join(run, 'console.log'), 'utf8').slice(-3000)}`);
    try {
      if ((await runCmd('echo up', 5)).out.trim() === 'up') break;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`the board did not answer within 300 s:\n${readFileSync(join(run, 'console.log'), 'utf8').slice(-3000)}`);
  }
  const bootSeconds = (Date.now() - t0) / 1000;
  const board: Board = {
    bootSeconds,
    run: runCmd,
    async sh(cmd, timeoutS) {
      const r = await runCmd(cmd, timeoutS);
      if (r.rc !== 0) throw new Error(`on the board: ${cmd}: exit ${r.rc}: ${r.out.slice(-4000)}`);
      return r.out;
    },
    gpio: (cmd) => gpioctl.ask(cmd, 30_000),
    async monitor(cmd) {
      monitorOut = '';
      monitor.write(`${cmd}\n`);
      for (let i = 0; i < 100 && !/\(qemu\) $/.test(monitorOut.replace(/\r/g, '')); i++) await new Promise((r) => setTimeout(r, 50));
      return monitorOut;
    },
    pty: { ttyS0: pty('s_pci'), ttyUSB0: pty('s_usb') },
    console: () => (existsSync(join(run, 'console.log')) ? readFileSync(join(run, 'console.log'), 'utf8') : ''),
    async cut() {
      exec.close();
      gpioctl.close();
      monitor.destroy();
      qemu.kill('SIGKILL');
      await exited;
    },
    async poweroff() {
      void runCmd('systemctl poweroff', 10).catch(() => undefined);
      const t = setTimeout(() => qemu.kill('SIGKILL'), 60_000);
      await exited;
      clearTimeout(t);
      exec.close();
      gpioctl.close();
      monitor.destroy();
    },
  };
  return board;
}
