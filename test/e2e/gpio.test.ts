import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { eventually, makeCluster, type Cluster, type Edge } from './cluster.js';
import { mqttApp, type App } from '../peers/mqtt.js';
import { fakeGpioLauncher } from '../peers/gpio.js';

const model = {
  apiVersion: 'devices.kubeedge.io/v1beta1',
  kind: 'DeviceModel',
  metadata: { name: 'panel' },
  spec: {
    properties: [
      { name: 'button', type: 'BOOLEAN', accessMode: 'ReadOnly' },
      { name: 'led', type: 'BOOLEAN', accessMode: 'ReadWrite' },
      { name: 'relay', type: 'BOOLEAN', accessMode: 'ReadWrite' },
    ],
  },
};

const panel = (led: string, relay: string) => ({
  apiVersion: 'devices.kubeedge.io/v1beta1',
  kind: 'Device',
  metadata: { name: 'panel-1' },
  spec: {
    deviceModelRef: { name: 'panel' },
    nodeName: 'edge-gpio',
    protocol: { protocolName: 'gpio', configData: {} },
    properties: [
      // a poll once a minute: only the edge path can report a press quickly
      { name: 'button', collectCycle: 60_000, visitors: { protocolName: 'gpio', configData: { pin: 17, direction: 'in', edge: 'both', debounceMs: 50 } } },
      { name: 'led', desired: { value: led }, visitors: { protocolName: 'gpio', configData: { pin: 18, direction: 'out' } } },
      { name: 'relay', desired: { value: relay }, visitors: { protocolName: 'gpio', configData: { pin: 27, direction: 'out', activeLow: true } } },
    ],
  },
});

describe('GPIO on a fake sysfs tree (a mount namespace over /sys/class)', () => {
  let c: Cluster;
  let edge: Edge;
  let app: App;
  let manifests: string;
  const sysfs = (path: string): string => join(`/proc/${edge.proc.child.pid}/root/sys/class/gpio`, path);
  const read = (path: string): string => readFileSync(sysfs(path), 'utf8').trim();
  const twin = async (): Promise<any> => (await app.request('$hw/events/device/default/panel-1/twin/get')).twin;

  beforeAll(async () => {
    c = await makeCluster();
    manifests = join(c.dir, 'devices');
    mkdirSync(manifests);
    writeFileSync(join(manifests, 'panel.yaml'), [model, panel('true', 'true')].map((o) => stringify(o)).join('---\n'));
    edge = await c.startEdge('edge-gpio', {
      modules: { edgeHub: { enable: false }, deviceTwin: { manifestDir: manifests } },
      launcher: fakeGpioLauncher(),
    });
    app = await mqttApp(edge.mqttPort);
  });
  afterAll(async () => {
    await app?.close();
    await c?.stop();
  });

  it('exports the BCM pins at the Pi chip’s base, with direction, edge and active-low', async () => {
    await eventually(async () => existsSync(sysfs('gpio529/value')) && existsSync(sysfs('gpio530/value')) && existsSync(sysfs('gpio539/value')), 10_000, 'exported lines');
    expect(existsSync(sysfs('gpio17'))).toBe(false); // not the other chip's numbering
    expect(read('gpio529/direction')).toBe('in');
    expect(read('gpio529/edge')).toBe('both');
    expect(read('gpio530/direction')).toBe('out');
    expect(read('gpio539/active_low')).toBe('1');
    expect(read('gpio530/active_low')).toBe('0');
  });

  it('sets outputs from desired values and reports them', async () => {
    await eventually(async () => read('gpio530/value') === '1' && read('gpio539/value') === '1', 10_000, 'outputs set');
    await eventually(async () => {
      const t = await twin();
      return t.led.actual?.value === 'true' && t.relay.actual?.value === 'true';
    }, 10_000, 'outputs reported');
    writeFileSync(join(manifests, 'panel.yaml'), [model, panel('false', 'true')].map((o) => stringify(o)).join('---\n'));
    await eventually(async () => read('gpio530/value') === '0', 10_000, 'led off');
    await eventually(async () => (await twin()).led.actual?.value === 'false', 10_000, 'led off reported');
  });

  it('reports an input change at once, not on the minute poll, and ignores a glitch shorter than debounceMs', async () => {
    expect((await twin()).button.actual?.value).toBe('false');
    writeFileSync(sysfs('gpio529/value'), '1\n');
    const t0 = Date.now();
    await eventually(async () => (await twin()).button.actual?.value === 'true', 5000, 'press reported');
    expect(Date.now() - t0).toBeLessThan(5000); // the poll would take a minute
    const from = app.received.length;
    writeFileSync(sysfs('gpio529/value'), '0\n');
    await new Promise((r) => setTimeout(r, 15));
    writeFileSync(sysfs('gpio529/value'), '1\n');
    await new Promise((r) => setTimeout(r, 400));
    expect(app.received.slice(from).filter((m) => m.topic.endsWith('panel-1/twin/update/document'))).toEqual([]);
    expect((await twin()).button.actual?.value).toBe('true');
    // where epoll cannot watch the file, the driver says so and samples instead
    expect(edge.proc.lines.some((l) => /button: no interrupts on gpio529 .*; sampling every 50 ms/.test(l))).toBe(true);
  });
});

