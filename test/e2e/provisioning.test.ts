import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../peers/proc.js';
import { pidsWith } from '../peers/pods.js';
import { alive } from '../../keadm/service.js';
import { fetchCa, requestCertificate } from '../../core/pki/edge-certificate.js';
import { makeJoinToken } from '../../core/pki/tokens.js';
import { createCA } from '../../core/pki/pki.js';
import { edgeCsrDer, newEdgeKeyPem } from '../../core/pki/csr.js';
import { parseToken } from '../../core/pki/token.js';
import { makeCluster, eventually, readyOf, device, type Cluster } from './cluster.js';

const keadm = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [join(ROOT, 'dist', 'keadm.js'), ...args], { encoding: 'utf8', env: { ...process.env, CHECK_EDGECORE_ENVIRONMENT: 'false', ...env }, timeout: 90_000 });

/** every file under a folder (what a reset must leave empty) */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => join(d.parentPath, d.name));
}

describe('keadm init, gettoken, join and reset', () => {
  const base = mkdtempSync(join(tmpdir(), 'ke-keadm-'));
  const cloud = ['--config-dir', join(base, 'cloud', 'etc'), '--data-dir', join(base, 'cloud', 'var')];
  const edge = ['--config-dir', join(base, 'edge', 'etc'), '--data-dir', join(base, 'edge', 'var')];
  afterAll(() => {
    keadm(['reset', ...edge]);
    keadm(['reset', '--force', ...cloud]);
    rmSync(base, { recursive: true, force: true });
  });

  it('joins an edge that reaches Ready, and reset leaves nothing running or written', async () => {
    const init = keadm(['init', '--advertise-address', '127.0.0.1', ...cloud]);
    expect(init.stderr).toBe('');
    expect(init.stdout).toMatch(/^KubeEdge cloudcore is running, For logs visit: \S+cloudcore\.log$/m);
    const token = keadm(['gettoken', ...cloud]).stdout.trim();
    expect(token).toMatch(/^[0-9a-f]{64}\.[\w-]+\.[\w-]+\.[\w-]+$/);
    const caDer = new X509Certificate(readFileSync(join(base, 'cloud', 'etc', 'ca', 'rootCA.crt'))).raw;
    expect(parseToken(token).caHash).toBe(execFileSync('sha256sum', { input: caDer, encoding: 'utf8' }).split(' ')[0]);

    // beside a running cloudcore (started by keadm: node flags before the script), join stops before the cloud issues anything
    const beside = keadm(['join', '--cloudcore-ipport=127.0.0.1:10000', `--token=${token}`, '--edgenode-name', 'pi-1', ...edge], { CHECK_EDGECORE_ENVIRONMENT: '' });
    expect(beside.status).toBe(1);
    expect(beside.stderr.trim()).toMatch(/^keadm join: a cloudcore runs on this host \(pid \d+\); join from another host, or set CHECK_EDGECORE_ENVIRONMENT=false to run edgecore beside it$/);
    expect(readFileSync(join(base, 'cloud', 'var', 'cloudcore.log'), 'utf8')).not.toMatch(/issued the certificate of node pi-1/);
    expect(filesUnder(join(base, 'edge'))).toEqual([]);

    // as copied from KubeEdge's docs: its flags that mean nothing here are said and ignored; --labels is honoured
    const joined = keadm(['join', '--cloudcore-ipport=127.0.0.1:10000', `--token=${token}`, '--edgenode-name', 'pi-1', '--kubeedge-version=v1.23.0', '--with-mqtt', '--labels', 'room=hall,floor=2', ...edge]);
    expect(joined.stderr).toBe("keadm: --kubeedge-version is KubeEdge's; edgecore is this bundle, nothing is downloaded: ignored\nkeadm: --with-mqtt is KubeEdge's; the MQTT broker is built in (modules.eventBus): ignored\n");
    expect(joined.stdout).toMatch(/^KubeEdge edgecore is running, For logs visit: \S+edgecore\.log$/m);
    const edgeYaml = readFileSync(join(base, 'edge', 'etc', 'config', 'edgecore.yaml'), 'utf8');
    expect(edgeYaml).toMatch(new RegExp(`^\\s+token: ${token.replace(/\./g, '\\.')}$`, 'm')); // a line of its own, for sed

    let table = '';
    for (let i = 0; i < 100 && !/^pi-1\s+Ready/m.test(table); i++) {
      table = keadm(['get', 'nodes', ...cloud]).stdout;
      execFileSync('sleep', ['0.2']);
    }
    expect(table).toMatch(/^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION$/m);
    // the roles and version as the edge registers them
    expect(table).toMatch(/^pi-1\s+Ready\s+agent,edge\s+\d+s\s+v\d+\.\d+\.\d+-kubeedge-lite$/m);
    const json = JSON.parse(keadm(['get', 'nodes', 'pi-1', '-o', 'json', ...cloud]).stdout);
    expect(readyOf(json)).toBe('True');
    await eventually(async () => JSON.parse(keadm(['get', 'nodes', 'pi-1', '-o', 'json', ...cloud]).stdout).metadata.labels?.room === 'hall', 10_000, 'the labels of --labels on the Node');
    expect(JSON.parse(keadm(['get', 'nodes', 'pi-1', '-o', 'json', ...cloud]).stdout).metadata.labels).toMatchObject({ room: 'hall', floor: '2' });

    // keadm debug, as KubeEdge names it: what the edge needs, and the node at a glance
    const checked = keadm(['debug', 'check', ...edge]);
    expect(checked.status, checked.stdout).toBe(0);
    expect(checked.stdout).toMatch(/^OK {3}config {6}node pi-1, cloud 127\.0\.0\.1:10000$/m);
    expect(checked.stdout).toMatch(/^OK {3}cloud {7}CloudHub at 127\.0\.0\.1:10000 answers$/m);
    expect(checked.stdout).toMatch(/^OK {3}certificate {1}for system:node:pi-1, from the cloud's CA, 36\d days left$/m);
    expect(checked.stdout).toMatch(/^OK {3}clock {7}within \d+ s of the cloud's$/m);
    expect(checked.stdout).toMatch(/^OK {3}disk {8}\d+ MiB free under /m);
    expect(checked.stdout).toMatch(/^OK {3}broker {6}MQTT at tcp:\/\/127\.0\.0\.1:1884 answers$/m);
    // the same edge pointed at a port where no CloudHub listens: that line fails with the fix, and it exits 1
    const elsewhere = join(base, 'elsewhere');
    cpSync(join(base, 'edge', 'etc'), join(elsewhere, 'etc'), { recursive: true });
    const yamlPath = join(elsewhere, 'etc', 'config', 'edgecore.yaml');
    writeFileSync(yamlPath, readFileSync(yamlPath, 'utf8').replace('server: 127.0.0.1:10000', 'server: 127.0.0.1:1'));
    const failed = keadm(['debug', 'check', '--config-dir', join(elsewhere, 'etc'), '--data-dir', join(base, 'edge', 'var')]);
    expect(failed.status).toBe(1);
    expect(failed.stdout).toMatch(/^FAIL cloud {7}CloudHub at 127\.0\.0\.1:1: connection refused; is cloudcore running there, and port 10000 open between the two\?$/m);
    rmSync(elsewhere, { recursive: true });
    const diagnosed = keadm(['debug', 'diagnose', ...edge]);
    expect(diagnosed.stdout).toMatch(/^node {7}pi-1$/m);
    expect(diagnosed.stdout).toMatch(/^edgecore {3}running \(pid \d+\)$/m);
    expect(diagnosed.stdout).toMatch(/^outbox {5}\d+ waiting for the cloud, 0 collapsed, 0 dropped$/m);
    expect(diagnosed.stdout).toMatch(/^devices {4}none$/m);

    // manifests: several documents from stdin, then get and delete
    const manifests = [
      'apiVersion: devices.kubeedge.io/v1beta1\nkind: DeviceModel\nmetadata: {name: thermometer}\nspec:\n  properties: [{name: temperature, type: FLOAT, accessMode: ReadOnly}]',
      'apiVersion: devices.kubeedge.io/v1beta1\nkind: Device\nmetadata: {name: thermo-1}\nspec:\n  deviceModelRef: {name: thermometer}\n  nodeName: pi-1\n  properties: [{name: temperature}]',
    ].join('\n---\n');
    const applied = spawnSync(process.execPath, [join(ROOT, 'dist', 'keadm.js'), 'apply', '-f', '-', ...cloud], { input: manifests, encoding: 'utf8' });
    expect(applied.stdout).toBe('devicemodel.devices.kubeedge.io/thermometer created\ndevice.devices.kubeedge.io/thermo-1 created\n');
    const again = spawnSync(process.execPath, [join(ROOT, 'dist', 'keadm.js'), 'apply', '-f', '-', ...cloud], { input: manifests, encoding: 'utf8' });
    expect(again.stdout).toBe('devicemodel.devices.kubeedge.io/thermometer unchanged\ndevice.devices.kubeedge.io/thermo-1 unchanged\n');
    const labelled = manifests.replace('metadata: {name: thermo-1}', 'metadata: {name: thermo-1, labels: {room: hall}}');
    const changed = spawnSync(process.execPath, [join(ROOT, 'dist', 'keadm.js'), 'apply', '-f', '-', ...cloud], { input: labelled, encoding: 'utf8' });
    expect(changed.stdout).toBe('devicemodel.devices.kubeedge.io/thermometer unchanged\ndevice.devices.kubeedge.io/thermo-1 configured\n');
    expect(keadm(['get', 'devices', ...cloud]).stdout).toMatch(/^NAME\s+NODE\s+MODEL\s+PROTOCOL\s+STATE\s+REASON\s+AGE\nthermo-1\s+pi-1\s+thermometer\s/);
    const bad = spawnSync(process.execPath, [join(ROOT, 'dist', 'keadm.js'), 'apply', '-f', '-', ...cloud], { input: 'apiVersion: devices.kubeedge.io/v1beta1\nkind: DeviceModel\nmetadata: {name: broken}\nspec: {properties: [{name: x, type: NUMBER}]}', encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/document 1 \(devicemodel.devices.kubeedge.io\/broken\): .*spec.properties\[0\].type: must be one of INT, FLOAT/);
    expect(keadm(['delete', 'device', 'thermo-1', ...cloud]).stdout).toBe('device.devices.kubeedge.io "thermo-1" deleted\n');
    expect(keadm(['get', 'devices', ...cloud]).stdout).toBe('No resources found in default namespace.\n');
    // delete -f: every object of the file; one that is gone already is said, the others go
    const byFile = spawnSync(process.execPath, [join(ROOT, 'dist', 'keadm.js'), 'delete', '-f', '-', ...cloud], { input: manifests, encoding: 'utf8' });
    expect(byFile.stdout).toBe('devicemodel.devices.kubeedge.io "thermometer" deleted\n');
    expect(byFile.stderr).toMatch(/^keadm: -: document 2: .*thermo-1.* not found/);
    expect(byFile.status).toBe(1);

    // a process pod on the node: reset stops it too (process pods outlive edgecore, by design)
    const pod = 'apiVersion: v1\nkind: Pod\nmetadata: {name: keeper}\nspec:\n  nodeName: pi-1\n  runtimeClassName: process\n  containers: [{name: app, image: process, command: [/bin/sh, -c, "while true; do sleep 0.5; done # keeper-pod-e5"]}]';
    expect(spawnSync(process.execPath, [join(ROOT, 'dist', 'keadm.js'), 'apply', '-f', '-', ...cloud], { input: pod, encoding: 'utf8' }).stdout).toBe('pod/keeper created\n');
    for (let i = 0; i < 100 && !/^keeper\s+1\/1\s+Running/m.test(keadm(['get', 'pods', ...cloud]).stdout); i++) execFileSync('sleep', ['0.2']);
    expect(keadm(['get', 'pods', ...cloud]).stdout).toMatch(/^keeper\s+1\/1\s+Running\s+0\s/m);
    const podPids = pidsWith('keeper-pod-e5');
    expect(podPids.length).toBeGreaterThan(0);

    const pids = ['cloud', 'edge'].map((side) => Number(readFileSync(join(base, side, 'var', `${side}core.pid`), 'utf8')));
    expect(pids.every(alive)).toBe(true);
    const edgeReset = keadm(['reset', ...edge]);
    expect(edgeReset.status).toBe(0);
    expect(edgeReset.stdout).toContain("stopped and removed 1 container(s) of this node's pods");
    expect(podPids.some(alive)).toBe(false);
    // the cloud's CA goes only when confirmed: no terminal here, so it refuses and removes nothing
    const unconfirmed = keadm(['reset', ...cloud]);
    expect(unconfirmed.status).toBe(1);
    expect(unconfirmed.stderr.trim()).toMatch(/^keadm reset: this removes the cloud's CA \(\S+rootCA\.key\), and every edge joined to it would have to join again; pass --force to confirm \(there is no terminal to ask on\)$/);
    expect(alive(pids[0] as number)).toBe(true);
    expect(existsSync(join(base, 'cloud', 'etc', 'ca', 'rootCA.key'))).toBe(true);
    expect(keadm(['reset', '--force', ...cloud]).status).toBe(0);
    expect(pids.some(alive)).toBe(false);
    expect(filesUnder(base)).toEqual([]);
  });

  it('fails in one line naming the cause and the fix, and writes nothing', () => {
    const bad = (args: string[], re: RegExp) => {
      const r = keadm(args);
      expect(r.status).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    };
    const dirs = ['--config-dir', join(base, 'x', 'etc'), '--data-dir', join(base, 'x', 'var')];
    const fakeToken = `${'a'.repeat(64)}.eyJhbGciOiJIUzI1NiJ9.${Buffer.from(JSON.stringify({ exp: 1 })).toString('base64url')}.c2ln`;
    bad(['join', '--cloudcore-ipport=127.0.0.1:10000', `--token=${fakeToken}`, ...dirs], /token expired at 1970-01-01.*keadm gettoken/);
    bad(['join', '--cloudcore-ipport=127.0.0.1:10000', '--token=garbage', ...dirs], /token is malformed/);
    const future = `${'a'.repeat(64)}.eyJhbGciOiJIUzI1NiJ9.${Buffer.from(JSON.stringify({ exp: 4e9 })).toString('base64url')}.c2ln`;
    bad(['join', '--cloudcore-ipport=127.0.0.1:1', `--token=${future}`, '--certport', '1', ...dirs], /cannot reach the cloud's certificate service at 127\.0\.0\.1:1: connection refused/);
    bad(['join', '--cloudcore-ipport=127.0.0.1:10000', `--token=${future}`, '--edgenode-name', 'Bad_Name', ...dirs], /node name "Bad_Name" is invalid/);
    bad(['join', '--cloudcore-ipport=somewhere', `--token=${future}`, ...dirs], /is not HOST:PORT \(for example 192.168.1.10:10000 or cloud.example.org:10000\)/);
    bad(['join', `--token=${future}`, ...dirs], /--cloudcore-ipport is required/);
    bad(['gettoken', ...dirs], /run "keadm init" first/);
    bad(['debug', 'check', ...dirs], /^keadm debug: no edgecore config at \S+; run "keadm join" on this host first/);
    bad(['join', '--cloudcore-ipport=127.0.0.1:10000', `--token=${future}`, '--config-dir', '/etc/hostname/kubeedge', '--data-dir', join(base, 'x', 'var')], /cannot write \/etc\/hostname\/kubeedge\/.*\/etc\/hostname is not a folder/);
    expect(filesUnder(join(base, 'x'))).toEqual([]);
  });
});

describe("KubeEdge's binary deployment path, verbatim, on one host", () => {
  it('cloudcore --minconfig, gettoken, sed the token in, edgecore joins and is Ready', () => {
    if (process.getuid?.() !== 0) throw new Error('this test needs root: it lays tmpfs over /etc/kubeedge in a private mount namespace');
    // the mount points, where the host has none: made for the run and removed after it
    const made = ['/etc/kubeedge', '/var/lib/kubeedge'].filter((d) => !existsSync(d));
    for (const d of made) mkdirSync(d);
    let r: SpawnSyncReturns<string>;
    try {
      r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'bash', join(ROOT, 'test', 'e2e', 'binary-path.sh'), join(ROOT, 'dist')], { encoding: 'utf8', timeout: 90_000 });
    } finally {
      for (const d of made) rmdirSync(d);
    }
    expect(r.stdout + r.stderr).toMatch(/a cloudcore runs on this host \(pid \d+\); set CHECK_EDGECORE_ENVIRONMENT=false/);
    expect(r.stdout).toMatch(/BINARY-PATH-OK \S+/);
    expect(r.status).toBe(0);
  });
});

describe('certificates, tokens and the certificate service', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await makeCluster();
    await c.startCloud({ edgeCertSigningDuration: 0.0002 }); // about 17 s, so rotation shows in a test
  });
  afterAll(() => c.stop());
  const httpServer = () => `https://127.0.0.1:${c.certPort}`;

  it('openssl accepts every certificate and shows the right subject, usage, SANs and dates; s_client without a certificate is refused', async () => {
    const token = c.token();
    const ca = await fetchCa(httpServer(), token);
    const pair = await requestCertificate({ httpServer: httpServer(), nodeName: 'edge-ossl', caPem: ca.pem, token });
    const certFile = join(c.dir, 'edge-ossl.crt');
    execFileSync('sh', ['-c', `cat > ${certFile}`], { input: pair.cert });
    expect(execFileSync('openssl', ['verify', '-CAfile', c.pki.caFile, certFile], { encoding: 'utf8' })).toContain(': OK');
    const text = execFileSync('openssl', ['x509', '-in', certFile, '-noout', '-subject', '-ext', 'extendedKeyUsage,keyUsage', '-dates'], { encoding: 'utf8' });
    expect(text).toMatch(/subject=O\s*=\s*system:nodes, CN\s*=\s*system:node:edge-ossl/);
    expect(text).toContain('TLS Web Client Authentication');
    expect(text).not.toContain('TLS Web Server Authentication');
    const notAfter = Date.parse(/notAfter=(.*)/.exec(text)?.[1] ?? '');
    expect(notAfter - Date.now()).toBeGreaterThan(10_000);
    expect(notAfter - Date.now()).toBeLessThan(0.0002 * 86_400_000 + 5_000);

    const server = execFileSync('openssl', ['x509', '-in', c.pki.serverCertFile, '-noout', '-ext', 'subjectAltName,extendedKeyUsage'], { encoding: 'utf8' });
    expect(server).toMatch(/IP Address:127\.0\.0\.1/);
    expect(server).toMatch(/DNS:localhost/);
    expect(execFileSync('openssl', ['verify', '-CAfile', c.pki.caFile, c.pki.serverCertFile], { encoding: 'utf8' })).toContain(': OK');

    // TLS 1.3: the server's refusal is an alert after the client's Finished, so keep stdin open a moment
    const sc = spawnSync('sh', ['-c', `(printf 'GET / HTTP/1.0\r\n\r\n'; sleep 1) | openssl s_client -connect 127.0.0.1:${c.hubPort} -CAfile ${c.pki.caFile}`], { encoding: 'utf8', timeout: 10_000 });
    expect(sc.stdout + sc.stderr).toMatch(/alert certificate required/);
    expect(sc.stdout).not.toMatch(/HTTP\/1\.1/);
    await c.cloud!.waitFor(/refused TLS from .*(certificate|peer did not return)/);
  });

  it('refuses expired, foreign and mismatched credentials with the right status and a logged reason', async () => {
    const caPem = (await fetchCa(httpServer(), c.token())).pem;
    const secret = Buffer.from(readFileSync(join(c.dir, 'tokens', 'tokensecret'), 'utf8').trim(), 'hex');
    const caDer = new X509Certificate(caPem).raw;
    const ask = (nodeName: string, token?: string, current?: { cert: string; key: string }) => requestCertificate({ httpServer: httpServer(), nodeName, caPem, token, current });

    // an expired token (signed by this cloud, 25 h old)
    await expect(ask('edge-s1', makeJoinToken(secret, caDer, Date.now() - 25 * 3600_000))).rejects.toThrow(/refused the join: token refused: token expired/);
    await c.cloud!.waitFor(/refused GET \/edge\.crt .*"edge-s1".*: token refused: token expired/);
    // a JWT signed with another key
    await expect(ask('edge-s2', makeJoinToken(Buffer.alloc(32, 7), caDer, Date.now()))).rejects.toThrow(/token refused: JWT signature does not match this cloud/);
    // a token for another CA: the edge refuses to trust this cloud before it sends anything
    await expect(fetchCa(httpServer(), makeJoinToken(secret, new X509Certificate(createCA().cert).raw, Date.now()))).rejects.toThrow(/does not match the token.*refusing to trust it/);
    // a CSR whose CN names another node: 403
    const key = await newEdgeKeyPem();
    const { request } = await import('node:https');
    const raw = (nodeName: string, body: Buffer, token: string) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = request(`${httpServer()}/edge.crt`, { method: 'GET', ca: caPem, headers: { NodeName: nodeName, Authorization: `Bearer ${parseToken(token).jwt}`, 'content-length': String(body.length) } }, (r) => {
          let t = '';
          r.on('data', (d: Buffer) => (t += d.toString()));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, text: t }));
        });
        req.on('error', reject);
        req.end(body);
      });
    const other = await raw('edge-s3', edgeCsrDer(key, 'edge-other'), c.token());
    expect(other.status).toBe(403);
    expect(other.text).toMatch(/names "system:node:edge-other", not system:node:edge-s3/);
    expect((await raw('edge-s3', Buffer.from('not a csr'), c.token())).status).toBe(400);

    // a renewal with another node's certificate: 403
    const a = await ask('edge-a', c.token());
    await expect(ask('edge-b', undefined, a)).rejects.toThrow(/refused the renewal: certificate of system:node:edge-a may not renew node edge-b/);
    await c.cloud!.waitFor(/certificate of system:node:edge-a may not renew node edge-b/);
    // a renewal with its own certificate works (and may change the key)
    const renewed = await ask('edge-a', undefined, a);
    expect(new X509Certificate(renewed.cert).subject).toContain('CN=system:node:edge-a');
    // a second join under an existing name with another key: 409
    await expect(ask('edge-a', c.token())).rejects.toThrow(/refused the join: node name edge-a is already taken by another key/);
    // ...until that node is deleted
    expect((await c.api.call('DELETE', '/api/v1/nodes/edge-a')).status).toBe(200);
    expect(new X509Certificate((await ask('edge-a', c.token())).cert).subject).toContain('CN=system:node:edge-a');
    expect(c.cloud!.child.exitCode).toBeNull();
  });

  it('an edge joins with only a token, renews its certificate before expiry and reconnects, losing nothing', async () => {
    const edge = await c.startEdge('edge-rot', { token: c.token(), heartbeat: 1 });
    await edge.proc.waitFor(/joined as node edge-rot/);
    await eventually(async () => readyOf((await c.api.call('GET', '/api/v1/nodes/edge-rot')).body) === 'True', 15_000, 'Ready');
    const first = new X509Certificate(readFileSync(join(c.dir, 'edge-rot', 'certs', 'server.crt')));
    // objects created before, during and after the renewal all arrive
    let n = 0;
    const writer = setInterval(() => void c.api.call('POST', '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices', device(`rot-${n++}`, 'edge-rot')), 300);
    await edge.proc.waitFor(/edge certificate renewed; reconnecting with it/, 30_000);
    await eventually(async () => edge.proc.count(/connected to wss:/) >= 2, 15_000, 'reconnected');
    await new Promise((r) => setTimeout(r, 1000));
    clearInterval(writer);
    const second = new X509Certificate(readFileSync(join(c.dir, 'edge-rot', 'certs', 'server.crt')));
    expect(second.serialNumber).not.toBe(first.serialNumber);
    expect(Date.parse(second.validTo)).toBeGreaterThan(Date.parse(first.validTo));
    const created = (await c.api.call('GET', '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices')).body.items.filter((d: any) => d.spec.nodeName === 'edge-rot').length;
    expect(created).toBeGreaterThan(20);
    await eventually(async () => (await edge.meta('/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices')).body.items.length === created, 15_000, 'every device at the edge');
  }, 90_000);
});
