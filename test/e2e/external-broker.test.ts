/**
 * The external broker (mode 2) as KubeEdge configures it: mosquitto with TLS (its clients need a
 * certificate) and a password file, reached with KubeEdge's keys (eventBusTLS, mqttUsername,
 * mqttPassword). edgecore keeps a persistent session, so QoS 1 uploads published while it is
 * SIGKILLed wait in mosquitto and reach the cloud once it is back; a broker that never answers
 * CONNECT is given up on and tried again; a property's pushMethod reaches it too; the passwords are in no log.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, makeCluster, type Cluster, type Edge } from './cluster.js';
import { mqttApp, type App } from '../peers/mqtt.js';
import { freePort } from '../peers/proxy.js';
import { pymodbusSlave } from '../peers/serial.js';

const NODE = 'edge-ext';
const PASSWORD = 'pw-Vq7!kestrel-93';
const PUSH_PASSWORD = 'push-Pw9!heron-41';
const uploadsAtCloud = async (c: Cluster): Promise<number> => (await c.api.call('GET', `/api/v1/nodes/${NODE}`)).body?.status?.uploads?.count ?? 0;

describe('the external broker: mosquitto with TLS and a password, as KubeEdge configures it', () => {
  let c: Cluster;
  let edge: Edge;
  let broker: ChildProcess;
  let port: number;
  let app: App;

  beforeAll(async () => {
    c = await makeCluster();
    await c.startCloud();
    port = await freePort();
    const pw = join(c.dir, 'mosquitto.passwd');
    writeFileSync(pw, '');
    for (const [user, pass] of [['edgecore', PASSWORD], ['app', 'app-pw'], ['pusher', PUSH_PASSWORD]]) {
      const r = spawnSync('mosquitto_passwd', ['-b', pw, user as string, pass as string], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    }
    const conf = join(c.dir, 'mosquitto.conf');
    // persistence off: sessions live as long as the broker, which is what this test needs
    writeFileSync(conf, [`listener ${port} 127.0.0.1`, `cafile ${c.pki.caFile}`, `certfile ${c.pki.serverCertFile}`, `keyfile ${c.pki.serverKeyFile}`, 'require_certificate true', 'allow_anonymous false', `password_file ${pw}`, 'persistence false', 'user root'].join('\n') + '\n');
    broker = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
    const certs = c.pki.edge(NODE);
    // KubeEdge's keys: a tcp:// address with eventBusTLS enabled, the edge's own certificate as the client's
    edge = await c.startEdge(NODE, {
      modules: {
        eventBus: {
          mqttMode: 2,
          mqttServerExternal: `tcp://127.0.0.1:${port}`,
          mqttUsername: 'edgecore',
          mqttPassword: PASSWORD,
          eventBusTLS: { enable: true, tlsMqttCAFile: c.pki.caFile, tlsMqttCertFile: certs.certFile, tlsMqttPrivateKeyFile: certs.keyFile },
        },
      },
    });
    await edge.proc.waitFor(/connected to the external MQTT broker tls:\/\/127\.0\.0\.1:\d+ as edgecore-edge-ext/, 15_000);
    const appCert = c.pki.edge('mqtt-app');
    app = await mqttApp(`mqtts://127.0.0.1:${port}`, [], { ca: c.pki.ca.cert, cert: appCert.cert, key: appCert.key, username: 'app', password: 'app-pw' });
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    broker?.kill('SIGKILL');
    await c?.stop();
  });

  it('20 QoS 1 uploads published while edgecore is SIGKILLed all reach the cloud after it restarts', async () => {
    await app.publish('$hw/events/upload/ext', { seq: 'before' });
    await eventually(async () => (await uploadsAtCloud(c)) === 1, 15_000, 'the first upload at the cloud');
    await edge.proc.kill('SIGKILL');
    for (let i = 0; i < 20; i++) await app.publish(`$hw/events/upload/ext/${i}`, { seq: i });
    await edge.restart();
    await edge.proc.waitFor(/connected to the external MQTT broker .* \(its session was kept\)/, 15_000);
    await eventually(async () => (await uploadsAtCloud(c)) === 21, 20_000, '21 uploads at the cloud');
    const node = (await c.api.call('GET', `/api/v1/nodes/${NODE}`)).body;
    const topics = (node.status.uploads.topics as { topic: string }[]).map((u) => u.topic);
    for (let i = 0; i < 20; i++) expect(topics).toContain(`$hw/events/upload/ext/${i}`);
    // and twins answer through the same broker
    const twinApp = await mqttApp(`mqtts://127.0.0.1:${port}`, ['$hw/events/node/#'], { ca: c.pki.ca.cert, cert: c.pki.edge('mqtt-app').cert, key: c.pki.edge('mqtt-app').key, username: 'app', password: 'app-pw' });
    try {
      const r = await twinApp.request(`$hw/events/node/${NODE}/membership/get`);
      expect(r.devices).toEqual([]);
    } finally {
      await twinApp.close();
    }
  });

  it('a property\'s pushMethod reaches this broker too: TLS with the eventBusTLS certificate, credentials in its address', async () => {
    const modbusPort = await freePort();
    const slave = await pymodbusSlave('tcp', modbusPort);
    try {
      await app.client.subscribeAsync('plant/ext/#', { qos: 1 });
      const API = '/apis/devices.kubeedge.io/v1beta1/namespaces/default';
      await c.api.call('POST', `${API}/devicemodels`, { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'DeviceModel', metadata: { name: 'meter' }, spec: { properties: [{ name: 'temperature', type: 'FLOAT', accessMode: 'ReadOnly' }] } });
      const pushMethod = { mqtt: { address: `ssl://pusher:${PUSH_PASSWORD}@127.0.0.1:${port}`, topic: 'plant/ext/temperature', qos: 1 } };
      const properties = [{ name: 'temperature', collectCycle: 200, reportCycle: 500, pushMethod, visitors: { protocolName: 'modbus', configData: { register: 'InputRegister', offset: 0, dataType: 'int16', scale: 0.1 } } }];
      const device = { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'Device', metadata: { name: 'meter' }, spec: { deviceModelRef: { name: 'meter' }, nodeName: NODE, protocol: { protocolName: 'modbus', configData: { ip: '127.0.0.1', port: modbusPort, slaveID: 1 } }, properties } };
      expect((await c.api.call('POST', `${API}/devices`, device)).status).toBe(201);
      const reading = await app.next('plant/ext/temperature', (b) => b.value === '21.5', 30_000);
      expect(reading).toMatchObject({ deviceName: 'meter', namespace: 'default', propertyName: 'temperature', type: 'float' });
    } finally {
      await slave.stop();
    }
  });

  it('a wrong password is named as such, and no password is in any log', async () => {
    const other = await c.startEdge('edge-ext-bad', {
      modules: {
        eventBus: {
          mqttMode: 2,
          mqttServerExternal: `ssl://127.0.0.1:${port}`,
          mqttUsername: 'edgecore',
          mqttPassword: 'not-the-password-1234',
          eventBusTLS: { enable: true, tlsMqttCAFile: c.pki.caFile, tlsMqttCertFile: c.pki.edge('edge-ext-bad').certFile, tlsMqttPrivateKeyFile: c.pki.edge('edge-ext-bad').keyFile },
        },
      },
    });
    await other.proc.waitFor(/refused the connection: (bad user name or password|not authorized: check) .*mqttUsername.* mqttPassword/, 15_000);
    const logs = [...edge.proc.lines, ...other.proc.lines, ...(c.cloud?.lines ?? [])].join('\n');
    expect(logs).not.toContain(PASSWORD);
    expect(logs).not.toContain('not-the-password-1234');
    expect(logs).not.toContain(PUSH_PASSWORD);
    await other.proc.kill('SIGKILL');
  });
});

describe('a broker that never answers CONNECT', () => {
  let c: Cluster;
  let silent: Server;
  let connections = 0;
  beforeAll(async () => {
    c = await makeCluster();
    await c.startCloud();
    silent = createServer((s) => {
      connections++;
      s.on('error', () => undefined); // holds the socket, says nothing
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    silent?.close();
    await c?.stop();
  });

  it('is given up on within mqttConnectTimeout and tried again, with back-off', async () => {
    const port = (silent.address() as { port: number }).port;
    const edge = await c.startEdge('edge-silent', { modules: { eventBus: { mqttMode: 2, mqttServerExternal: `tcp://127.0.0.1:${port}`, mqttConnectTimeout: 1 } } });
    await edge.proc.waitFor(/external MQTT broker tcp:\/\/127\.0\.0\.1:\d+ sent no CONNACK within 1 s; trying again/, 10_000);
    await eventually(async () => connections >= 3, 15_000, 'three attempts');
    expect(edge.proc.count(/sent no CONNACK within 1 s/)).toBeGreaterThanOrEqual(2);
  });
});
