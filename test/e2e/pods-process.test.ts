/**
 * Pods as host processes (runtimeClassName: process), end to end with real processes: a ConfigMap
 * and a Secret as env and as files, keadm get/logs, a killed app restarted, a crash loop backing
 * off, a ConfigMap edit seen inside the running pod, a memory limit in its cgroup, and a deletion
 * that leaves nothing running or on disk.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, makeCluster, type Cluster, type Edge } from './cluster.js';
import { alive, appPid, apply, containerStatus, keadm, podRow, podStatus } from '../peers/pods.js';

const NODE = 'edge-proc';
const SECRET = 's3cr3t-Value-42';

describe('process pods: runtimeClassName: process', () => {
  let c: Cluster;
  let edge: Edge;
  let root: string;
  let mnt: string;
  const uidOf = async (name: string): Promise<string> => (await c.api.call('GET', `/api/v1/namespaces/default/pods/${name}`)).body.metadata.uid;

  beforeAll(async () => {
    c = await makeCluster();
    await c.startCloud();
    edge = await c.startEdge(NODE);
    root = join(c.dir, NODE, 'edged');
    mnt = join(c.dir, 'mnt');
  });
  afterAll(async () => {
    await c?.stop();
  });

  const hello = () => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'hello' },
    spec: {
      runtimeClassName: 'process',
      nodeName: NODE,
      terminationGracePeriodSeconds: 5,
      containers: [
        {
          name: 'app',
          image: 'process',
          command: ['/bin/sh', '-c'],
          // the secret's length and the file's mode only: its value must not reach any log
          args: [
            `echo "greeting=$GREETING secret-len=\${#TOKEN} secret-file-mode=$(stat -L -c %a ${mnt}/secret/token) file-len=$(wc -c < ${mnt}/secret/token)"; while true; do echo "file=$(cat ${mnt}/config/greeting)"; sleep 0.3; done`,
          ],
          env: [
            { name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'app-config', key: 'greeting' } } },
            { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'app-secret', key: 'token' } } },
          ],
          volumeMounts: [
            { name: 'config', mountPath: `${mnt}/config` },
            { name: 'secret', mountPath: `${mnt}/secret` },
          ],
          resources: { limits: { memory: '48Mi' } },
          readinessProbe: { exec: { command: ['test', '-f', `${mnt}/config/greeting`] }, periodSeconds: 1 },
        },
      ],
      volumes: [
        { name: 'config', configMap: { name: 'app-config' } },
        { name: 'secret', secret: { secretName: 'app-secret' } },
      ],
    },
  });

  it('runs a pod with a ConfigMap and a Secret as env and files; keadm shows it Running and its log', async () => {
    const out = await apply(
      c,
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'app-config' }, data: { greeting: 'hello' } },
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'app-secret' }, stringData: { token: SECRET } },
      hello(),
    );
    expect(out).toContain('pod/hello created');
    const row = await eventually(async () => {
      const r = await podRow(c, 'hello');
      return r?.STATUS === 'Running' && r.READY === '1/1' ? r : undefined;
    }, 20_000, 'hello Running and ready in keadm get pods');
    expect(row).toMatchObject({ RESTARTS: '0', NODE, AGE: expect.stringMatching(/^\d+s$/) });
    expect(row.IP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

    const logs = await eventually(async () => {
      const r = await keadm(c, ['logs', 'hello']);
      return r.out.includes('file=hello') ? r.out : undefined;
    }, 10_000, 'the app output in keadm logs');
    expect(logs).toContain(`greeting=hello secret-len=${SECRET.length} secret-file-mode=400 file-len=${SECRET.length}`);
    const api = await c.api.call('GET', '/api/v1/namespaces/default/pods/hello/log?tailLines=2');
    expect(api.status).toBe(200);
    expect(String(api.body).trim().split('\n')).toEqual(['file=hello', 'file=hello']);
    // the volumes are seen at their mountPath inside the pod's own view only: nothing is made on the host
    expect(existsSync(mnt)).toBe(false);
    // the memory limit is in the container's cgroup
    const uid = await uidOf('hello');
    const cg = `/sys/fs/cgroup/memory/kubeedge/${uid}_app_0/memory.limit_in_bytes`;
    if (existsSync('/sys/fs/cgroup/memory')) expect(readFileSync(cg, 'utf8').trim()).toBe(String(48 * 1024 * 1024));
    // MetaServer serves the pod, its ConfigMap and Secret at Kubernetes' paths, with the live status
    const local = await edge.meta('/api/v1/namespaces/default/pods/hello');
    expect(local.body.status.phase).toBe('Running');
    expect((await edge.meta('/api/v1/namespaces/default/configmaps/app-config')).body.data.greeting).toBe('hello');
    expect((await edge.meta('/api/v1/namespaces/default/secrets')).body.items.map((s: any) => s.metadata.name)).toEqual(['app-secret']);
  });

  it('shows a volume at a path the host lacks at its root, in the pod\'s own view of /, making nothing on the host', async () => {
    const top = `/kubeedge-test-${Date.now().toString(36)}`;
    await apply(c, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'rooted' },
      spec: {
        runtimeClassName: 'process',
        nodeName: NODE,
        containers: [
          {
            name: 'app',
            image: 'process',
            command: ['/bin/sh', '-c', `while true; do echo "cfg=$(cat ${top}/cfg/greeting) root=$(ls -A / | LC_ALL=C sort | tr '\\n' ,)"; sleep 0.3; done`],
            volumeMounts: [{ name: 'config', mountPath: `${top}/cfg`, readOnly: true }],
            readinessProbe: { exec: { command: ['test', '-f', `${top}/cfg/greeting`] }, periodSeconds: 1 },
          },
        ],
        volumes: [{ name: 'config', configMap: { name: 'app-config' } }],
      },
    });
    try {
      await eventually(async () => containerStatus(await podStatus(c, 'rooted'))?.ready === true, 20_000, 'rooted ready: its probe (nsenter into its view) finds the file');
      const logs = await eventually(async () => {
        const r = await keadm(c, ['logs', 'rooted']);
        return r.out.includes('cfg=hello') ? r.out : undefined;
      }, 10_000, 'the file read at its path');
      // the rest of / is there too: every entry of the host's, and the one made for the volume
      const want = [...readdirSync('/'), top.slice(1)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      expect(logs).toContain(`cfg=hello root=${want.join(',')},`);
      expect(existsSync(top)).toBe(false);
    } finally {
      await keadm(c, ['delete', 'pod', 'rooted']);
    }
  });

  it('restarts the app when its process is killed: restartCount 1, Running again', async () => {
    const uid = await uidOf('hello');
    const pid = await eventually(async () => appPid(root, uid), 10_000, "hello's process"); // running is reported as the shim starts
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGKILL');
    const cs = await eventually(async () => {
      const s = containerStatus(await podStatus(c, 'hello'));
      return s?.restartCount === 1 && s.state.running && s.ready ? s : undefined;
    }, 15_000, 'restartCount 1 and running');
    expect(cs.lastState.terminated).toMatchObject({ exitCode: 137, reason: 'Error' });
    expect(alive(pid)).toBe(false);
    expect(appPid(root, uid)).not.toBe(pid);
  });

  it('a ConfigMap edit shows in the running pod’s files, without a restart', async () => {
    await apply(c, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'app-config' }, data: { greeting: 'bonjour' } });
    await eventually(async () => (await c.api.call('GET', '/api/v1/namespaces/default/pods/hello/log?tailLines=1')).body.includes('file=bonjour'), 15_000, 'file=bonjour in the log');
    expect(containerStatus(await podStatus(c, 'hello')).restartCount).toBe(1);
  });

  it('a crash-looping container shows CrashLoopBackOff, restarted with growing delays', async () => {
    await apply(c, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'crasher' },
      spec: { runtimeClassName: 'process', nodeName: NODE, containers: [{ name: 'app', image: 'process', command: ['/bin/sh', '-c', 'echo boom; exit 3'] }] },
    });
    const seen: { count: number; at: number }[] = [];
    let backoff: any;
    await eventually(async () => {
      const s = containerStatus(await podStatus(c, 'crasher'));
      if (s && seen.at(-1)?.count !== s.restartCount) seen.push({ count: s.restartCount, at: Date.now() });
      if (s?.state.waiting?.reason === 'CrashLoopBackOff') backoff = s;
      return (s?.restartCount ?? 0) >= 4 ? s : undefined;
    }, 30_000, 'four restarts');
    expect(backoff.lastState.terminated).toMatchObject({ exitCode: 3, reason: 'Error' });
    expect(backoff.state.waiting.message).toMatch(/^back-off \d+s restarting failed container=app pod=crasher_default/);
    expect((await podRow(c, 'crasher'))?.STATUS).toMatch(/CrashLoopBackOff|Error|Running/);
    // the back-off is 0, 1, 2, 4 s here (initialContainerRestartPeriod 1s): each wait longer than the one before
    const gaps = seen.slice(1).map((s, i) => s.at - (seen[i] as { at: number }).at);
    const last = gaps.slice(-2);
    expect(last[1] as number).toBeGreaterThan((last[0] as number) * 1.4);
    expect(last[1] as number).toBeGreaterThan(3000);
  });

  it('deleting a pod leaves nothing of it running or on disk', async () => {
    const uid = await uidOf('hello');
    const pid = appPid(root, uid) as number;
    expect(alive(pid)).toBe(true);
    const r = await keadm(c, ['delete', 'pod', 'hello']);
    expect(r.out).toContain('pod "hello" deleted');
    await eventually(async () => !alive(pid) && !existsSync(join(root, 'pods', uid)), 15_000, 'the process gone and its folder removed');
    // the mount points made for its volumes, and its cgroups, went with it
    expect(existsSync(`${mnt}/config`)).toBe(false);
    expect(existsSync(`/sys/fs/cgroup/memory/kubeedge/${uid}_app_1`)).toBe(false);
    expect((await c.api.call('GET', '/api/v1/namespaces/default/pods/hello')).status).toBe(404);
    await keadm(c, ['delete', 'pod', 'crasher']);
    const crasher = join(root, 'pods');
    await eventually(async () => readdirSync(crasher).length === 0, 15_000, 'no pod folder left');
    // the secret's value reached no log line of either side
    expect([...edge.proc.lines, ...(c.cloud?.lines ?? [])].some((l) => l.includes(SECRET) || l.includes(Buffer.from(SECRET).toString('base64')))).toBe(false);
  });
});
