/**
 * Every manifest in examples/, as a user starts from it: applied with kubectl (which validates
 * strictly, so an example with a field the API does not know fails here) against a real cloud and
 * edges, and followed to its device or app. Only what names this machine is changed: addresses and
 * ports, serial ports (socat ptys with pymodbus and a line-speaking scale on their far end), the
 * node's name, a registry image for the one imported offline.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, makeCluster, statusTwin, type Cluster, type Edge } from './cluster.js';
import { kubectl } from '../peers/kubectl.js';
import { freePort } from '../peers/proxy.js';
import { modbusClient, ptyPair, pymodbusSlave, type PtyPair } from '../peers/serial.js';
import { fakeGpioLauncher } from '../peers/gpio.js';
import { startPodman, type Podman } from '../peers/podman.js';
import { ROOT, runBundle, runProcess } from '../peers/proc.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
const NODE = 'edge-ex';
const GPIO_NODE = 'edge-ex-gpio';
const PODMAN_NODE = 'edge-ex-podman';

function call(port: number, method: string, path: string, body?: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('examples/: each manifest applied with kubectl reaches its device or app', () => {
  let c: Cluster;
  let edge: Edge;
  let gpioEdge: Edge;
  let podman: Podman;
  let kubeconfig: string;
  const stops: (() => unknown)[] = [];
  let modbusPort: number;
  let rtu: PtyPair;
  let scale: { path: string; tares: string; proc: ChildProcess };
  let routerPort: number;
  let busPort: number;
  let appPort: number;
  let cloudPort: number;
  const atCloud: { url: string; body: string }[] = [];

  /** applies examples/<file> with `changes` (text → text) made, as a user would edit it */
  const applyExample = (file: string, changes: Record<string, string>): string => {
    let text = readFileSync(join(EXAMPLES, file), 'utf8');
    for (const [from, to] of Object.entries(changes)) {
      expect(text, `${file} names ${from}`).toContain(from);
      text = text.replaceAll(from, to);
    }
    const f = join(c.dir, file);
    writeFileSync(f, text);
    const r = kubectl(kubeconfig, ['apply', '-f', f]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    return r.stdout;
  };
  const reported = async (device: string, prop: string): Promise<string | undefined> => (await statusTwin(c, device, prop))?.reported?.value;
  const podPhase = (name: string): string | undefined => JSON.parse(kubectl(kubeconfig, ['get', 'pod', name, '-o', 'json']).stdout || '{}').status?.phase;

  beforeAll(async () => {
    [modbusPort, routerPort, busPort, appPort, cloudPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    const slave = await pymodbusSlave('tcp', modbusPort);
    stops.push(() => slave.stop());
    c = await makeCluster({ cloudModules: { router: { enable: true, port: routerPort, restTimeout: 5 } } });
    // the RTU sensor's line, with pymodbus on its far end
    rtu = await ptyPair(c.dir, 'usb0');
    const rtuSlave = await pymodbusSlave('rtu', rtu.b, 9600);
    stops.push(() => rtuSlave.stop(), () => rtu.stop());
    // the scale: a pty whose far end answers "W" with a weight and notes each tare
    const scalePath = join(c.dir, 'ttyS0');
    const tares = join(c.dir, 'tares');
    const proc = spawn('socat', [`pty,raw,echo=0,link=${scalePath}`, `SYSTEM:while IFS= read -r l; do case "$l" in W*) echo W=1234.5;; TARE*) echo "$l" >> ${tares}; echo TARE=ok;; esac; done`], { stdio: 'ignore' });
    scale = { path: scalePath, tares, proc };
    stops.push(() => proc.kill('SIGKILL'));
    await eventually(async () => existsSync(scalePath), 5000, 'the scale\'s pty');
    // an app at the edge (ServiceBus's target) and a service in the cloud (the rest target)
    const app: Server = createServer((req, res) => res.writeHead(200, { 'x-seen-url': req.url ?? '' }).end('edge app'));
    const cloudService: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        atCloud.push({ url: req.url ?? '', body });
        res.writeHead(200).end('cloud saw it');
      });
    });
    await new Promise<void>((r) => app.listen(appPort, '127.0.0.1', r));
    await new Promise<void>((r) => cloudService.listen(cloudPort, '127.0.0.1', r));
    stops.push(() => app.close(), () => cloudService.close());

    podman = await startPodman(mkdtempSync(join(tmpdir(), 'ke-examples-podman-')));
    await c.startCloud();
    kubeconfig = c.kubeconfig();
    edge = await c.startEdge(NODE, { modules: { serviceBus: { enable: true, port: busPort, timeout: 10 } } });
    gpioEdge = await c.startEdge(GPIO_NODE, { launcher: fakeGpioLauncher() });
    await c.startEdge(PODMAN_NODE, { modules: { edged: { tailoredKubeletConfig: { containerRuntimeEndpoint: podman.endpoint } } } });
  }, 180_000);
  afterAll(async () => {
    await c?.stop();
    await podman?.stop();
    for (const s of stops) await s();
  });

  it('every file in examples/ is applied below', () => {
    // a new example without a test here fails this
    expect(readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml')).sort()).toEqual(['gpio-button-relay.yaml', 'modbus-rtu-sensor.yaml', 'modbus-tcp-thermostat.yaml', 'opcua-boiler.yaml', 'podman-pod.yaml', 'process-pod.yaml', 'router-rules.yaml', 'serial-scale.yaml']);
  });

  it('modbus-tcp-thermostat: the temperature is reported, the setpoint is written to its register', async () => {
    const out = applyExample('modbus-tcp-thermostat.yaml', { 'ip: 192.168.1.50, port: 502': `ip: 127.0.0.1, port: ${modbusPort}`, 'nodeName: pi-1': `nodeName: ${NODE}` });
    expect(out).toContain('device.devices.kubeedge.io/thermostat-1 created');
    await eventually(async () => (await reported('thermostat-1', 'temperature')) === '21.5', 20_000, 'temperature 21.5 reported');
    await eventually(async () => (await reported('thermostat-1', 'heater')) === 'true', 20_000, 'the heater coil reported');
    const register60 = async (): Promise<number> => {
      const m = await modbusClient(modbusPort);
      try {
        return (await m.readHoldingRegisters(60, 1)).data[0] as number;
      } finally {
        m.close(() => undefined);
      }
    };
    await eventually(async () => (await register60()) === 21, 20_000, 'setpoint 21 in register 60');
  });

  it('modbus-rtu-sensor: read over a serial line from a Modbus RTU slave', async () => {
    applyExample('modbus-rtu-sensor.yaml', { '/dev/ttyUSB0': rtu.a, 'nodeName: pi-1': `nodeName: ${NODE}` });
    await eventually(async () => (await reported('th-sensor-1', 'temperature')) === '21.5', 30_000, 'temperature 21.5 over RTU');
    expect(await reported('th-sensor-1', 'humidity')).toBe('0');
  });

  it('serial-scale: the weight is polled with its command; the tare is written with writeCommand', async () => {
    applyExample('serial-scale.yaml', { '/dev/ttyS0': scale.path, 'nodeName: pi-1': `nodeName: ${NODE}` });
    await eventually(async () => (await reported('scale-1', 'weight')) === '1234.5', 20_000, 'weight 1234.5');
    await eventually(async () => existsSync(scale.tares) && readFileSync(scale.tares, 'utf8').includes('TARE now'), 20_000, 'the tare written');
  });

  it('gpio-button-relay: the relay follows its desired value; a press is reported', async () => {
    applyExample('gpio-button-relay.yaml', { 'nodeName: pi-1': `nodeName: ${GPIO_NODE}` });
    const sysfs = (p: string): string => join(`/proc/${gpioEdge.proc.child.pid}/root/sys/class/gpio`, p);
    // BCM 17 and 27 on the Pi's chip (base 512); the relay active low, off
    // the line is exported (its value file appears) before the driver has made it active low: wait for both
    const relayLine = (): string => ['value', 'active_low'].map((f) => (existsSync(sysfs(`gpio539/${f}`)) ? readFileSync(sysfs(`gpio539/${f}`), 'utf8').trim() : '-')).join(' ');
    await eventually(async () => relayLine() === '0 1', 20_000, 'the relay line set: value 0, active low');
    expect(readFileSync(sysfs('gpio529/edge'), 'utf8').trim()).toBe('both');
    await eventually(async () => (await reported('door-1', 'button')) === 'false', 20_000, 'the button reported');
    writeFileSync(sysfs('gpio529/value'), '1\n');
    await eventually(async () => (await reported('door-1', 'button')) === 'true', 20_000, 'the press reported');
  });

  it('opcua-boiler: through mapper-opcua, the readings are reported and the setpoint is written to the server', async () => {
    const port = await freePort();
    const server = runProcess(process.execPath, [join(ROOT, 'test', 'peers', 'opcua-boiler.mjs'), String(port), join(c.dir, 'boiler-pki'), 'open'], {}, 'boiler');
    const mapper = runBundle('mapper-opcua', ['--dmi-socket', join(c.dir, NODE, 'dmi.sock'), '--socket', join(c.dir, 'mapper-opcua.sock'), '--pki-dir', join(c.dir, 'mapper-pki')]);
    stops.push(() => server.kill('SIGKILL'), () => mapper.kill('SIGKILL'));
    await server.waitFor(/^ready$/, 60_000);
    applyExample('opcua-boiler.yaml', { '192.168.1.60:4840': `127.0.0.1:${port}`, 'nodeName: pi-1': `nodeName: ${NODE}` });
    await eventually(async () => /^6\d(\.5)?$/.test((await reported('boiler-1', 'temperature')) ?? ''), 30_000, 'the temperature reported');
    await eventually(async () => /^1\.\d+$/.test((await reported('boiler-1', 'pressure')) ?? ''), 30_000, 'the pressure reported');
    await server.waitFor(/^setpoint 65$/, 20_000);
  });

  it('process-pod: the app runs with its ConfigMap and Secret', async () => {
    applyExample('process-pod.yaml', { 'nodeName: pi-1': `nodeName: ${NODE}` });
    await eventually(async () => podPhase('reporter') === 'Running', 30_000, 'reporter Running');
    await eventually(async () => kubectl(kubeconfig, ['logs', 'reporter']).stdout.includes('reporting for north-yard every 5 s (password of 9 characters)'), 20_000, 'its first line');
    expect(kubectl(kubeconfig, ['exec', 'reporter', '--', 'cat', '/etc/reporter/interval']).stdout).toBe('5');
    expect(kubectl(kubeconfig, ['exec', 'reporter', '--', 'stat', '-L', '-c', '%a', '/etc/reporter-secret/password']).stdout.trim()).toBe('400');
  });

  it('podman-pod: the web server answers with its page', async () => {
    applyExample('podman-pod.yaml', { 'docker.io/library/busybox:1.36': 'local/busybox', 'imagePullPolicy: IfNotPresent': 'imagePullPolicy: Never', 'nodeName: pi-1': `nodeName: ${PODMAN_NODE}` });
    await eventually(async () => podPhase('web') === 'Running', 60_000, 'web Running');
    const page = await eventually(async () => {
      const r = kubectl(kubeconfig, ['exec', 'web', '--', 'wget', '-qO-', 'http://127.0.0.1:8080/']);
      return r.status === 0 ? r.stdout : undefined;
    }, 20_000, 'the page');
    expect(page).toBe('<h1>hello from the edge</h1>\n');
  });

  it('router-rules: a message goes each of the four ways', async () => {
    applyExample('router-rules.yaml', {
      'node_name: pi-1': `node_name: ${NODE}`,
      'service_port: "8080"': `service_port: "${appPort}"`,
      'http://collector.example.org:8080/telemetry': `http://127.0.0.1:${cloudPort}/telemetry`,
      'http://orders.example.org:8080/api': `http://127.0.0.1:${cloudPort}/api`,
    });
    // rest → eventbus: a POST to the cloud's router is published on the edge's broker
    const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(edge.mqttPort), '-t', 'alerts', '-C', '1', '-W', '30']);
    let got = '';
    sub.stdout.on('data', (b: Buffer) => (got += b.toString()));
    await eventually(async () => {
      await call(routerPort, 'POST', `/${NODE}/default/alerts`, '{"level":"high"}');
      return got.includes('"level":"high"');
    }, 20_000, 'the alert at the edge');
    // eventbus → rest: an edge publish reaches the cloud's service
    await edge.proc.waitFor(/rule default\/telemetry-to-cloud: messages on default\/telemetry go to the cloud/);
    expect(spawnSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(edge.mqttPort), '-q', '1', '-t', 'default/telemetry', '-m', '{"t":21.5}']).status).toBe(0);
    await eventually(async () => atCloud.some((m) => m.url === '/telemetry' && m.body === '{"t":21.5}'), 20_000, 'telemetry at the cloud');
    // rest → servicebus: the cloud's router reaches the app at the edge
    const toApp = await eventually(async () => {
      const r = await call(routerPort, 'GET', `/${NODE}/default/reporter/status`);
      return r.status === 200 ? r : undefined;
    }, 20_000, 'the edge app through the router');
    expect(toApp.body).toBe('edge app');
    expect(String(toApp.headers['x-seen-url'])).toMatch(/^\/+status$/);
    // servicebus → rest: an app at the edge reaches the cloud's service
    const toCloud = await eventually(async () => {
      const r = await call(busPort, 'POST', '/default/orders/42', 'one order');
      return r.status === 200 ? r : undefined;
    }, 20_000, 'the cloud service through ServiceBus');
    expect(toCloud.body).toBe('cloud saw it');
    expect(atCloud).toContainEqual({ url: '/api/42', body: 'one order' });
  });
});
