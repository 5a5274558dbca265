/**
 * The packaged edge on a real arm64 kernel (npm run test:board): Debian 12 arm64 booted under
 * qemu-system-aarch64 (test/board/vm.ts), with the kernel's own GPIO (its simulator, driven by the
 * host), serial lines to host ptys (a PCI 16550 and an FTDI USB adapter), systemd, Debian's Node 18,
 * and power cuts. Our arm64 packages are installed there with dpkg, as on a Pi, and the board joins
 * a cloudcore on the host (reached as 10.0.2.2) from its boot partition's file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, readyOf, statusTwin, type Cluster } from '../e2e/cluster.js';
import { pymodbusSlave } from '../peers/serial.js';
import { kubectl, kubectlInTerminal } from '../peers/kubectl.js';
import { DEVICES, MODELS, NODE, installAndJoin, powerCuts, startRig, type Rig } from './rig.js';
import type { Board } from './vm.js';

const CUTS = Number(process.env.BOARD_CUTS ?? 3);

/** what the board tests measured, for the closing note */
const figures: Record<string, unknown> = {};

describe('the board: the packaged edge on arm64 Debian 12 under qemu, with real GPIO, UARTs, systemd and power cuts', () => {
  let rig: Rig;
  let board: Board;
  let c: Cluster;
  const api = (method: string, path: string, body?: unknown) => c.api.call(method, path, body);
  const show = (prop: string): Promise<string> => rig.show(prop);
  const journal = async (): Promise<string> => board.sh('journalctl -u edgecore -o cat --no-pager');
  const reported = async (device: string, prop: string): Promise<string | undefined> => (await statusTwin(c, device, prop))?.reported?.value;
  const condition = async (device: string): Promise<any> => (await api('GET', `${DEVICES}/${device}`)).body?.status?.conditions?.find((x: any) => x.type === 'Ready');

  beforeAll(async () => {
    rig = await startRig();
    board = rig.board;
    c = rig.cloud;
    figures.bootSeconds = board.bootSeconds;
  }, 900_000);
  afterAll(async () => {
    console.log(`board figures: ${JSON.stringify(figures)}`);
    await rig?.close();
  });

  it('installs our arm64 packages with dpkg; edgecore runs under its unit on Debian\'s Node 18, its add-ons load; it joins the cloud on the host (10.0.2.2) at first boot', async () => {
    expect(await board.sh('uname -m; node --version')).toMatch(/^aarch64\nv18\./);
    const out = await installAndJoin(rig);
    expect(out).toMatch(/Setting up kubeedge-lite-edge/);
    expect(await show('Type')).toBe('notify');
    expect(await show('WatchdogUSec')).toBe('30s');
    expect(Number(await show('MemoryMax'))).toBe(192 * 1024 * 1024);
    const lib = '/usr/lib/kubeedge-lite/node_modules';
    expect((await board.sh(`cd /tmp && node -e "const { Epoll } = require('${lib}/epoll'); require('${lib}/onoff'); require('${lib}/serialport'); console.log(typeof Epoll)"`)).trim()).toBe('function');
    const warnings = await board.sh('journalctl -u edgecore -p warning -o cat --no-pager _COMM=node');
    expect(warnings).not.toMatch(/edgecore is running/);
    expect(await journal()).toMatch(/edgecore is running as node pi-board \(standalone/);
    // and the join at first boot: the token leaves the boot partition's file
    expect(await board.sh('cat /boot/firmware/kubeedge.yaml')).not.toContain(c.token());
    const node = (await api('GET', `/api/v1/nodes/${NODE}`)).body;
    expect(readyOf(node)).toBe('True');
    expect(node.metadata.labels).toMatchObject({ site: 'board', 'kubernetes.io/arch': 'arm64' });
  }, 600_000);

  it('GPIO on the kernel\'s own sysfs: an input flipped by the host reaches the cloud on interrupts; an output follows its desired value; debounce holds a burst; a held pin is named', async () => {
    expect((await api('POST', MODELS, { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'DeviceModel', metadata: { name: 'panel' }, spec: { properties: [{ name: 'button', type: 'INT', accessMode: 'ReadOnly' }, { name: 'relay', type: 'INT', accessMode: 'ReadWrite' }] } })).status).toBe(201);
    const panel = (name: string, button: number, relay: number, desired?: string) => ({
      apiVersion: 'devices.kubeedge.io/v1beta1',
      kind: 'Device',
      metadata: { name },
      spec: {
        deviceModelRef: { name: 'panel' },
        nodeName: NODE,
        protocol: { protocolName: 'gpio', configData: { chip: 'edge-sim' } },
        properties: [
          { name: 'button', collectCycle: 60_000, visitors: { protocolName: 'gpio', configData: { pin: button, direction: 'in', edge: 'both', debounceMs: 100 } } },
          { name: 'relay', collectCycle: 1000, ...(desired ? { desired: { value: desired } } : {}), visitors: { protocolName: 'gpio', configData: { pin: relay, direction: 'out' } } },
        ],
      },
    });
    await board.gpio('pull 3 down');
    expect((await api('POST', DEVICES, panel('panel-1', 3, 5, '0'))).status).toBe(201);
    await eventually(async () => (await reported('panel-1', 'button')) === '0', 120_000, 'the button read');
    // flipped by the host: reported on the interrupt (collectCycle is a minute: no read would see it)
    const t0 = Date.now();
    expect(await board.gpio('pull 3 up')).toBe('ok');
    await eventually(async () => (await reported('panel-1', 'button')) === '1', 30_000, 'the flip in the cloud');
    figures.gpioFlipToCloudMs = Date.now() - t0;
    const j = await journal();
    expect(j).toMatch(/default\/panel-1: GPIO on gpiochip\d+ \(edge-sim, base \d+\)/);
    expect(j).not.toMatch(/sampling/);
    // contact bounce: 20 quick up/down pairs ending down make one change, not forty
    const before = await rig.metric('edgecore_twin_updates_total{source="edge"}');
    expect(await board.gpio('burst 3 20')).toBe('ok');
    await eventually(async () => (await reported('panel-1', 'button')) === '0', 30_000, 'the burst settled to 0');
    await new Promise((r) => setTimeout(r, 1000));
    expect((await rig.metric('edgecore_twin_updates_total{source="edge"}')) - before).toBe(1);
    // the output follows its desired value: the host reads the line
    for (const v of ['1', '0', '1']) {
      const dev = (await api('GET', `${DEVICES}/panel-1`)).body;
      dev.spec.properties[1].desired = { value: v };
      expect((await api('PUT', `${DEVICES}/panel-1`, dev)).status).toBe(200);
      await eventually(async () => (await board.gpio('get 5')) === v, 30_000, `line 5 driven to ${v}`);
    }
    // a line another program holds (libgpiod, through the character device) is named in the device's condition
    const chip = (await board.sh("gpiodetect | awk '/\\[edge-sim\\]/ {print $1}'")).trim();
    await board.sh(`setsid gpioset --mode=signal ${chip} 6=1 >/dev/null 2>&1 < /dev/null &`);
    expect((await api('POST', DEVICES, panel('panel-held', 6, 7))).status).toBe(201);
    const held = await eventually(async () => {
      const cnd = await condition('panel-held');
      return cnd?.reason === 'DeviceUnreachable' ? cnd : undefined;
    }, 60_000, 'the held pin in the condition');
    expect(held.message).toMatch(/held by another user of the line/);
    await board.sh('pkill gpioset || true');
  }, 300_000);

  it('UARTs: Modbus RTU through the USB adapter, read and written, unplugged and plugged back; a serial-line sensor on ttyS0', async () => {
    const slave = await pymodbusSlave('rtu', board.pty.ttyUSB0, 9600);
    let sensor: ChildProcess | undefined;
    try {
      // the FTDI adapter enumerates once its host end is open
      await eventually(async () => (await board.run('test -c /dev/ttyUSB0')).rc === 0, 60_000, '/dev/ttyUSB0 on the board');
      expect((await api('POST', MODELS, { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'DeviceModel', metadata: { name: 'rtu' }, spec: { properties: [{ name: 'temperature', type: 'FLOAT', accessMode: 'ReadOnly' }, { name: 'setpoint', type: 'INT', accessMode: 'ReadWrite' }] } })).status).toBe(201);
      const rtu = {
        apiVersion: 'devices.kubeedge.io/v1beta1',
        kind: 'Device',
        metadata: { name: 'rtu-1' },
        spec: {
          deviceModelRef: { name: 'rtu' },
          nodeName: NODE,
          protocol: { protocolName: 'modbus', configData: { serialPort: '/dev/ttyUSB0', baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1, slaveID: 1, timeout: 1000 } },
          properties: [
            { name: 'temperature', collectCycle: 1000, visitors: { protocolName: 'modbus', configData: { register: 'InputRegister', offset: 0, dataType: 'int16', scale: 0.1 } } },
            { name: 'setpoint', collectCycle: 1000, desired: { value: '230' }, visitors: { protocolName: 'modbus', configData: { register: 'HoldingRegister', offset: 60, dataType: 'int16' } } },
          ],
        },
      };
      expect((await api('POST', DEVICES, rtu)).status).toBe(201);
      await eventually(async () => (await reported('rtu-1', 'temperature')) === '21.5', 90_000, 'the RTU register read');
      // written, then read back from the slave
      await eventually(async () => (await reported('rtu-1', 'setpoint')) === '230', 60_000, 'the setpoint written and read back');
      const pid = await show('MainPID');
      // the adapter pulled out and plugged back in
      await board.monitor('device_del usbser0');
      await eventually(async () => (await board.run('test -e /dev/ttyUSB0')).rc !== 0, 30_000, 'ttyUSB0 gone');
      await eventually(async () => (await api('GET', `${DEVICES}/rtu-1`)).body?.status?.state === 'offline', 60_000, 'rtu-1 offline');
      expect((await condition('rtu-1'))?.reason).toBe('DeviceUnreachable');
      await board.monitor('device_add usb-serial,chardev=s_usb,id=usbser0,bus=xhci.0');
      await eventually(async () => (await api('GET', `${DEVICES}/rtu-1`)).body?.status?.state === 'online', 90_000, 'rtu-1 online again');
      await eventually(async () => (await condition('rtu-1'))?.status === 'True', 60_000, 'rtu-1 Ready again');
      expect(await show('MainPID')).toBe(pid); // no restart
      // a serial sensor on the PCI UART: it answers READ with T=<value>
      sensor = spawn('python3', ['-c', `
import os, termios, tty, time
fd = os.open(${JSON.stringify(board.pty.ttyS0)}, os.O_RDWR | os.O_NOCTTY)
tty.setraw(fd)
buf = b''
while True:
    buf += os.read(fd, 64)
    while b'\\n' in buf:
        line, buf = buf.split(b'\\n', 1)
        if line.strip() == b'READ':
            os.write(fd, b'T=23.4\\n')
`], { stdio: 'ignore' });
      expect((await api('POST', MODELS, { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'DeviceModel', metadata: { name: 'probe' }, spec: { properties: [{ name: 'temperature', type: 'FLOAT', accessMode: 'ReadOnly' }] } })).status).toBe(201);
      expect((await api('POST', DEVICES, {
        apiVersion: 'devices.kubeedge.io/v1beta1',
        kind: 'Device',
        metadata: { name: 'probe-1' },
        spec: {
          deviceModelRef: { name: 'probe' },
          nodeName: NODE,
          protocol: { protocolName: 'serial', configData: { serialPort: '/dev/ttyS0', baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1, timeout: 1000 } },
          properties: [{ name: 'temperature', collectCycle: 1000, visitors: { protocolName: 'serial', configData: { command: 'READ\n', pattern: 'T=([0-9.]+)', dataType: 'float' } } }],
        },
      })).status).toBe(201);
      await eventually(async () => (await reported('probe-1', 'temperature')) === '23.4', 60_000, 'the serial sensor read');
    } finally {
      sensor?.kill('SIGKILL');
      await slave.stop();
      for (const d of ['rtu-1', 'probe-1']) await api('DELETE', `${DEVICES}/${d}`);
    }
  }, 420_000);

  it('the watchdog restarts a SIGSTOPped edgecore', async () => {
    await board.sh('mkdir -p /etc/systemd/system/edgecore.service.d && printf "[Service]\\nWatchdogSec=6\\n" > /etc/systemd/system/edgecore.service.d/test.conf && systemctl daemon-reload && systemctl restart edgecore');
    await eventually(async () => (await show('ActiveState')) === 'active', 120_000, 'active');
    const frozen = await show('MainPID');
    await board.sh(`kill -STOP ${frozen}`);
    await eventually(async () => /Watchdog timeout \(limit 6s\)!/.test(await board.sh('journalctl -u edgecore -o cat --no-pager')), 60_000, 'the watchdog fired');
    await eventually(async () => (await show('ActiveState')) === 'active' && (await show('MainPID')) !== frozen, 120_000, 'restarted');
    await board.sh('rm -r /etc/systemd/system/edgecore.service.d && systemctl daemon-reload');
    await eventually(async () => readyOf((await api('GET', `/api/v1/nodes/${NODE}`)).body) === 'True', 120_000, 'Ready again');
  }, 300_000);

  it('runs a process pod under the unit: a ConfigMap at /cfg, a memory limit in cgroup v2, through a restart of edgecore; kubectl exec and top reach it', async () => {
    expect((await api('POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'board-config' }, data: { greeting: 'hello-board' } })).status).toBe(201);
    expect((await api('POST', '/api/v1/namespaces/default/pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'logger' },
      spec: {
        runtimeClassName: 'process',
        nodeName: NODE,
        containers: [{ name: 'app', image: 'process', command: ['/bin/sh', '-c', 'while true; do echo "cfg=$(cat /cfg/greeting)"; sleep 2; done'], volumeMounts: [{ name: 'config', mountPath: '/cfg' }], resources: { limits: { memory: '24Mi' } } }],
        volumes: [{ name: 'config', configMap: { name: 'board-config' } }],
      },
    })).status).toBe(201);
    await eventually(async () => String((await api('GET', '/api/v1/namespaces/default/pods/logger/log')).body).includes('cfg=hello-board'), 120_000, 'the pod reads its volume');
    const uid = (await api('GET', '/api/v1/namespaces/default/pods/logger')).body.metadata.uid as string;
    expect((await board.sh(`cat /sys/fs/cgroup/kubeedge/${uid}_app_0/memory.max`)).trim()).toBe(String(24 * 1024 * 1024));
    expect((await board.sh('test -e /cfg && echo there || echo absent')).trim()).toBe('absent');
    const shim = JSON.parse(await board.sh(`cat /var/lib/kubeedge/edged/pods/${uid}/containers/app/0/state.json`)).pid as number;
    expect(await board.sh(`cat /proc/${shim}/cgroup`)).toMatch(/^0::\/kubeedge\//m);
    const before = await show('MainPID');
    await board.sh('systemctl restart edgecore');
    await eventually(async () => (await show('ActiveState')) === 'active' && (await show('MainPID')) !== before, 120_000, 'edgecore restarted');
    expect((await board.sh(`kill -0 ${shim} && echo alive`)).trim()).toBe('alive');
    await eventually(async () => /found its containers running; adopting them/.test(await journal()), 120_000, 'the pod adopted');
    // kubectl exec, a terminal, and top, from this host into the adopted pod on the board
    const kubeconfig = rig.cloud.kubeconfig();
    const exec = kubectl(kubeconfig, ['exec', 'logger', '--', 'cat', '/cfg/greeting']);
    expect(exec.status, exec.stderr).toBe(0);
    expect(exec.stdout).toBe('hello-board');
    const tty = await kubectlInTerminal(kubeconfig, ['exec', '-it', 'logger', '--', 'sh'], ['echo answer-$((6*7)) on $(uname -m)', 'exit'], 60_000);
    expect(tty.output).toContain('answer-42 on aarch64');
    const top = await eventually(async () => {
      const r = kubectl(kubeconfig, ['top', 'pod', 'logger']);
      return /^logger\s+\d+m\s+\d+Mi\s*$/m.test(r.stdout) ? r.stdout : undefined;
    }, 60_000, 'kubectl top pod logger');
    expect(top).toMatch(/^NAME\s+CPU\(cores\)\s+MEMORY\(bytes\)/);
    expect((await api('DELETE', '/api/v1/namespaces/default/pods/logger')).status).toBe(200);
    await eventually(async () => (await board.run(`kill -0 ${shim}`)).rc !== 0, 120_000, 'the pod gone');
  }, 420_000);

  it(`${CUTS} power cuts while apps upload, a twin changes and a pin toggles: after each boot the file system is clean, edgecore and its store start, nothing is moved aside; every acknowledged upload reaches the cloud once, every answered twin change is kept`, async () => {
    const report = await powerCuts(rig, CUTS);
    board = rig.board;
    figures.cuts = report.cuts;
    figures.uploads = { ...report.uploads, missing: report.uploads.missing.length, takenTwice: report.uploads.takenTwice.length };
    figures.twin = report.twin;
    for (const cut of report.cuts) expect(cut).toMatchObject({ fsck: 'clean', edgecore: 'active', store: true, movedAside: [] });
    expect(report.uploads.acknowledged).toBeGreaterThan(CUTS * 5);
    expect(report.uploads.missing).toEqual([]);
    expect(report.uploads.takenTwice).toEqual([]);
    expect(report.twin.atEdge).toBeGreaterThanOrEqual(report.twin.lastAnswered);
    expect(report.twin.atCloud).toBe(String(report.twin.atEdge));
  }, 60 * 60_000);
});
