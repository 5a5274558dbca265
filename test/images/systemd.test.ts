/**
 * The packages on a Debian 12 with systemd as PID 1: a podman container (runc, cgroupfs) of the
 * clean root test/images/setup-root.sh made, sharing this test's network namespace with a cloudcore
 * run here. apt-get installs the packages from their files (no network); edgecore runs standalone
 * under systemd as Type=notify; a /boot/firmware/kubeedge.yaml joins it (the path unit sees the file);
 * a process pod runs under the packaged unit and outlives a restart of it; the watchdog kills and
 * restarts a frozen edgecore; an upgrade keeps its twins and outbox, and a rollback works. Runs inside `unshare --net` (npm run test:images): edgecore's ports are fixed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runProcess } from '../peers/proc.js';
import { bootMachine, type Machine } from './machine.js';
import { makeCluster, eventually, readyOf, thermostat, thermostatModel, statusTwin, type Cluster } from '../e2e/cluster.js';
import { kubectl, kubectlInTerminal } from '../peers/kubectl.js';

const VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
const NEXT = `${VERSION.replace(/\d+$/, (n) => String(Number(n) + 1))}`;
const NODE = 'pi-container';
const NEXT_OUT = join(ROOT, 'images', 'out', 'next');
const DEBS = (dir: string, v: string) => ['kubeedge-lite-keadm', 'kubeedge-lite-cloud', 'kubeedge-lite-edge'].map((n) => join(dir, `${n}_${v}_${n.endsWith('edge') ? 'amd64' : 'all'}.deb`));

describe('the packages under systemd (podman, systemd as PID 1)', () => {
  let c: Cluster;
  let m: Machine;
  const dir = mkdtempSync(join(tmpdir(), 'ke-systemd-'));
  const sh = (cmd: string): string => m.sh(cmd);
  const show = (prop: string): string => m.show('edgecore.service', prop);
  const until = (fn: () => Promise<boolean>, ms: number, what: string): Promise<void> => m.until(fn, ms, what);
  const install = (debs: string[], extra = ''): string => {
    for (const d of debs) m.copyIn(d, '/tmp/');
    return sh(`DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${extra} ${debs.map((d) => `/tmp/${d.split('/').pop()}`).join(' ')} 2>&1`);
  };
  const metric = async (m: string): Promise<number | undefined> => {
    const text = await (await fetch('http://127.0.0.1:10550/metrics')).text();
    const line = text.split('\n').find((l) => l.startsWith(`${m} `));
    return line === undefined ? undefined : Number(line.split(' ')[1]);
  };

  beforeAll(async () => {
    if (!existsSync(join(ROOT, '.tmp', 'debian-root', 'usr', 'bin', 'node'))) throw new Error('run test/images/setup-root.sh first (npm run test:images does)');
    if (!existsSync(DEBS(NEXT_OUT, NEXT)[2] as string)) throw new Error('run test/images/setup.sh first (npm run test:images does): it builds version N+1 for the upgrade');
    // a copy of the clean root for this run (cp -a: it has device nodes)
    expect(spawnSync('cp', ['-a', join(ROOT, '.tmp', 'debian-root'), join(dir, 'root')]).status).toBe(0);
    m = await bootMachine(dir, join(dir, 'root'), { hostname: NODE });
    // the default (two of the edge's default 15 s heartbeats): the packaged edge keeps its defaults
    c = await makeCluster({ keepaliveInterval: 30 });
    await c.startCloud();
  }, 240_000);
  afterAll(async () => {
    m?.remove();
    await c?.stop();
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  });

  it('installs from the files with apt-get (no network): edgecore runs standalone on Debian\'s Node, as Type=notify under a watchdog and a memory ceiling', () => {
    const out = install(DEBS(join(ROOT, 'images', 'out'), VERSION));
    expect(out).toMatch(/Setting up kubeedge-lite-edge/);
    expect(sh('node --version')).toMatch(/^v18\./);
    expect(show('ActiveState')).toBe('active');
    // Type=notify: systemd took READY=1 (else the unit would still be activating)
    expect(show('Type')).toBe('notify');
    expect(show('WatchdogUSec')).toBe('30s');
    expect(Number(show('MemoryMax'))).toBe(192 * 1024 * 1024);
    // the three bundles, built for node18 (the packages' floor), start on it
    expect(sh('edgecore --version')).toMatch(/^edgecore version: v/);
    expect(sh('cloudcore --version')).toMatch(/^cloudcore version: v/);
    expect(sh('keadm version')).toMatch(/^keadm version: v/);
    // the add-ons load on Debian's Node 18 (epoll is ours, on Node-API: npm's, built for Node 20, was refused)
    const lib = '/usr/lib/kubeedge-lite/node_modules';
    expect(sh(`cd /tmp && node -e "const { Epoll } = require('${lib}/epoll'); require('${lib}/onoff'); require('${lib}/serialport'); console.log(typeof Epoll, Epoll.EPOLLPRI)"`).trim()).toBe('function 2');
    expect(sh('journalctl -u edgecore -o cat --no-pager')).toMatch(/edgecore is running as node pi-container \(standalone/);
    // DMI for mappers, at KubeEdge's path, for root only (the unit may write /etc/kubeedge)
    expect(sh('stat -c "%a %U %F" /etc/kubeedge/dmi.sock').trim()).toBe('600 root socket');
    // the journal has priorities: -p warning shows the warnings, not the info lines
    const warnings = sh('journalctl -u edgecore -p warning -o cat --no-pager _COMM=node');
    expect(warnings).toMatch(/no container runtime at/);
    expect(warnings).not.toMatch(/module \w+ .* started|edgecore is running/);
  });

  it('joins at first boot from /boot/firmware/kubeedge.yaml (the path unit sees it), and the token leaves the file', async () => {
    sh(`mkdir -p /boot/firmware && printf 'cloudcore: 127.0.0.1:${c.hubPort}\\ncertPort: ${c.certPort}\\ntoken: ${c.token()}\\nlabels: {site: container}\\n' > /boot/firmware/kubeedge.yaml`);
    await eventually(async () => readyOf((await c.api.call('GET', `/api/v1/nodes/${NODE}`)).body) === 'True', 60_000, 'Ready');
    // its labels come with its first node status, a moment after the link
    await eventually(async () => (await c.api.call('GET', `/api/v1/nodes/${NODE}`)).body.metadata.labels?.site === 'container', 20_000, 'the node\'s labels');
    expect(sh('cat /boot/firmware/kubeedge.yaml')).not.toMatch(/^token:/m);
    expect(sh('cat /boot/firmware/kubeedge.yaml')).not.toContain(c.token());
    expect(sh('journalctl -u kubeedge-firstboot -o cat --no-pager')).toMatch(/joined; removed the token/);
    expect(show('ActiveState')).toBe('active');
  }, 120_000);

  it('the OPC UA mapper\'s package: its unit runs on Debian\'s Node 18, registers with edgecore over DMI, and a boiler\'s readings reach the cloud', async () => {
    const deb = join(ROOT, 'images', 'out', `kubeedge-lite-mapper-opcua_${VERSION}_all.deb`);
    expect(install([deb])).toMatch(/Setting up kubeedge-lite-mapper-opcua/);
    const port = 4840 + Math.floor(Math.random() * 1000);
    const boiler = runProcess(process.execPath, [join(ROOT, 'test', 'peers', 'opcua-boiler.mjs'), String(port), join(dir, 'boiler-pki'), 'open'], {}, 'boiler');
    try {
      await boiler.waitFor(/^ready$/, 60_000);
      await until(async () => /registered with edgecore at \/etc\/kubeedge\/dmi\.sock/.test(sh('journalctl -u mapper-opcua -o cat --no-pager')), 60_000, 'mapper-opcua registered');
      const api = (method: string, path: string, body?: unknown) => c.api.call(method, path, body);
      const DEVS = '/apis/devices.kubeedge.io/v1beta1/namespaces/default';
      const props = ['temperature', 'pressure'].map((name) => ({ name, type: 'FLOAT', accessMode: 'ReadOnly' }));
      expect((await api('POST', `${DEVS}/devicemodels`, { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'DeviceModel', metadata: { name: 'ua-boiler' }, spec: { protocol: 'opcua', properties: props } })).status).toBe(201);
      const properties = [{ name: 'temperature', collectCycle: 500, visitors: { protocolName: 'opcua', configData: { nodeID: 'ns=2;s=Temperature', subscribe: true } } }, { name: 'pressure', collectCycle: 500, visitors: { protocolName: 'opcua', configData: { nodeID: 'ns=2;s=Pressure' } } }];
      const device = { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'Device', metadata: { name: 'ua-boiler' }, spec: { deviceModelRef: { name: 'ua-boiler' }, nodeName: NODE, protocol: { protocolName: 'opcua', configData: { url: `opc.tcp://127.0.0.1:${port}/UA/Boiler`, securityMode: 'None' } }, properties } };
      expect((await api('POST', `${DEVS}/devices`, device)).status).toBe(201);
      await eventually(async () => /^1\.\d+$/.test((await statusTwin(c, 'ua-boiler', 'pressure'))?.reported?.value ?? ''), 60_000, 'the boiler\'s pressure in status.twins');
      expect((await api('GET', `${DEVS}/devices/ua-boiler`)).body.status.conditions.find((x: { type: string }) => x.type === 'Ready')).toMatchObject({ status: 'True', reason: 'Reading' });
    } finally {
      await boiler.kill('SIGKILL');
      // removed again: the later tests measure edgecore alone, and upgrade the other packages without it
      sh('DEBIAN_FRONTEND=noninteractive apt-get purge -y kubeedge-lite-mapper-opcua 2>&1');
    }
  }, 180_000);

  it('runs a process pod under the packaged unit (a ConfigMap volume at /cfg, a memory limit); systemctl restart edgecore leaves it running, the restarted edgecore adopts it, and kubectl exec and top reach it', async () => {
    const api = (method: string, path: string, body?: unknown) => c.api.call(method, path, body);
    expect((await api('POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'sensor-config' }, data: { greeting: 'hello-unit' } })).status).toBe(201);
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'sensor' },
      spec: {
        runtimeClassName: 'process',
        nodeName: NODE,
        containers: [
          {
            name: 'app',
            image: 'process',
            command: ['/bin/sh', '-c', 'while true; do echo "cfg=$(cat /cfg/greeting)"; sleep 1; done'],
            volumeMounts: [{ name: 'config', mountPath: '/cfg' }],
            resources: { limits: { memory: '32Mi' } },
          },
        ],
        volumes: [{ name: 'config', configMap: { name: 'sensor-config' } }],
      },
    };
    expect((await api('POST', '/api/v1/namespaces/default/pods', pod)).status).toBe(201);
    const running = async (): Promise<any> => {
      const st = (await api('GET', '/api/v1/namespaces/default/pods/sensor')).body?.status;
      return st?.containerStatuses?.[0]?.state?.running ? st.containerStatuses[0] : undefined;
    };
    await until(async () => (await running()) !== undefined, 60_000, 'the pod running');
    const uid = (await api('GET', '/api/v1/namespaces/default/pods/sensor')).body.metadata.uid as string;
    await eventually(async () => String((await api('GET', '/api/v1/namespaces/default/pods/sensor/log')).body).includes('cfg=hello-unit'), 20_000, 'the volume read at /cfg');
    // ProtectSystem=strict keeps / read-only: /cfg is in the pod's own view, not on the machine
    expect(sh('test -e /cfg && echo there || echo absent').trim()).toBe('absent');
    // the memory limit holds in the pod's cgroup, outside edgecore's unit
    const limit = sh(`for f in $(find /sys/fs/cgroup -path '*/kubeedge/${uid}_app_0/memory.max' -o -path '*/kubeedge/${uid}_app_0/memory.limit_in_bytes'); do cat $f; done | head -n 1`).trim();
    expect(Number(limit)).toBe(32 * 1024 * 1024);
    const shim = JSON.parse(sh(`cat /var/lib/kubeedge/edged/pods/${uid}/containers/app/0/state.json`)).pid as number;
    // outside the unit where systemd counts its processes (name=systemd on v1, the unified tree on v2 and in hybrid mode)
    const groups = sh(`cat /proc/${shim}/cgroup`).split('\n').filter((l) => /^\d+:(name=systemd|memory|pids)?:|^0::/.test(l));
    expect(groups.length).toBeGreaterThan(0);
    for (const g of groups) expect(g).toMatch(/\/kubeedge\//);

    const before = show('MainPID');
    sh('systemctl restart edgecore');
    await until(async () => show('ActiveState') === 'active' && show('MainPID') !== before, 30_000, 'edgecore restarted');
    expect(sh(`kill -0 ${shim} && echo alive`).trim()).toBe('alive');
    await until(async () => /found its containers running; adopting them/.test(sh('journalctl -u edgecore -o cat --no-pager')), 30_000, 'the pod adopted');
    await new Promise((r) => setTimeout(r, 3000));
    expect(await running()).toMatchObject({ restartCount: 0 });
    expect(JSON.parse(sh(`cat /var/lib/kubeedge/edged/pods/${uid}/containers/app/0/state.json`)).pid).toBe(shim);
    expect(sh('ls /var/lib/kubeedge/edged/pods/' + uid + '/containers/app').trim()).toBe('0');
    // kubectl exec and top into the adopted pod, under the unit's sandbox (nsenter into the pod's view, script(1) for a terminal)
    const kubeconfig = c.kubeconfig();
    const exec = kubectl(kubeconfig, ['exec', 'sensor', '--', 'cat', '/cfg/greeting']);
    expect(exec.status, exec.stderr).toBe(0);
    expect(exec.stdout).toBe('hello-unit');
    const tty = await kubectlInTerminal(kubeconfig, ['exec', '-it', 'sensor', '--', 'sh'], ['echo answer-$((6*7)) from $(cat /cfg/greeting)', 'exit']);
    expect(tty.output).toContain('answer-42 from hello-unit');
    const top = kubectl(kubeconfig, ['top', 'pod', 'sensor']);
    expect(top.stdout, top.stderr).toMatch(/^sensor\s+\d+m\s+\d+Mi\s*$/m);
    expect((await api('DELETE', '/api/v1/namespaces/default/pods/sensor')).status).toBe(200);
    await until(async () => sh(`kill -0 ${shim} 2>/dev/null && echo alive || echo gone`).trim() === 'gone', 30_000, 'the pod gone');
  }, 180_000);

  it('a frozen edgecore is killed by the watchdog and restarted; a killed one is restarted too', async () => {
    // a short watchdog for the test (the package says 30 s)
    sh('mkdir -p /etc/systemd/system/edgecore.service.d && printf "[Service]\\nWatchdogSec=4\\n" > /etc/systemd/system/edgecore.service.d/test.conf && systemctl daemon-reload && systemctl restart edgecore');
    await eventually(async () => show('ActiveState') === 'active', 30_000, 'active');
    const frozen = show('MainPID');
    sh(`kill -STOP ${frozen}`);
    await eventually(async () => /Watchdog timeout \(limit 4s\)!/.test(sh('journalctl -u edgecore -o cat --no-pager')), 20_000, 'watchdog timeout');
    await eventually(async () => show('ActiveState') === 'active' && show('MainPID') !== frozen && show('MainPID') !== '0', 30_000, 'restarted');
    expect(sh('journalctl -u edgecore -o cat --no-pager')).toMatch(new RegExp(`Killing process ${frozen} \\(node\\) with signal SIGABRT`));
    const restarts = Number(show('NRestarts'));
    const pid = show('MainPID');
    sh(`kill -KILL ${pid}`);
    await until(async () => show('ActiveState') === 'active' && show('MainPID') !== pid && show('MainPID') !== '0', 30_000, 'restarted after SIGKILL');
    expect(Number(show('NRestarts'))).toBe(restarts + 1);
    await eventually(async () => readyOf((await c.api.call('GET', `/api/v1/nodes/${NODE}`)).body) === 'True', 30_000, 'Ready again');
    sh('rm -r /etc/systemd/system/edgecore.service.d && systemctl daemon-reload');
  }, 120_000);

  it('an upgrade restarts edgecore with its twins and its outbox; a rollback works too', async () => {
    expect((await c.api.call('POST', '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devicemodels', thermostatModel)).status).toBe(201);
    expect((await c.api.call('POST', '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices', thermostat('room-1', NODE, '21'))).status).toBe(201);
    await until(async () => (await fetch('http://127.0.0.1:10550/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices/room-1')).status === 200, 30_000, 'device at the edge');
    const pub = (topic: string, msg: string) => expect(spawnSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', '1884', '-q', '1', '-t', topic, '-m', msg]).status).toBe(0);
    pub('$hw/events/device/default/room-1/twin/update', JSON.stringify({ event_id: 'u', twin: { temperature: { actual: { value: '19.5' } } } }));
    await eventually(async () => (await statusTwin(c, 'room-1', 'temperature'))?.reported?.value === '19.5', 20_000, 'twin in the cloud');
    // the cloud goes away: uploads wait in the outbox on disk
    await c.cloud?.kill('SIGKILL');
    for (let i = 0; i < 5; i++) pub('$hw/events/upload/meter', JSON.stringify({ i }));
    // (with whatever else waits for the cloud, such as the node's status)
    await eventually(async () => ((await metric('edgecore_outbox_messages')) ?? 0) >= 5 && (await metric('edgecore_mqtt_uploads_total')) === 5, 20_000, 'five in the outbox');
    const before = show('MainPID');

    const upgrade = install(DEBS(NEXT_OUT, NEXT));
    expect(upgrade).toMatch(new RegExp(`Unpacking kubeedge-lite-edge \\(${NEXT.replace(/\./g, '\\.')}\\) over \\(${VERSION.replace(/\./g, '\\.')}\\)`));
    expect(sh("dpkg-query -W -f '${Version}' kubeedge-lite-edge")).toBe(NEXT);
    await eventually(async () => show('ActiveState') === 'active' && show('MainPID') !== before, 30_000, 'restarted by the upgrade');
    // the joined config (a conffile the user changed) is kept, and so is everything on disk
    expect(sh('cat /etc/kubeedge/config/edgecore.yaml')).toMatch(/server: 127\.0\.0\.1:\d+/);
    // (the restarted edgecore queues its node status too)
    await eventually(async () => ((await metric('edgecore_outbox_messages')) ?? 0) >= 5, 20_000, 'the outbox kept');
    // the twin, as an app at the edge asks for it (twin/get), with the cloud still away
    // asked again until answered: a subscriber that found the broker not (yet) there has exited
    const twinGet = async (): Promise<string | undefined> => {
      const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', '1884', '-C', '1', '-W', '5', '-t', '$hw/events/device/default/room-1/twin/get/result']);
      let out = '';
      sub.stdout.on('data', (b: Buffer) => (out += b.toString()));
      const exited = new Promise((r) => sub.on('exit', r));
      for (let i = 0; i < 8 && out === '' && sub.exitCode === null; i++) {
        await new Promise((r) => setTimeout(r, 500));
        pub('$hw/events/device/default/room-1/twin/get', JSON.stringify({ event_id: 'g' }));
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 1000))]);
      sub.kill();
      return out.trim() || undefined;
    };
    const answer = await eventually(twinGet, 30_000, 'twin/get answered');
    expect(JSON.parse(answer).twin.temperature.actual.value).toBe('19.5');
    // the cloud back: everything queued arrives
    await c.startCloud();
    await eventually(async () => (await metric('edgecore_outbox_messages')) === 0 && (await metric('edgecore_link_up')) === 1, 40_000, 'outbox drained');
    await eventually(async () => (await c.api.call('GET', `/api/v1/nodes/${NODE}`)).body.status?.uploads?.count === 5, 20_000, 'five uploads at the cloud');

    // rollback to N
    const back = install(DEBS(join(ROOT, 'images', 'out'), VERSION), '--allow-downgrades');
    expect(back).toMatch(/Unpacking kubeedge-lite-edge/);
    expect(sh("dpkg-query -W -f '${Version}' kubeedge-lite-edge")).toBe(VERSION);
    await eventually(async () => readyOf((await c.api.call('GET', `/api/v1/nodes/${NODE}`)).body) === 'True' && show('ActiveState') === 'active', 40_000, 'Ready after the rollback');
    expect((await statusTwin(c, 'room-1', 'temperature'))?.reported?.value).toBe('19.5');
  }, 240_000);
});
