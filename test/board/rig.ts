/**
 * What the board tests and the board bench share: a board (vm.ts) beside a cloudcore on this host,
 * our arm64 packages served to it as a local mirror would, installed with dpkg and joined at first
 * boot; and power cuts while apps upload and a twin changes, with what each boot must show.
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { ROOT } from '../peers/proc.js';
import { eventually, makeCluster, readyOf, statusTwin, type Cluster } from '../e2e/cluster.js';
import { boardImage, bootBoard, newDisk, type Board } from './vm.js';

export const NODE = 'pi-board';
export const DEVICES = '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices';
export const MODELS = '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devicemodels';
const VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
const OUT = join(ROOT, 'images', 'out');
export const DEBS = [`kubeedge-lite-keadm_${VERSION}_all.deb`, `kubeedge-lite-edge_${VERSION}_arm64.deb`];

export interface Rig {
  dir: string;
  board: Board;
  cloud: Cluster;
  /** where the board downloads our packages from (this host, as 10.0.2.2) */
  mirror: string;
  /** the board's edgecore unit: a property (`systemctl show`) */
  show(prop: string): Promise<string>;
  /** a figure from edgecore's /metrics on the board */
  metric(name: string): Promise<number>;
  /** the board booted again from the same disk (after a cut) */
  reboot(): Promise<Board>;
  close(): Promise<void>;
}

