/**
 * Pods that cannot run, and the kubelet behaviour users lean on: a field the edge does not run, a
 * bad name, a missing ConfigMap, a command that does not exist, a pod bound to another node (and a
 * node speaking for it), binding by nodeSelector, liveness and readiness probes, a followed log.
 * Through all of it edgecore stays up and a healthy pod keeps its process.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, makeCluster, type Cluster, type Edge } from './cluster.js';
import { alive, appPid, apply, containerStatus, keadm, podRow, podStatus } from '../peers/pods.js';
import { openRawEdge } from '../peers/rawedge.js';
import { ROOT } from '../peers/proc.js';
import { cborCodec } from '../../core/codec.js';
import { newMessage } from '../../core/message.js';

const NODE = 'edge-checks';
const PODS = '/api/v1/namespaces/default/pods';

const proc = (name: string, container: Record<string, unknown>, spec: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name },
  spec: { runtimeClassName: 'process', nodeName: NODE, containers: [{ name: 'app', image: 'process', ...container }], ...spec },
});

describe('pods: refusals, reasons, binding, probes, logs', () => {
  let c: Cluster;
  let edge: Edge;
  let root: string;
  let healthyPid: number;

  beforeAll(async () => {
    c = await makeCluster();
    await c.startCloud();
    edge = await c.startEdge(NODE, { modules: { edged: { nodeLabels: { site: 'plant-1' } } } });
    root = join(c.dir, NODE, 'edged');
    await apply(c, proc('healthy', { command: ['/bin/sh', '-c', 'while true; do echo tick; sleep 0.2; done'] }));
    await eventually(async () => containerStatus(await podStatus(c, 'healthy'))?.state.running, 20_000, 'healthy running');
    const healthyUid = (await c.api.call('GET', `${PODS}/healthy`)).body.metadata.uid;
    healthyPid = await eventually(async () => appPid(root, healthyUid), 10_000, "healthy's process"); // running is reported as the shim starts
  });
  afterAll(async () => {
    await c?.stop();
  });

  it('refuses what it does not run with 422 naming the field, and a bad name', async () => {
    const refused = async (body: any, field: string): Promise<void> => {
      const r = await c.api.call('POST', `/api/v1/namespaces/default/${body.kind.toLowerCase()}s`, body);
      expect(r.status).toBe(422);
      expect(r.body.reason).toBe('Invalid');
      expect(r.body.details.causes.map((x: any) => x.field)).toContain(field);
      expect(r.body.message).toContain(field);
    };
    await refused(proc('x1', { command: ['true'], securityContext: { runAsUser: 1000 } }), 'spec.containers[0].securityContext');
    await refused(proc('x2', { command: ['true'] }, { initContainers: [] }), 'spec.initContainers');
    await refused(proc('x3', { command: ['true'], livenessProbe: { grpc: { port: 1 } } }), 'spec.containers[0].livenessProbe.grpc');
    await refused(proc('x4', { command: ['true'], volumeMounts: [{ name: 'nope', mountPath: '/x' }] }), 'spec.containers[0].volumeMounts[0].name');
    await refused(proc('x5', { command: ['true'], resources: { limits: { memory: 'lots' } } }), 'spec.containers[0].resources.limits.memory');
    await refused(proc('x6', {}), 'spec.containers[0].command');
    await refused({ ...proc('x7', { command: ['true'] }), metadata: { name: 'Bad_Name' } }, 'metadata.name');
    await refused({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' }, data: { 'bad key': 'v' } }, 'data.bad key');
    // keadm says it in one line and exits non-zero
    const r = await keadm(c, ['apply', '-f', '-'], 'apiVersion: v1\nkind: Pod\nmetadata: {name: y}\nspec: {containers: [{name: app, image: i, tty: true}]}\n');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^keadm: -: document 1 \(pod\/y\): Pod "y" is invalid: spec.containers\[0\].tty: is not supported/);
    expect((await c.api.call('GET', `${PODS}/y`)).status).toBe(404);
  });

  it('says why a pod cannot start: a missing ConfigMap, a command that does not exist', async () => {
    await apply(
      c,
      proc('needs-config', { command: ['/bin/sh', '-c', 'sleep 100'], volumeMounts: [{ name: 'cfg', mountPath: `${c.dir}/m/cfg` }] }, { volumes: [{ name: 'cfg', configMap: { name: 'missing' } }] }),
      proc('no-command', { command: ['no-such-command-xyz'] }),
    );
    const cfg = await eventually(async () => containerStatus(await podStatus(c, 'needs-config'))?.state.waiting, 15_000, 'needs-config waiting');
    expect(cfg).toEqual({ reason: 'CreateContainerConfigError', message: 'configmap "missing" not found (volume cfg)' });
    const cmd = await eventually(async () => containerStatus(await podStatus(c, 'no-command'))?.state.waiting, 15_000, 'no-command waiting');
    expect(cmd).toEqual({ reason: 'RunContainerError', message: 'exec: "no-such-command-xyz": executable file not found in $PATH' });
    expect((await podRow(c, 'needs-config'))?.STATUS).toBe('CreateContainerConfigError');
    // the ConfigMap arrives: the pod starts
    await apply(c, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'missing' }, data: { k: 'v' } });
    await eventually(async () => containerStatus(await podStatus(c, 'needs-config'))?.state.running, 15_000, 'needs-config running once its ConfigMap exists');
  });

  it('does not run a pod bound to another node, and refuses a node speaking for it', async () => {
    await apply(c, { ...proc('elsewhere', { command: ['/bin/sh', '-c', 'echo elsewhere-ran; sleep 100'] }), spec: { ...proc('x', {}).spec, nodeName: 'other-node', containers: [{ name: 'app', image: 'process', command: ['/bin/sh', '-c', 'sleep 100'] }] } });
    // a node that tries to report it is logged and skipped
    const pki = c.pki.edge('edge-rogue');
    const rogue = await openRawEdge({ port: c.hubPort, node: 'edge-rogue', ca: c.pki.ca.cert, cert: readFileSync(pki.certFile, 'utf8'), key: readFileSync(pki.keyFile, 'utf8') });
    rogue.keepalive();
    rogue.sendRaw(Buffer.from(cborCodec.encode(newMessage({ source: 'edged', group: 'resource', operation: 'update', resource: 'default/podstatus/elsewhere' }, { phase: 'Running', conditions: [] })) as Uint8Array));
    await c.cloud?.waitFor(/edge-rogue: status for pod default\/elsewhere, which is bound to other-node; skipped/, 5000);
    const st = await podStatus(c, 'elsewhere');
    expect(st.phase).toBe('Pending');
    expect(st.conditions[0]).toMatchObject({ type: 'PodScheduled', status: 'True' });
    expect((await edge.meta(`${PODS}/elsewhere`)).status).toBe(404);
    rogue.ws.close();
  });

  it('binds a pod by nodeSelector to a matching Ready node; an unmatched one stays Pending and says why', async () => {
    await apply(
      c,
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'by-label' }, spec: { runtimeClassName: 'process', nodeSelector: { site: 'plant-1' }, containers: [{ name: 'app', image: 'process', command: ['/bin/sh', '-c', 'sleep 100'] }] } },
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'no-match' }, spec: { runtimeClassName: 'process', nodeSelector: { site: 'plant-9' }, containers: [{ name: 'app', image: 'process', command: ['/bin/sh', '-c', 'sleep 100'] }] } },
    );
    const bound = await eventually(async () => {
      const p = (await c.api.call('GET', `${PODS}/by-label`)).body;
      return p.spec.nodeName ? p : undefined;
    }, 15_000, 'by-label bound');
    expect(bound.spec.nodeName).toBe(NODE);
    await eventually(async () => containerStatus(await podStatus(c, 'by-label'))?.state.running, 15_000, 'by-label running');
    const pending = await eventually(async () => (await podStatus(c, 'no-match'))?.conditions?.find((x: any) => x.reason === 'Unschedulable'), 10_000, 'no-match Unschedulable');
    expect(pending.message).toMatch(/^0\/\d+ nodes are available: \d+ node\(s\) didn't match Pod's node selector/);
    // the edge's nodeLabels are on its Node
    expect((await c.api.call('GET', `/api/v1/nodes/${NODE}`)).body.metadata.labels).toMatchObject({ site: 'plant-1', 'kubernetes.io/hostname': NODE });
  });

  it('restarts a container whose liveness probe fails; readiness sets ready', async () => {
    await apply(
      c,
      proc('unlive', { command: ['/bin/sh', '-c', 'sleep 100'], livenessProbe: { exec: { command: ['/bin/sh', '-c', 'exit 1'] }, periodSeconds: 1, failureThreshold: 2 } }),
      proc('unready', { command: ['/bin/sh', '-c', 'sleep 100'], readinessProbe: { tcpSocket: { port: 1 }, periodSeconds: 1, failureThreshold: 1 } }),
    );
    await eventually(async () => (containerStatus(await podStatus(c, 'unlive'))?.restartCount ?? 0) >= 1, 20_000, 'unlive restarted by its probe');
    await edge.proc.waitFor(/pod default\/unlive: container app failed its liveness probe; restarting it/);
    const unready = await eventually(async () => {
      const s = await podStatus(c, 'unready');
      return containerStatus(s)?.state.running ? s : undefined;
    }, 15_000, 'unready running');
    await new Promise((r) => setTimeout(r, 2000));
    const later = await podStatus(c, 'unready');
    expect(containerStatus(later).ready).toBe(false);
    expect(later.conditions.find((x: any) => x.type === 'Ready')).toMatchObject({ status: 'False', reason: 'ContainersNotReady' });
    expect((await podRow(c, 'unready'))?.READY).toBe('0/1');
    expect(unready.phase).toBe('Running');
  });

  it('follows a log until the caller goes away', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'keadm.js'), 'logs', 'healthy', '-f', '--tail', '1', '--config-dir', c.dir]);
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    await eventually(async () => (out.match(/tick/g)?.length ?? 0) >= 5, 10_000, 'five ticks followed');
    child.kill('SIGINT');
    await new Promise((r) => child.on('exit', r));
    // the edge stops sending once the cloud cancels
    expect(alive(healthyPid)).toBe(true);
    expect(edge.proc.child.exitCode).toBeNull();
    const before = containerStatus(await podStatus(c, 'healthy'));
    expect(before.restartCount).toBe(0);
  });

  it('carries big objects and big logs across the link in frames the peer takes', async () => {
    // a ConfigMap near Kubernetes' 1 MiB limit and ten more of 200 KiB, applied at once
    const big = 'x'.repeat(1000 * 1024);
    const cms = [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'big' }, data: { blob: big } }, ...Array.from({ length: 10 }, (_, i) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `mid-${i}` }, data: { blob: 'y'.repeat(200 * 1024) } }))];
    const mounts = ['big', ...Array.from({ length: 10 }, (_, i) => `mid-${i}`)];
    await apply(
      c,
      ...cms,
      proc(
        'reader',
        { command: ['/bin/sh', '-c', `wc -c < ${c.dir}/m/big/blob; cat ${c.dir}/m/mid-*/blob | wc -c; head -c 3145728 /dev/zero | tr '\\0' 'z'; echo; sleep 100`], volumeMounts: mounts.map((m) => ({ name: m, mountPath: `${c.dir}/m/${m}` })) },
        { volumes: mounts.map((m) => ({ name: m, configMap: { name: m } })) },
      ),
    );
    await eventually(async () => containerStatus(await podStatus(c, 'reader'))?.state.running, 30_000, 'reader running with every ConfigMap');
    // a 3 MiB log comes back whole, in parts, and the link stays up
    const log = await eventually(async () => {
      const r = await c.api.call('GET', `${PODS}/reader/log`);
      return typeof r.body === 'string' && r.body.length > 3 * 1024 * 1024 ? r.body : undefined;
    }, 20_000, 'the whole log');
    const [bigLen, midLen, zs] = log.split('\n');
    expect(bigLen).toBe(String(big.length));
    expect(midLen).toBe(String(10 * 200 * 1024));
    expect(zs).toBe('z'.repeat(3 * 1024 * 1024));
    expect(edge.proc.lines.some((l) => /link to the cloud lost/.test(l))).toBe(false);
    expect(c.cloud?.lines.some((l) => /refused a frame|closed by edge \(1009/.test(l))).toBe(false);
  });

  it('a changed pod spec replaces its container; a stop is SIGTERM, then SIGKILL after the grace period', async () => {
    const marks = `${c.dir}/marks`;
    const polite = (greeting: string) =>
      proc(
        'polite',
        { command: ['/bin/sh', '-c', `trap 'echo got-term >> ${marks}/polite; exit 0' TERM; echo ${greeting}; while true; do sleep 0.2; done`], volumeMounts: [{ name: 'marks', mountPath: marks }] },
        { terminationGracePeriodSeconds: 10, volumes: [{ name: 'marks', hostPath: { path: marks, type: 'DirectoryOrCreate' } }] },
      );
    await apply(c, polite('hello-v1'));
    await eventually(async () => (await c.api.call('GET', `${PODS}/polite/log`)).body.includes('hello-v1'), 15_000, 'v1 running');
    await apply(c, polite('hello-v2'));
    const replaced = await eventually(async () => {
      const s = containerStatus(await podStatus(c, 'polite'));
      return s?.restartCount === 1 && s.state.running ? s : undefined;
    }, 15_000, 'v2 replaced v1');
    // v1 was asked to stop with SIGTERM, and did
    expect(replaced.lastState.terminated.exitCode).toBe(0);
    expect(readFileSync(`${marks}/polite`, 'utf8')).toBe('got-term\n');
    // running is reported as the process starts; its first line follows
    await eventually(async () => (await c.api.call('GET', `${PODS}/polite/log`)).body.includes('hello-v2'), 10_000, 'v2 in the log');
    // one that ignores SIGTERM is killed once its grace period is over
    await apply(c, proc('stubborn', { command: ['/bin/sh', '-c', "trap '' TERM; while true; do sleep 0.2; done"] }, { terminationGracePeriodSeconds: 2 }));
    await eventually(async () => containerStatus(await podStatus(c, 'stubborn'))?.state.running, 15_000, 'stubborn running');
    // running is reported as the shim starts: its command may not have been forked yet
    const uid = (await c.api.call('GET', `${PODS}/stubborn`)).body.metadata.uid;
    const pid = await eventually(async () => appPid(root, uid), 10_000, "stubborn's process");
    const t0 = Date.now();
    await keadm(c, ['delete', 'pod', 'stubborn']);
    await eventually(async () => !alive(pid), 15_000, 'stubborn killed');
    expect(Date.now() - t0).toBeGreaterThan(1500);
    await keadm(c, ['delete', 'pod', 'polite']);
  });

  it('edgecore stayed up and the healthy pod kept its process through all of it', async () => {
    expect(alive(healthyPid)).toBe(true);
    expect(appPid(root, (await c.api.call('GET', `${PODS}/healthy`)).body.metadata.uid)).toBe(healthyPid);
    expect(edge.proc.child.exitCode).toBeNull();
  });
});
