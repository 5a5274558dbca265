/**
 * mapper-opcua (dist/mapper-opcua.js) with our edgecore over DMI, against node-opcua's server
 * holding a simulated boiler: readings arrive in status.twins, and at a pushMethod's endpoint; a desired setpoint is written to the
 * server, and one it refuses is said in the Device's status with the server's status code; the
 * server is SIGKILLed and started again, and the readings come back; with SignAndEncrypt, a client
 * certificate (from files) that the server does not trust is refused, with that reason in the status,
 * and one it takes gives an encrypted session, or a signed one.
 */
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, makeCluster, statusTwin, type Cluster } from './cluster.js';
import { ROOT, runBundle, runProcess, type Proc } from '../peers/proc.js';
import { freePort } from '../peers/proxy.js';

const API = '/apis/devices.kubeedge.io/v1beta1/namespaces/default';
const BOILER = resolve(ROOT, 'test/peers/opcua-boiler.mjs');

const model = {
  apiVersion: 'devices.kubeedge.io/v1beta1',
  kind: 'DeviceModel',
  metadata: { name: 'boiler-model' },
  spec: {
    protocol: 'opcua',
    properties: [
      { name: 'temperature', type: 'FLOAT', accessMode: 'ReadOnly', unit: 'C' },
      { name: 'pressure', type: 'FLOAT', accessMode: 'ReadOnly', unit: 'bar' },
      { name: 'setpoint', type: 'FLOAT', accessMode: 'ReadWrite', unit: 'C' },
    ],
  },
};

const boiler = (name: string, url: string, security: Record<string, string>, pushPort?: number) => ({
  apiVersion: 'devices.kubeedge.io/v1beta1',
  kind: 'Device',
  metadata: { name },
  spec: {
    deviceModelRef: { name: 'boiler-model' },
    nodeName: 'edge-ua',
    protocol: { protocolName: 'opcua', configData: { url, ...security } },
    properties: [
      { name: 'temperature', collectCycle: 200, reportCycle: 300, visitors: { protocolName: 'opcua', configData: { nodeID: 'ns=2;s=Temperature', subscribe: true } }, ...(pushPort ? { pushMethod: { http: { hostName: '127.0.0.1', port: pushPort, requestPath: '/boiler' } } } : {}) },
      { name: 'pressure', collectCycle: 300, reportCycle: 300, visitors: { protocolName: 'opcua', configData: { nodeID: 'ns=2;s=Pressure' } } },
      { name: 'setpoint', collectCycle: 300, desired: { value: '55' }, visitors: { protocolName: 'opcua', configData: { nodeID: 'ns=2;s=Setpoint' } } },
    ],
  },
});

