/**
 * keadm quickstart (what `npm start` runs): a cloudcore, an edge joined to it with a real token,
 * and a simulated Modbus TCP thermostat that the edge drives as a Device, all on this machine, in
 * a temporary folder, on free ports. It prints what runs where and how to watch the twin and set
 * a desired value; Ctrl-C stops everything and removes the folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../core/net.js';
import { bundlePath, NODE_ARGS, NODE_ENV } from './service.js';
import { startThermostat, type Thermostat } from '../drivers/modbus/simulator.js';
import { apply } from './apply.js';

function start(program: 'cloudcore' | 'edgecore', config: string, log: string): ChildProcess {
  const child = spawn(process.execPath, [...NODE_ARGS[program], bundlePath(program), '--config', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...NODE_ENV, CHECK_EDGECORE_ENVIRONMENT: 'false' },
  });
  const sink = (b: Buffer): void => writeFileSync(log, b, { flag: 'a' });
  child.stdout?.on('data', sink);
  child.stderr?.on('data', sink);
  return child;
}

async function waitFor(file: string, re: RegExp, child: ChildProcess, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (existsSync(file) && re.test(readFileSync(file, 'utf8'))) return;
    if (child.exitCode !== null) throw new Error(`${what} exited: ${readFileSync(file, 'utf8').trim().split('\n').pop() ?? ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not start within 60 s; see ${file}`);
}

type Ports = Record<'hub' | 'certs' | 'api' | 'meta' | 'mqtt' | 'modbus', number>;

/** the quick start's cloudcore.yaml: everything under `dir`, on loopback */
function cloudYamlOf(dir: string, { hub, certs, api }: Ports): string {
  return stringify({
    database: { dataSource: join(dir, 'cloud', 'cloudcore.db') },
    modules: {
      cloudHub: {
        advertiseAddress: ['127.0.0.1'],
        tlsCAFile: join(dir, 'cloud', 'ca', 'rootCA.crt'),
        tlsCAKeyFile: join(dir, 'cloud', 'ca', 'rootCA.key'),
        tlsCertFile: join(dir, 'cloud', 'certs', 'cloudcore.crt'),
        tlsPrivateKeyFile: join(dir, 'cloud', 'certs', 'cloudcore.key'),
        tokenSecretFile: join(dir, 'cloud', 'tokens', 'tokensecret'),
        websocket: { address: '127.0.0.1', port: hub },
        https: { address: '127.0.0.1', port: certs },
      },
      apiServer: { address: '127.0.0.1', port: api, tokenFile: join(dir, 'cloud', 'admin.token') },
    },
  });
}

/** the quick start's edgecore.yaml, joined with `token` */
function edgeYamlOf(dir: string, token: string, { hub, certs, meta, mqtt }: Ports): string {
  return stringify({
    database: { dataSource: join(dir, 'edge', 'edgecore.db') },
    modules: {
      edgeHub: {
        heartbeat: 5,
        httpServer: `https://127.0.0.1:${certs}`,
        token,
        tlsCaFile: join(dir, 'edge', 'ca', 'rootCA.crt'),
        tlsCertFile: join(dir, 'edge', 'certs', 'server.crt'),
        tlsPrivateKeyFile: join(dir, 'edge', 'certs', 'server.key'),
        websocket: { server: `127.0.0.1:${hub}` },
      },
      metaManager: { metaServer: { server: `127.0.0.1:${meta}` } },
      eventBus: { mqttServerInternal: `tcp://127.0.0.1:${mqtt}` },
      // DMI for mappers in the quick start's folder: it runs as any user, beside whatever else runs here
      deviceTwin: { dmiSockPath: join(dir, 'edge', 'dmi.sock') },
      edged: { hostnameOverride: 'edge-quickstart', rootDirectory: join(dir, 'edge', 'edged') },
    },
  });
}