export async function startRig(): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'ke-board-'));
  const image = boardImage();
  for (const d of DEBS) readFileSync(join(OUT, d)); // built by npm run images (test:board runs it)
  const disk = newDisk(image, join(dir, 'disk.qcow2'));
  // the packages, served to the board as a local mirror would (busybox wget there)
  const files: Server = createServer((req, res) => {
    const name = basename(req.url ?? '');
    if (!DEBS.includes(name)) return void res.writeHead(404).end();
    res.writeHead(200).end(readFileSync(join(OUT, name)));
  });
  await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
  const mirror = `http://10.0.2.2:${(files.address() as { port: number }).port}`;
  // the cloud on this host: its certificate covers 10.0.2.2; uploads logged (debug), so they can be counted
  const cloud = await makeCluster({ keepaliveInterval: 30, sans: ['10.0.2.2'] });
  await cloud.startCloud({}, { KUBEEDGE_LOG_LEVEL: 'debug' });
  const rig: Rig = {
    dir,
    board: await bootBoard({ image, disk, dir }),
    cloud,
    mirror,
    show: async (prop) => (await rig.board.sh(`systemctl show -p ${prop} --value edgecore`)).trim(),
    async metric(name) {
      const text = await rig.board.sh('busybox wget -q -O - http://127.0.0.1:10550/metrics');
      const line = text.split('\n').find((l) => l.startsWith(name));
      return line ? Number(line.split(' ').pop()) : 0;
    },
    async reboot() {
      rig.board = await bootBoard({ image, disk, dir });
      return rig.board;
    },
    async close() {
      await rig.board.poweroff().catch(() => undefined);
      files.close();
      await cloud.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return rig;
}

/** dpkg -i of our packages, as on a Pi, then a join at first boot from the boot partition's file */
export async function installAndJoin(rig: Rig): Promise<string> {
  const { board, cloud } = rig;
  for (const d of DEBS) await board.sh(`busybox wget -q -O /tmp/${d} ${rig.mirror}/${d}`);
  const out = await board.sh(`dpkg -i ${DEBS.map((d) => `/tmp/${d}`).join(' ')} 2>&1`, 300);
  await eventually(async () => (await rig.show('ActiveState')) === 'active', 120_000, 'edgecore active');
  await board.sh(`mkdir -p /boot/firmware && printf 'cloudcore: 10.0.2.2:${cloud.hubPort}\\ncertPort: ${cloud.certPort}\\ntoken: ${cloud.token()}\\nlabels: {site: board}\\n' > /boot/firmware/kubeedge.yaml`);
  await eventually(async () => readyOf((await cloud.api.call('GET', `/api/v1/nodes/${NODE}`)).body) === 'True', 180_000, 'the board Ready');
  return out;
}

export interface CutReport {
  cuts: { boot: number; afterMs: number; acknowledgedUploads: number; bootSeconds: number; fsck: string; edgecore: string; store: boolean; movedAside: string[] }[];
  uploads: { acknowledged: number; atCloud: number; missing: string[]; takenTwice: string[] };
  twin: { lastAnswered: number; atEdge: number; atCloud: string | undefined };
}

/**
 * `n` power cuts: each boot, apps upload QoS 1 and change a twin (test/board/apps.cjs, logging what
 * was acknowledged) while the host toggles a pin; qemu is SIGKILLed after 5–15 s and the board booted
 * again. Reports what each boot showed and, at the end, what reached the cloud.
 */
export async function powerCuts(rig: Rig, n: number, onCut?: (c: CutReport['cuts'][number]) => void): Promise<CutReport> {
  const api = (method: string, path: string, body?: unknown) => rig.cloud.api.call(method, path, body);
  await api('POST', MODELS, { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'DeviceModel', metadata: { name: 'meter' }, spec: { properties: [{ name: 'counter', type: 'INT', accessMode: 'ReadWrite' }] } });
  await api('POST', DEVICES, { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'Device', metadata: { name: 'meter' }, spec: { deviceModelRef: { name: 'meter' }, nodeName: NODE, properties: [{ name: 'counter' }] } });
  await eventually(async () => (await rig.board.run('busybox wget -q -O - http://127.0.0.1:10550/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices/meter')).rc === 0, 60_000, 'the meter at the edge');
  await rig.board.sh('mkdir -p /var/lib/board-test');
  // synced: a file written just before a power cut is empty after it (as ext4 delays allocation)
  await rig.board.sh(`printf %s '${readFileSync(join(ROOT, 'test', 'board', 'apps.cjs')).toString('base64')}' | base64 -d > /var/lib/board-test/apps.cjs && sync`);
  const cuts: CutReport['cuts'] = [];
  for (let boot = 1; boot <= n; boot++) {
    await rig.board.sh(`cd /var/lib/board-test && for m in uploads twin; do setsid node apps.cjs $m ${boot} $m.log >> apps.err 2>&1 < /dev/null & done`);
    const pin = setInterval(() => void rig.board.gpio(`pull 3 ${Math.random() < 0.5 ? 'up' : 'down'}`).catch(() => undefined), 300);
    const wait = 5000 + Math.floor(Math.random() * 10_000);
    await new Promise((r) => setTimeout(r, wait));
    clearInterval(pin);
    const acked = Number((await rig.board.run('cat /var/lib/board-test/uploads.log 2>/dev/null | wc -l')).out.trim());
    await rig.board.cut();
    const board = await rig.reboot();
    // the root file system, checked at boot before it was mounted rw (forced, repairing nothing)
    const fsck = await board.sh('systemctl show -p Result --value systemd-fsck-root; journalctl -b -u systemd-fsck-root -o cat --no-pager');
    const fsckClean = fsck.split('\n')[0] === 'success' && !/UNEXPECTED INCONSISTENCY|Errors were found/i.test(fsck);
    let edgecore = 'inactive';
    await eventually(async () => (edgecore = await rig.show('ActiveState')) === 'active', 180_000, `edgecore active after cut ${boot}`).catch(() => undefined);
    const store = await eventually(async () => (await board.run('busybox wget -q -O - http://127.0.0.1:10550/readyz')).out.includes('[+]store ok'), 120_000, 'the store open').catch(() => false);
    const movedAside = (await board.sh('ls /var/lib/kubeedge')).split('\n').filter((f) => /corrupt/.test(f));
    const cut = { boot, afterMs: wait, acknowledgedUploads: acked, bootSeconds: board.bootSeconds, fsck: fsckClean ? 'clean' : fsck.slice(0, 500), edgecore, store: store === true, movedAside };
    cuts.push(cut);
    onCut?.(cut);
  }
  // the cloud has every upload that was acknowledged, once
  await eventually(async () => (await rig.metric('edgecore_outbox_messages')) === 0 && (await rig.metric('edgecore_link_up')) === 1, 300_000, 'the outbox drained');
  const taken = new Map<string, number>();
  for (const l of rig.cloud.cloud?.lines ?? []) {
    const m = /upload \S+ from pi-board on \$hw\/events\/upload\/cut: (\{.*\})$/.exec(l);
    if (!m) continue;
    const u = JSON.parse(m[1] as string) as { boot: number; seq: number };
    const k = `${u.boot}/${u.seq}`;
    taken.set(k, (taken.get(k) ?? 0) + 1);
  }
  const acknowledged = (await rig.board.sh('cat /var/lib/board-test/uploads.log')).trim().split('\n').filter(Boolean).map((l) => l.replace(' ', '/'));
  // every answered twin change is kept: the twin is at least the last answered value, and the cloud follows
  const lastAnswered = Number((await rig.board.sh('tail -n 1 /var/lib/board-test/twin.log')).trim());
  const atEdge = await eventually(async () => {
    const r = await rig.board.run('cd /var/lib/board-test && node apps.cjs get 2>&1', 60);
    const v = r.out.trim().split('\n').pop() ?? '';
    if (r.rc !== 0 || !/^\d+$/.test(v)) throw new Error(`twin/get: exit ${r.rc}: ${r.out}`);
    return v;
  }, 120_000, 'the twin as edgecore has it');
  const atCloud = await eventually(async () => {
    const v = (await statusTwin(rig.cloud, 'meter', 'counter'))?.reported?.value as string | undefined;
    return v === atEdge ? v : undefined;
  }, 120_000, 'the cloud has the edge\'s counter').catch(async () => (await statusTwin(rig.cloud, 'meter', 'counter'))?.reported?.value as string | undefined);
  return {
    cuts,
    uploads: { acknowledged: acknowledged.length, atCloud: taken.size, missing: acknowledged.filter((k) => !taken.has(k)), takenTwice: [...taken].filter(([, c]) => c > 1).map(([k]) => k) },
    twin: { lastAnswered, atEdge: Number(atEdge), atCloud },
  };
}
