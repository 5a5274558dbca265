/**
 * The board (test/board): memory as a Pi sees it, and power cuts. Debian 12 arm64 under qemu with
 * Debian's Node 18 and our arm64 packages, joined to a cloudcore on this host:
 *   - edgecore's idle RSS and anonymous memory with the embedded broker and 10 devices with twins,
 *     beside a bare `node` in the same guest;
 *   - `--cuts N` power cuts (default 20) while apps upload and a twin changes, with what each boot
 *     showed (fsck, edgecore, the store, anything moved aside) and what reached the cloud.
 * Needs what test:board needs (npm run test:board once makes the image; the packages in images/out).
 */
import { eventually } from '../test/e2e/cluster.js';
import { DEVICES, MODELS, NODE, installAndJoin, powerCuts, startRig } from '../test/board/rig.js';
import { report, type Row } from './lib/report.js';

const flag = process.argv.indexOf('--cuts');
const CUTS = flag > 0 ? Number(process.argv[flag + 1]) : 20;
const mib = (kib: number): number => kib / 1024;

const rig = await startRig();
const rows: Row[] = [];
try {
  await installAndJoin(rig);
  const api = (method: string, path: string, body?: unknown) => rig.cloud.api.call(method, path, body);
  await api('POST', MODELS, { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'DeviceModel', metadata: { name: 'thermostat' }, spec: { properties: [{ name: 'temperature', type: 'FLOAT', accessMode: 'ReadOnly' }, { name: 'setpoint', type: 'INT', accessMode: 'ReadWrite' }] } });
  for (let i = 0; i < 10; i++) {
    await api('POST', DEVICES, { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'Device', metadata: { name: `room-${i}` }, spec: { deviceModelRef: { name: 'thermostat' }, nodeName: NODE, properties: [{ name: 'setpoint', desired: { value: '21' } }] } });
  }
  await eventually(async () => (await rig.board.run('busybox wget -q -O - http://127.0.0.1:10550/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices')).out.split('"name":"room-').length === 11, 120_000, 'ten devices at the edge');
  await new Promise((r) => setTimeout(r, 60_000)); // idle
  const status = async (pid: string): Promise<{ rss: number; anon: number }> => {
    const s = await rig.board.sh(`cat /proc/${pid}/status`);
    return { rss: Number(/VmRSS:\s+(\d+)/.exec(s)?.[1]), anon: Number(/RssAnon:\s+(\d+)/.exec(s)?.[1]) };
  };
  const edge = await status(await rig.show('MainPID'));
  const barePid = (await rig.board.sh('setsid node -e "setInterval(() => {}, 1000)" >/dev/null 2>&1 < /dev/null & echo $!')).trim();
  await new Promise((r) => setTimeout(r, 10_000));
  const bare = await status(barePid);
  await rig.board.sh(`kill ${barePid}`);
  rows.push({ metric: `board: edgecore idle RSS, embedded broker, 10 devices (arm64, Debian's Node ${(await rig.board.sh('node --version')).trim()})`, ours: mib(edge.rss), peer: mib(bare.rss), peerName: 'bare node, same guest', ratio: edge.rss / bare.rss, unit: 'MiB', target: 'ratio ≤ 1.35', met: edge.rss / bare.rss <= 1.35 });
  rows.push({ metric: 'board:   of which anonymous memory (RssAnon)', ours: mib(edge.anon), peer: mib(bare.anon), peerName: 'bare node, same guest', ratio: edge.anon / bare.anon, unit: 'MiB', target: '≤ 12 MiB', met: edge.anon <= 12 * 1024 });
  rows.push({ metric: 'board: boot to the first answered command', ours: rig.board.bootSeconds, unit: 's' });

  const cuts = await powerCuts(rig, CUTS, (c) => console.log(`cut ${c.boot} after ${c.afterMs} ms: ${c.acknowledgedUploads} uploads acknowledged so far; booted in ${c.bootSeconds.toFixed(1)} s; fsck ${c.fsck}; edgecore ${c.edgecore}; store ${c.store ? 'open' : 'NOT open'}; moved aside: ${c.movedAside.length ? c.movedAside.join(', ') : 'nothing'}`));
  const clean = cuts.cuts.filter((c) => c.fsck === 'clean' && c.edgecore === 'active' && c.store && c.movedAside.length === 0).length;
  rows.push({ metric: `board: power cuts (qemu SIGKILLed 5–15 s into uploads, twin changes, pin toggles): boots clean (fsck, edgecore, store, nothing moved aside)`, ours: `${clean}/${CUTS}`, unit: 'boots', target: 'all', met: clean === CUTS });
  rows.push({ metric: 'board:   uploads acknowledged to the app / at the cloud', ours: `${cuts.uploads.acknowledged} / ${cuts.uploads.atCloud}`, unit: 'messages' });
  rows.push({ metric: 'board:   acknowledged but missing at the cloud / taken twice', ours: `${cuts.uploads.missing.length} / ${cuts.uploads.takenTwice.length}`, unit: 'messages', target: '0 / 0', met: cuts.uploads.missing.length === 0 && cuts.uploads.takenTwice.length === 0 });
  rows.push({ metric: 'board:   twin: last answered / at the edge / at the cloud', ours: `${cuts.twin.lastAnswered} / ${cuts.twin.atEdge} / ${cuts.twin.atCloud ?? 'none'}`, unit: '', target: 'edge ≥ answered, cloud = edge', met: cuts.twin.atEdge >= cuts.twin.lastAnswered && cuts.twin.atCloud === String(cuts.twin.atEdge) });
  rows.push({ metric: 'board:   boot after a cut, mean', ours: cuts.cuts.reduce((s, c) => s + c.bootSeconds, 0) / Math.max(1, cuts.cuts.length), unit: 's' });
} finally {
  await rig.close();
}
report('board', rows);
