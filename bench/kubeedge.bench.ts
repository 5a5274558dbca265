/**
 * Our edgecore beside KubeEdge's own, against the same real KubeEdge v1.23 cloud (../shared/kubeedge):
 * each joins with the real token, gets the same kind of Device (Modbus properties on a pymodbus
 * slave, read every second) and runs alone for a minute; then its RSS, anonymous memory and CPU
 * (user + system over the minute) are read from /proc. Both run their edged: KubeEdge's on Debian's
 * containerd (containerd's own memory is not counted, as no podman runs for ours), ours with its
 * process runtime. KubeEdge's holds the device's twin without reading it: reading a Modbus slave
 * takes one of KubeEdge's mappers, another process. Ours drives the device itself. Fixed ports: it
 * runs itself inside `unshare --net`, as root.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { realKubeEdge, kubeedgeAvailable, type RealKubeEdge } from '../test/kubeedge/real.js';
import { runBundle, type Proc } from '../test/peers/proc.js';
import { freePort } from '../test/peers/proxy.js';
import { pymodbusSlave } from '../test/peers/serial.js';
import { report, rssKiB, type Row } from './lib/report.js';
import { anonKiB, cpuSeconds } from './lib/usage.js';

const WINDOW_MS = Number(process.env.BENCH_KUBEEDGE_WINDOW_MS ?? 60_000);

if (!process.env.KE_BENCH_NETNS) {
  // fixed loopback ports: run in a private network namespace
  const r = spawnSync('unshare', ['--net', 'sh', '-c', `ip link set lo up && KE_BENCH_NETNS=1 exec "${process.execPath}" --expose-gc "${process.argv[1] as string}"`], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** the process whose command line holds all of `parts` */
function findPid(...parts: string[]): number {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (parts.every((p) => cmd.includes(p))) return Number(d);
    } catch {
      /* gone */
    }
  }
  throw new Error(`no process with ${parts.join(' ')}`);
}

const device = (name: string, node: string, port: number) => `apiVersion: devices.kubeedge.io/v1beta1
kind: DeviceModel
metadata: {name: plc, namespace: default}
spec:
  protocol: modbus
  properties:
  - {name: temperature, type: FLOAT, accessMode: ReadOnly}
  - {name: setpoint, type: INT, accessMode: ReadWrite}
---
apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata: {name: ${name}, namespace: default}
spec:
  deviceModelRef: {name: plc}
  nodeName: ${node}
  protocol:
    protocolName: modbus
    configData: {ip: 127.0.0.1, port: ${port}, slaveID: 1, timeout: 500}
  properties:
  - name: temperature
    collectCycle: 1000
    reportCycle: 1000
    visitors: {protocolName: modbus, configData: {register: InputRegister, offset: 0, dataType: int16, scale: 0.1}}
  - name: setpoint
    collectCycle: 1000
    desired: {value: "25"}
    visitors: {protocolName: modbus, configData: {register: HoldingRegister, offset: 60, dataType: int16}}
`;

async function until(fn: () => boolean, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(500);
  }
}

/** settles, then measures one edgecore for the window: RSS and anonymous memory at the end, CPU over it */
async function measure(pid: number): Promise<{ rss: number; anon: number; cpu: number }> {
  await sleep(15_000);
  const t0 = cpuSeconds(pid);
  const at = Date.now();
  await sleep(WINDOW_MS);
  const cpu = (cpuSeconds(pid) - t0) / ((Date.now() - at) / 1000);
  return { rss: rssKiB(pid), anon: anonKiB(pid), cpu };
}

const ready = (real: RealKubeEdge, node: string) => () => new RegExp(`^${node}\\s+Ready\\s`, 'm').test(real.kubectl(['get', 'nodes']).stdout);

const rows: Row[] = [];
if (!kubeedgeAvailable()) {
  rows.push({ metric: 'edgecore beside KubeEdge edgecore', ours: '../shared/kubeedge not found', unit: '' });
} else {
  const real = realKubeEdge();
  let ours: Proc | undefined;
  const slavePort = await freePort();
  const slave = await pymodbusSlave('tcp', slavePort);
  try {
    const up = real.up('cloud');
    if (up.status !== 0) throw new Error(`the real cloud did not start: ${up.stderr}`);

    // ours: keadm join as against our cloudcore, a Device driven by our Modbus driver
    ours = runBundle('keadm', ['join', '--cloudcore-ipport=127.0.0.1:10000', `--token=${real.token()}`, '--edgenode-name=ours-1', '--config-dir', join(real.dir, 'ours', 'etc'), '--data-dir', join(real.dir, 'ours', 'var'), '--foreground']);
    await ours.waitFor(/edgecore is running/, 60_000);
    await until(ready(real, 'ours-1'), 'ours-1 Ready');
    real.kubectl(['apply', '-f', '-'], device('plc-ours', 'ours-1', slavePort));
    await until(() => {
      const ds = parse(real.kubectl(['get', 'devicestatus', 'plc-ours', '-o', 'yaml']).stdout || 'null');
      return ds?.status?.twins?.some((t: { reported?: { value?: string } }) => t.reported?.value === '21.5') ?? false;
    }, 'the reading in DeviceStatus');
    const oursPid = findPid('edgecore.js', join(real.dir, 'ours'));
    const o = await measure(oursPid);
    await ours.kill('SIGTERM');
    ours = undefined;

    // KubeEdge's: up.sh edge, edged on containerd; the same kind of Device bound to it
    const edge = real.up('edge', { NODE: 'ke-1' });
    if (edge.status !== 0) throw new Error(`KubeEdge's edgecore did not start: ${edge.stderr}`);
    real.kubectl(['apply', '-f', '-'], device('plc-ke', 'ke-1', slavePort));
    // its DeviceTwin has the device: ask its broker for the node's membership, as an app would
    await until(() => spawnSync('bash', ['-c', `mosquitto_sub -p 1884 -t '$hw/events/node/ke-1/membership/get/result' -C 1 -W 3 & sleep 0.5; mosquitto_pub -p 1884 -t '$hw/events/node/ke-1/membership/get' -m '{"event_id":"b1"}'; wait`], { encoding: 'utf8' }).stdout.includes('plc-ke'), 'the device at the KubeEdge edge');
    const kePid = Number(readFileSync(join(real.dir, 'edge', 'edgecore.pid'), 'utf8'));
    const k = await measure(kePid);

    const peerName = 'KubeEdge v1.23 edgecore (edged on containerd, no mapper)';
    rows.push({ metric: 'edgecore RSS on a real KubeEdge cloud, 1 Modbus device', ours: o.rss / 1024, peer: k.rss / 1024, peerName, ratio: o.rss / k.rss, unit: 'MiB' });
    rows.push({ metric: 'edgecore anonymous memory (RssAnon)', ours: o.anon / 1024, peer: k.anon / 1024, peerName, ratio: o.anon / k.anon, unit: 'MiB' });
    rows.push({ metric: `edgecore CPU over ${Math.round(WINDOW_MS / 1000)} s (user + system)`, ours: o.cpu * 100, peer: k.cpu * 100, peerName, ratio: o.cpu / k.cpu, unit: '% of a core' });
  } finally {
    await ours?.kill('SIGKILL');
    await slave.stop();
    real.down();
  }
}
report('kubeedge', rows);
process.exit(0);