describe('a machine without GPIO, and without the serialport add-on', () => {
  let c: Cluster;
  let edge: Edge;
  let app: App;
  beforeAll(async () => {
    c = await makeCluster();
    const manifests = join(c.dir, 'devices');
    mkdirSync(manifests);
    const serial = {
      apiVersion: 'devices.kubeedge.io/v1beta1',
      kind: 'Device',
      metadata: { name: 'scale-1' },
      spec: {
        deviceModelRef: { name: 'panel' },
        nodeName: 'edge-nogpio',
        protocol: { protocolName: 'serial', configData: { serialPort: '/dev/ttyUSB9' } },
        properties: [{ name: 'button', visitors: { protocolName: 'serial', configData: { pattern: '^B=(\\d)$' } } }],
      },
    };
    const appDevice = { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'Device', metadata: { name: 'app-1' }, spec: { deviceModelRef: { name: 'panel' }, nodeName: 'edge-nogpio' } };
    writeFileSync(join(manifests, 'all.yaml'), [model, { ...panel('true', 'true'), spec: { ...panel('true', 'true').spec, nodeName: 'edge-nogpio' } }, serial, appDevice].map((o) => stringify(o)).join('---\n'));
    // the bundle alone in a folder: no node_modules beside it, so no serialport (nor onoff)
    const alone = join(c.dir, 'alone');
    mkdirSync(alone);
    writeFileSync(join(alone, 'edgecore.js'), readFileSync(fileURLToPath(new URL('../../dist/edgecore.js', import.meta.url))));
    edge = await c.startEdge('edge-nogpio', {
      modules: { edgeHub: { enable: false }, deviceTwin: { manifestDir: manifests } },
      launcher: [process.execPath, '-e', `process.argv[1] = ${JSON.stringify(join(alone, 'edgecore.js'))}; import(process.argv[1])`],
    });
    app = await mqttApp(edge.mqttPort);
  });
  afterAll(async () => {
    await app?.close();
    await c?.stop();
  });

  it('says why a device cannot run, marks it offline, and every other device works', async () => {
    await edge.proc.waitFor(/default\/panel-1: cannot open: GPIO devices need the onoff add-on|default\/panel-1: cannot open: GPIO is not available on this machine/);
    await edge.proc.waitFor(/default\/scale-1: cannot open: serial devices need the serialport add-on/);
    const state = async (name: string): Promise<string> => (await app.request('$hw/events/node/edge-nogpio/membership/get')).devices.find((d: any) => d.name === name)?.state;
    await eventually(async () => (await state('panel-1')) === 'offline' && (await state('scale-1')) === 'offline', 10_000, 'offline');
    await app.publish('$hw/events/device/default/app-1/twin/update', { event_id: 'ok', twin: { button: { actual: { value: 'true' } } } });
    expect(await app.next('$hw/events/device/default/app-1/twin/update/result', (b) => b.event_id === 'ok')).toMatchObject({ twin: { button: { actual: { value: 'true' } } } });
    expect(edge.proc.child.exitCode).toBeNull();
  });
});