describe('mapper-opcua: an OPC UA boiler through DMI', () => {
  let c: Cluster;
  let mapper: Proc;
  let server: Proc;
  let strict: Proc;
  let port: number;
  let pushPort: number;
  let pushes: Server | undefined;
  const pushed: any[] = [];
  const startBoiler = async (p: number, pki: string, mode: 'open' | 'strict'): Promise<Proc> => {
    const proc = runProcess(process.execPath, [BOILER, String(p), pki, mode], {}, `boiler-${mode}`);
    await proc.waitFor(/^ready$/, 60_000);
    return proc;
  };
  const ready = async (name: string): Promise<{ status: string; reason: string; message: string } | undefined> =>
    (await c.api.call('GET', `${API}/devices/${name}`)).body?.status?.conditions?.find((x: { type: string }) => x.type === 'Ready');
  const reported = async (name: string, prop: string): Promise<string | undefined> => (await statusTwin(c, name, prop))?.reported?.value;

  beforeAll(async () => {
    c = await makeCluster();
    port = await freePort();
    server = await startBoiler(port, join(c.dir, 'boiler-pki'), 'open');
    await c.startCloud();
    await c.startEdge('edge-ua');
    mapper = runBundle('mapper-opcua', ['--dmi-socket', join(c.dir, 'edge-ua', 'dmi.sock'), '--socket', join(c.dir, 'mapper-opcua.sock'), '--pki-dir', join(c.dir, 'mapper-pki')]);
    await mapper.waitFor(/registered with edgecore/, 20_000);
    expect((await c.api.call('POST', `${API}/devicemodels`, model)).status).toBe(201);
    pushPort = await freePort();
    pushes = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        pushed.push(JSON.parse(body));
        res.end();
      });
    }).listen(pushPort, '127.0.0.1');
    expect((await c.api.call('POST', `${API}/devices`, boiler('boiler', `opc.tcp://127.0.0.1:${port}/UA/Boiler`, { securityMode: 'None' }, pushPort))).status).toBe(201);
  }, 120_000);
  afterAll(async () => {
    pushes?.close();
    await mapper?.kill('SIGKILL');
    await server?.kill('SIGKILL');
    await strict?.kill('SIGKILL');
    await c?.stop();
  });

  it('readings arrive in status.twins: a monitored item and a polled one', async () => {
    await eventually(async () => /^6\d(\.5)?$/.test((await reported('boiler', 'temperature')) ?? ''), 30_000, 'temperature in status.twins');
    await eventually(async () => /^1\.\d+$/.test((await reported('boiler', 'pressure')) ?? ''), 30_000, 'pressure in status.twins');
    expect(await ready('boiler')).toMatchObject({ status: 'True', reason: 'Reading' });
    // and its pushMethod: the mapper posts each reading to the user's endpoint, once per reportCycle
    await eventually(async () => pushed.length >= 2, 20_000, 'two pushes');
    expect(pushed[0]).toMatchObject({ deviceName: 'boiler', namespace: 'default', propertyName: 'temperature', type: 'float' });
    expect(pushed[0].value).toMatch(/^6\d(\.5)?$/);
    expect(pushed[1].timestamp - pushed[0].timestamp).toBeGreaterThanOrEqual(300);
  });

  it('a desired setpoint is written to the server; one it refuses is said with its status code', async () => {
    await server.waitFor(/^setpoint 55$/, 20_000);
    await eventually(async () => (await reported('boiler', 'setpoint')) === '55', 20_000, 'setpoint 55 read back');
    const cur = (await c.api.call('GET', `${API}/devices/boiler`)).body;
    cur.spec.properties[2].desired.value = '500';
    // a reading's status write between the GET and the PUT moves the resourceVersion (409, as Kubernetes does): not what this tests
    delete cur.metadata.resourceVersion;
    expect((await c.api.call('PUT', `${API}/devices/boiler`, cur)).status).toBe(200);
    await eventually(async () => (await ready('boiler'))?.reason === 'WriteRefused', 20_000, 'WriteRefused in the status');
    expect(await ready('boiler')).toMatchObject({ status: 'False', message: 'setpoint = 500: BadOutOfRange' });
    expect(await reported('boiler', 'setpoint')).toBe('55');
    // a value it takes: written, and the condition is Reading again
    cur.spec.properties[2].desired.value = '60';
    expect((await c.api.call('PUT', `${API}/devices/boiler`, cur)).status).toBe(200);
    await server.waitFor(/^setpoint 60$/, 20_000);
    await eventually(async () => (await ready('boiler'))?.reason === 'Reading', 20_000, 'Reading after a write the server took');
  });

  it('the server is SIGKILLed and started again: the device says so, then the readings come back', async () => {
    await server.kill('SIGKILL');
    await eventually(async () => (await ready('boiler'))?.reason === 'ServerUnreachable', 30_000, 'ServerUnreachable in the status');
    const before = (await statusTwin(c, 'boiler', 'temperature'))?.reported?.metadata?.timestamp;
    server = await startBoiler(port, join(c.dir, 'boiler-pki'), 'open');
    await eventually(async () => (await ready('boiler'))?.reason === 'Reading', 60_000, 'Reading again');
    await eventually(async () => (await statusTwin(c, 'boiler', 'temperature'))?.reported?.metadata?.timestamp !== before, 30_000, 'a new temperature');
    // a restarted server starts at its default (20): the desired value is written to it again
    await server.waitFor(/^setpoint 60$/, 20_000);
    await eventually(async () => (await reported('boiler', 'setpoint')) === '60', 20_000, 'setpoint 60 again');
    expect(mapper.child.exitCode).toBeNull();
  });

  it('a changed Device is connected again without leaving its old session on the server', async () => {
    const connects = mapper.count(/default\/boiler: connected to/);
    const cur = (await c.api.call('GET', `${API}/devices/boiler`)).body;
    cur.spec.properties[1].collectCycle = 400;
    delete cur.metadata.resourceVersion;
    expect((await c.api.call('PUT', `${API}/devices/boiler`, cur)).status).toBe(200);
    await eventually(async () => mapper.count(/default\/boiler: connected to/) > connects, 20_000, 'connected again');
    await new Promise((r) => setTimeout(r, 1000));
    const said = server.lines.filter((l) => /^sessions \d+$/.test(l));
    expect(said.at(-1)).toBe('sessions 1');
    expect(said.every((l) => Number(l.split(' ')[1]) <= 2)).toBe(true); // the new one may open before the old one closes
  });

  it('with SignAndEncrypt, a client certificate the server does not trust is refused, with the reason in the status', async () => {
    const certDir = join(c.dir, 'client-cert');
    execFileSync('mkdir', ['-p', certDir]);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '30', '-subj', '/CN=mapper-opcua', '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem'), '-addext', 'subjectAltName=URI:urn:kubeedge-lite:mapper-opcua,DNS:localhost', '-addext', 'keyUsage=critical,digitalSignature,nonRepudiation,keyEncipherment,dataEncipherment', '-addext', 'extendedKeyUsage=clientAuth,serverAuth'], { stdio: 'ignore' });
    const strictPort = await freePort();
    strict = await startBoiler(strictPort, join(c.dir, 'strict-pki'), 'strict');
    const secure = { securityMode: 'SignAndEncrypt', securityPolicy: 'Basic256Sha256', certificateFile: join(certDir, 'cert.pem'), privateKeyFile: join(certDir, 'key.pem') };
    expect((await c.api.call('POST', `${API}/devices`, boiler('boiler-secure', `opc.tcp://127.0.0.1:${strictPort}/UA/Boiler`, secure))).status).toBe(201);
    await eventually(async () => (await ready('boiler-secure'))?.reason === 'CertificateRefused', 60_000, 'CertificateRefused for the untrusted certificate');
    expect((await ready('boiler-secure'))?.message).toContain(`the server refused the SignAndEncrypt secure channel: it does not trust the client certificate ${join(certDir, 'cert.pem')}`);
    expect(await strict.waitFor(/BadCertificateUntrusted/)).toBeTruthy(); // the server's own word for it
    expect(await reported('boiler-secure', 'temperature')).toBeUndefined();
    // the first boiler, unaffected
    expect((await ready('boiler'))?.status).toBe('True');
    // the same certificate files with a server that takes them: an encrypted session, and readings
    expect((await c.api.call('POST', `${API}/devices`, boiler('boiler-encrypted', `opc.tcp://127.0.0.1:${port}/UA/Boiler`, secure))).status).toBe(201);
    await eventually(async () => /^6\d(\.5)?$/.test((await reported('boiler-encrypted', 'temperature')) ?? ''), 60_000, 'readings over SignAndEncrypt');
    expect(mapper.lines.some((l) => /default\/boiler-encrypted: connected to .* \(SignAndEncrypt\)/.test(l))).toBe(true);
    // and signed only
    expect((await c.api.call('POST', `${API}/devices`, boiler('boiler-signed', `opc.tcp://127.0.0.1:${port}/UA/Boiler`, { ...secure, securityMode: 'Sign' }))).status).toBe(201);
    await eventually(async () => /^6\d(\.5)?$/.test((await reported('boiler-signed', 'temperature')) ?? ''), 60_000, 'readings over Sign');
    expect(mapper.lines.some((l) => /default\/boiler-signed: connected to .* \(Sign\)/.test(l))).toBe(true);
  });
});
