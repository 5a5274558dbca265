/**
 * pushMethod: a Modbus property's readings reach a mosquitto topic and an HTTP server of the
 * user's, once per reportCycle; while the HTTP server is down they are counted as failed in
 * /metrics and tried again, the device keeps being read, and they arrive once it is back. The
 * dbMethod backends this edge does not implement are refused by name at apply time.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, makeCluster, statusTwin, type Cluster, type Edge } from './cluster.js';
import { mqttApp, startMosquitto, type App } from '../peers/mqtt.js';
import { pymodbusSlave } from '../peers/serial.js';
import { freePort } from '../peers/proxy.js';
import { sample } from '../peers/metrics.js';

const API = '/apis/devices.kubeedge.io/v1beta1/namespaces/default';

describe('pushMethod: readings to the user’s broker and HTTP endpoint', () => {
  let c: Cluster;
  let edge: Edge;
  let slave: Awaited<ReturnType<typeof pymodbusSlave>>;
  let broker: Awaited<ReturnType<typeof startMosquitto>>;
  let app: App;
  let httpPort: number;
  let http: Server | undefined;
  const posts: { path: string; body: any }[] = [];
  const serve = (): Promise<void> =>
    new Promise((resolve) => {
      http = createServer((req, res) => {
        let body = '';
        req.on('data', (d: Buffer) => (body += d.toString()));
        req.on('end', () => {
          posts.push({ path: req.url ?? '', body: JSON.parse(body) });
          res.end('ok');
        });
      }).listen(httpPort, '127.0.0.1', () => resolve());
    });
  const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${edge.metaPort}/metrics`)).text();
  const pushes = async (method: string, outcome: string): Promise<number> => sample(await metrics(), 'edgecore_device_pushes_total', { device: 'default/meter', property: 'temperature', method, outcome }) ?? 0;

  beforeAll(async () => {
    const port = await freePort();
    slave = await pymodbusSlave('tcp', port);
    c = await makeCluster();
    broker = await startMosquitto(c.dir);
    app = await mqttApp(broker.port, ['plant/#']);
    httpPort = await freePort();
    await serve();
    await c.startCloud();
    edge = await c.startEdge('edge-push');
    expect((await c.api.call('POST', `${API}/devicemodels`, { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'DeviceModel', metadata: { name: 'meter' }, spec: { properties: [{ name: 'temperature', type: 'FLOAT', accessMode: 'ReadOnly' }] } })).status).toBe(201);
    const device = {
      apiVersion: 'devices.kubeedge.io/v1beta1',
      kind: 'Device',
      metadata: { name: 'meter' },
      spec: {
        deviceModelRef: { name: 'meter' },
        nodeName: 'edge-push',
        protocol: { protocolName: 'modbus', configData: { ip: '127.0.0.1', port, slaveID: 1, timeout: 300 } },
        properties: [
          {
            name: 'temperature',
            collectCycle: 200,
            reportCycle: 1000,
            visitors: { protocolName: 'modbus', configData: { register: 'InputRegister', offset: 0, dataType: 'int16', scale: 0.1 } },
            pushMethod: { mqtt: { address: `tcp://127.0.0.1:${broker.port}`, topic: 'plant/meter/temperature', qos: 1, retained: false }, http: { hostName: '127.0.0.1', port: httpPort, requestPath: '/readings', timeout: 1000 } },
          },
        ],
      },
    };
    expect((await c.api.call('POST', `${API}/devices`, device)).status).toBe(201);
  });
  afterAll(async () => {
    http?.close();
    await app?.close();
    await broker?.stop();
    await slave?.stop();
    await c?.stop();
  });

  it('each reading reaches the MQTT topic and the HTTP endpoint, once per reportCycle', async () => {
    await eventually(async () => app.received.length >= 3 && posts.length >= 3, 30_000, 'three pushes on each');
    const mq = app.received.filter((m) => m.topic === 'plant/meter/temperature').map((m) => m.body);
    expect(mq[0]).toMatchObject({ deviceName: 'meter', namespace: 'default', propertyName: 'temperature', value: '21.5', type: 'float' });
    expect(posts[0]).toMatchObject({ path: '/readings', body: { deviceName: 'meter', propertyName: 'temperature', value: '21.5' } });
    // read every 200 ms, pushed at most once per reportCycle (1000 ms)
    const gaps = mq.slice(1).map((m, i) => m.timestamp - mq[i].timestamp);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(1000);
    expect(await pushes('mqtt', 'ok')).toBeGreaterThanOrEqual(3);
    // and the twin goes to the cloud as ever
    await eventually(async () => (await statusTwin(c, 'meter', 'temperature'))?.reported?.value === '21.5', 20_000, 'the twin in status.twins');
  });

  it('while the HTTP server is down, pushes are counted as failed and tried again; reads go on; they arrive once it is back', async () => {
    await new Promise<void>((r) => http?.close(() => r()));
    http?.closeAllConnections();
    const readsBefore = sample(await metrics(), 'edgecore_device_property_reads_total', { device: 'default/meter' }) ?? 0;
    const mqttBefore = app.received.length;
    await eventually(async () => (await pushes('http', 'failed')) >= 2, 30_000, 'failed HTTP pushes in /metrics');
    // the device is still read, and its MQTT pushes go on
    expect(sample(await metrics(), 'edgecore_device_property_reads_total', { device: 'default/meter' }) ?? 0).toBeGreaterThan(readsBefore + 5);
    expect(app.received.length).toBeGreaterThan(mqttBefore);
    const postsBefore = posts.length;
    await serve();
    await eventually(async () => posts.length > postsBefore + 1, 40_000, 'pushes again once the server is back');
    expect(edge.proc.child.exitCode).toBeNull();
  });

  it('refuses a dbMethod this edge does not implement, by name, at apply time', async () => {
    const bad = (await c.api.call('GET', `${API}/devices/meter`)).body;
    bad.metadata = { name: 'meter-2' };
    bad.spec.properties[0].pushMethod = { dbMethod: { influxdb2: { influxdb2ClientConfig: { url: 'http://influx:8086' } } }, mqtt: { address: 'localhost:1883', topic: 't' } };
    const r = await c.api.call('POST', `${API}/devices`, bad);
    expect(r.status).toBe(422);
    const causes = r.body.details.causes.map((x: any) => `${x.field}: ${x.message}`);
    expect(causes).toContain('spec.properties[0].pushMethod.dbMethod.influxdb2: is not implemented by this edge: pushMethod takes mqtt and http');
    expect(causes.some((m: string) => m.startsWith('spec.properties[0].pushMethod.mqtt.address: must be tcp://HOST:PORT'))).toBe(true);
    expect((await c.api.call('GET', `${API}/devices/meter-2`)).status).toBe(404);
  });
});