/** what the quick start prints: where everything is, and what to try */
function guide(dir: string, { hub, certs, api, meta, mqtt, modbus }: Ports, logs: { cloud: string; edge: string }, manifest: string): string {
  const keadm = `node ${bundlePath('keadm')}`;
  const adminToken = readFileSync(join(dir, 'cloud', 'admin.token'), 'utf8').trim();
  const ca = join(dir, 'cloud', 'ca', 'rootCA.crt');
  const cloudLog = logs.cloud;
  const edgeLog = logs.edge;
  return `
KubeEdge quick start: a cloud, an edge joined to it with a real token, and a simulated Modbus device, in ${dir}

  cloudcore     CloudHub wss://127.0.0.1:${hub}   certificates https://127.0.0.1:${certs}   API https://127.0.0.1:${api}
                log ${cloudLog}
  dashboard     https://127.0.0.1:${api}/ui/   (sign in with the admin token below; the CA is ${ca})
  edgecore      node edge-quickstart   MQTT tcp://127.0.0.1:${mqtt}   MetaServer http://127.0.0.1:${meta}
                log ${edgeLog}
  thermostat-1  a simulated Modbus TCP thermostat on 127.0.0.1:${modbus} (input register 0: temperature x 10,
                holding register 0: setpoint x 10, coil 0: heating), driven by the edge as Device thermostat-1
                applied from ${manifest}

Try it, in another terminal:
  mosquitto_sub -p ${mqtt} -v -t '$hw/events/device/default/thermostat-1/twin/update/document'   # the twin changing, at the edge
  ${keadm} get devices thermostat-1 -o yaml --config-dir ${dir}                  # status.twins, in the cloud
  sed -i 's/value: "21"/value: "25"/' ${manifest} && ${keadm} apply -f ${manifest} --config-dir ${dir}   # a new setpoint
  curl -s --cacert ${ca} -H "Authorization: Bearer ${adminToken}" https://127.0.0.1:${api}/api/v1/nodes/edge-quickstart
  curl -s http://127.0.0.1:${meta}/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices     # the edge's copy
  curl -s http://127.0.0.1:${meta}/metrics                                                           # edgecore's Prometheus metrics
  mosquitto_pub -p ${mqtt} -q 1 -t '$hw/events/upload/meter-1' -m '{"kwh":"12.5"}'              # to the cloud, through the outbox

Ctrl-C stops everything and removes ${dir}.
`;
}

export async function quickstart(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'kubeedge-quickstart-'));
  const children: ChildProcess[] = [];
  let thermostat: Thermostat | undefined;
  /** stops the children (SIGKILL after 5 s) and waits for them, so nothing outlives the quick start */
  const cleanup = async (): Promise<void> => {
    const running = children.filter((c) => c.exitCode === null && c.signalCode === null);
    const exited = running.map((c) => new Promise<void>((resolve) => c.once('exit', () => resolve())));
    for (const c of running) c.kill('SIGTERM');
    const force = setTimeout(() => running.forEach((c) => c.kill('SIGKILL')), 5000);
    await Promise.all(exited);
    clearTimeout(force);
    await thermostat?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const [hub, certs, api, meta, mqtt, modbus] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]);
    const ports: Ports = { hub, certs, api, meta, mqtt, modbus };
    // where keadm finds it with --config-dir
    const cloudYaml = join(dir, 'config', 'cloudcore.yaml');
    mkdirSync(join(dir, 'config'));
    writeFileSync(cloudYaml, cloudYamlOf(dir, ports));
    const logs = { cloud: join(dir, 'cloudcore.log'), edge: join(dir, 'edgecore.log') };
    const cloud = start('cloudcore', cloudYaml, logs.cloud);
    children.push(cloud);
    await waitFor(logs.cloud, /cloudcore is running/, cloud, 'cloudcore');
    const edgeYaml = join(dir, 'edgecore.yaml');
    writeFileSync(edgeYaml, edgeYamlOf(dir, readFileSync(join(dir, 'cloud', 'tokens', 'token'), 'utf8').trim(), ports));
    const edge = start('edgecore', edgeYaml, logs.edge);
    children.push(edge);
    await waitFor(logs.edge, /connected to wss:/, edge, 'edgecore');
    thermostat = await startThermostat({ port: modbus });
    const manifest = join(dir, 'thermostat.yaml');
    writeFileSync(manifest, thermostatManifests(modbus));
    // as `keadm apply -f` does it (it prints what it created)
    if ((await apply(['-f', manifest, '--config-dir', dir])) !== 0) throw new Error(`cannot apply ${manifest}`);
    process.stdout.write(guide(dir, ports, logs, manifest));
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
      for (const c of children) c.once('exit', () => resolve());
    });
    process.stdout.write('stopping\n');
    return 0;
  } finally {
    await cleanup();
  }
}

/** The thermostat's DeviceModel and Device, as a user would write them. */
export function thermostatManifests(port: number, node = 'edge-quickstart'): string {
  return `apiVersion: devices.kubeedge.io/v1beta1
kind: DeviceModel
metadata:
  name: thermostat
spec:
  properties:
    - {name: temperature, type: FLOAT, accessMode: ReadOnly, unit: C}
    - {name: setpoint, type: FLOAT, accessMode: ReadWrite, unit: C}
    - {name: heating, type: BOOLEAN, accessMode: ReadOnly}
---
apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata:
  name: thermostat-1
spec:
  deviceModelRef: {name: thermostat}
  nodeName: ${node}
  protocol:
    protocolName: modbus
    configData: {ip: 127.0.0.1, port: ${port}, slaveID: 1}
  properties:
    - name: temperature
      collectCycle: 1000
      visitors: {protocolName: modbus, configData: {register: InputRegister, offset: 0, dataType: int16, scale: 0.1}}
    - name: setpoint
      collectCycle: 1000
      desired: {value: "21"}
      visitors: {protocolName: modbus, configData: {register: HoldingRegister, offset: 0, dataType: int16, scale: 0.1}}
    - name: heating
      collectCycle: 1000
      visitors: {protocolName: modbus, configData: {register: CoilRegister, offset: 0}}
`;
}
