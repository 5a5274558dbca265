/**
 * Pods in containers, end to end: a real podman (Debian's, through its Docker-compatible API) with a
 * local image imported offline. A ConfigMap and a Secret as env and files, keadm get/logs, a killed
 * app restarted, a crash loop backing off, a ConfigMap edit seen in the running container, a missing
 * image, and a deletion that leaves no container and no file behind.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, makeCluster, type Cluster, type Edge } from './cluster.js';
import { alive, apply, containerStatus, keadm, podRow, podStatus } from '../peers/pods.js';
import { startPodman, type Podman } from '../peers/podman.js';
import { kubectl, kubectlInTerminal } from '../peers/kubectl.js';

const NODE = 'edge-podman';
const SECRET = 'p0dman-Secret-7';

describe('container pods on podman', () => {
  let c: Cluster;
  let edge: Edge;
  let podman: Podman;
  const containersOf = (pod: string, running = false): string[] =>
    podman.cli(['ps', ...(running ? [] : ['-a']), '--filter', `label=io.kubeedge.pod.name=${pod}`, '--format', '{{.ID}}']).stdout.split('\n').filter(Boolean);
  /** the host pid of the app in the pod's running container (the child of its init) */
  const appPid = (pod: string): number => {
    const id = containersOf(pod, true)[0] as string;
    const init = Number(podman.cli(['inspect', '--format', '{{.State.Pid}}', id]).stdout.trim());
    return Number(readFileSync(`/proc/${init}/task/${init}/children`, 'utf8').trim().split(/\s+/)[0]);
  };

  beforeAll(async () => {
    c = await makeCluster();
    podman = await startPodman(mkdtempSync(join(tmpdir(), 'ke-podman-')));
    await c.startCloud();
    edge = await c.startEdge(NODE, { modules: { edged: { tailoredKubeletConfig: { containerRuntimeEndpoint: podman.endpoint } } } });
  }, 120_000);
  afterAll(async () => {
    await c?.stop();
    await podman?.stop();
  });

  it('runs a container with a ConfigMap and a Secret as env and files; keadm shows it Running and its log', async () => {
    await apply(
      c,
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'web-config' }, data: { greeting: 'hello' } },
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'web-secret' }, stringData: { token: SECRET } },
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'web' },
        spec: {
          nodeName: NODE,
          terminationGracePeriodSeconds: 5,
          containers: [
            {
              name: 'app',
              image: 'local/busybox',
              imagePullPolicy: 'Never',
              command: ['sh', '-c'],
              args: ['echo "greeting=$GREETING secret-len=${#TOKEN} secret-file-mode=$(stat -L -c %a /etc/secret/token)"; while true; do echo "file=$(cat /etc/app/greeting)"; sleep 0.3; done'],
              env: [
                { name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'web-config', key: 'greeting' } } },
                { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'web-secret', key: 'token' } } },
              ],
              volumeMounts: [
                { name: 'config', mountPath: '/etc/app' },
                { name: 'secret', mountPath: '/etc/secret' },
              ],
              resources: { limits: { memory: '64Mi' } },
            },
          ],
          volumes: [
            { name: 'config', configMap: { name: 'web-config' } },
            { name: 'secret', secret: { secretName: 'web-secret' } },
          ],
        },
      },
    );
    const row = await eventually(async () => {
      const r = await podRow(c, 'web');
      return r?.STATUS === 'Running' && r.READY === '1/1' ? r : undefined;
    }, 60_000, 'web Running in keadm get pods');
    expect(row).toMatchObject({ RESTARTS: '0', NODE });
    // the container's own address on podman's network
    expect(row.IP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const logs = await eventually(async () => {
      const r = await keadm(c, ['logs', 'web']);
      return r.out.includes('file=hello') ? r.out : undefined;
    }, 15_000, 'the app output in keadm logs');
    expect(logs).toContain(`greeting=hello secret-len=${SECRET.length} secret-file-mode=400`);
    const api = await c.api.call('GET', '/api/v1/namespaces/default/pods/web/log?tailLines=1');
    expect(api.body.trim()).toBe('file=hello');
    const st = containerStatus(await podStatus(c, 'web'));
    expect(st.containerID).toMatch(/^podman:\/\/[0-9a-f]{64}$/);
    expect(st.imageID).toMatch(/^(sha256:)?[0-9a-f]{64}$/);
    // podman holds the memory limit
    expect(podman.cli(['inspect', '--format', '{{.HostConfig.Memory}}', containersOf('web')[0] as string]).stdout.trim()).toBe(String(64 * 1024 * 1024));
  });

  it('restarts the container when its app is killed; a ConfigMap edit shows inside it', async () => {
    const pid = appPid('web');
    process.kill(pid, 'SIGKILL');
    const cs = await eventually(async () => {
      const s = containerStatus(await podStatus(c, 'web'));
      return s?.restartCount === 1 && s.state.running ? s : undefined;
    }, 30_000, 'restartCount 1 and running');
    expect(cs.lastState.terminated.exitCode).toBe(137);
    expect(alive(pid)).toBe(false);
    await apply(c, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'web-config' }, data: { greeting: 'bonjour' } });
    await eventually(async () => (await c.api.call('GET', '/api/v1/namespaces/default/pods/web/log?tailLines=1')).body.includes('file=bonjour'), 20_000, 'file=bonjour in the log');
    expect(containerStatus(await podStatus(c, 'web')).restartCount).toBe(1);
    // kubectl logs --previous: the killed run's log, which never saw the edit
    const previous = await c.api.call('GET', '/api/v1/namespaces/default/pods/web/log?previous=true');
    expect(previous.status).toBe(200);
    expect(previous.body).toContain('file=hello');
    expect(previous.body).not.toContain('file=bonjour');
  });

  it('kubectl exec runs in the container (podman\'s exec API): output, input, exit codes, a terminal; a killed kubectl ends it; top shows its use', async () => {
    const kubeconfig = c.kubeconfig();
    const k = (args: string[], input?: string) => kubectl(kubeconfig, args, input);
    const hi = k(['exec', 'web', '--', 'echo', 'hi']);
    expect(hi.status, hi.stderr).toBe(0);
    expect(hi.stdout).toBe('hi\n');
    const inside = k(['exec', 'web', '--', 'sh', '-c', 'cat /etc/app/greeting; echo " $GREETING"; echo oops >&2']);
    expect(inside.stdout).toBe('bonjour hello\n');
    expect(inside.stderr).toBe('oops\n');
    expect(k(['exec', 'web', '--', 'sh', '-c', 'exit 4']).status).toBe(4);
    expect(k(['exec', '-i', 'web', '--', 'sh', '-c', 'read line; echo "got $line"'], 'typed in\n').stdout).toBe('got typed in\n');
    const tty = await kubectlInTerminal(kubeconfig, ['exec', '-it', 'web', '--', 'sh'], ['echo answer-$((6*7))', 'exit']);
    expect(tty.output).toContain('answer-42');
    expect(tty.status).toBe(0);
    // kubectl killed mid-command: the command is ended in the container too
    const runaway = spawn('kubectl', ['--kubeconfig', kubeconfig, 'exec', 'web', '--', 'sh', '-c', 'echo started; sleep 1000; echo never']);
    await new Promise<void>((resolve) => runaway.stdout.on('data', (d: Buffer) => d.toString().includes('started') && resolve()));
    runaway.kill('SIGKILL');
    await eventually(async () => !podman.cli(['top', containersOf('web', true)[0] as string, 'args']).stdout.includes('sleep 1000'), 15_000, 'the exec\'s sleep ended');
    // kubectl top pod: podman's figures for the container (its memory is never nothing)
    const top = k(['top', 'pod', 'web', '--containers']);
    expect(top.status, top.stderr).toBe(0);
    expect(Number(/^web\s+app\s+\d+m\s+(\d+)Mi\s*$/m.exec(top.stdout)?.[1])).toBeGreaterThanOrEqual(0);
    const bytes = JSON.parse(k(['get', '--raw', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/web']).stdout).containers[0].usage.memory as string;
    expect(Number(/^(\d+)Ki$/.exec(bytes)?.[1])).toBeGreaterThan(0);
  });

  it('a crash-looping container shows CrashLoopBackOff; a missing image is ErrImageNeverPull', async () => {
    await apply(
      c,
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'crash' }, spec: { nodeName: NODE, containers: [{ name: 'app', image: 'local/busybox', imagePullPolicy: 'Never', command: ['sh', '-c', 'exit 2'] }] } },
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'noimage' }, spec: { nodeName: NODE, containers: [{ name: 'app', image: 'local/not-there:1.0', imagePullPolicy: 'Never' }] } },
    );
    const seen: number[] = [];
    const crash = await eventually(async () => {
      const s = containerStatus(await podStatus(c, 'crash'));
      if (s && seen.at(-1) !== s.restartCount) seen.push(s.restartCount);
      return s?.state.waiting?.reason === 'CrashLoopBackOff' && s.restartCount >= 2 ? s : undefined;
    }, 40_000, 'CrashLoopBackOff after two restarts');
    expect(crash.lastState.terminated).toMatchObject({ exitCode: 2, reason: 'Error' });
    const missing = await eventually(async () => containerStatus(await podStatus(c, 'noimage'))?.state.waiting, 20_000, 'noimage waiting');
    expect(missing).toEqual({ reason: 'ErrImageNeverPull', message: 'Container image "local/not-there:1.0" is not present with pull policy of Never' });
    expect((await podRow(c, 'noimage'))?.STATUS).toBe('ErrImageNeverPull');
    // the others are untouched
    expect(containerStatus(await podStatus(c, 'web')).state.running).toBeDefined();
  });

  it('deleting pods leaves no container and no file', async () => {
    const uid = (await c.api.call('GET', '/api/v1/namespaces/default/pods/web')).body.metadata.uid;
    const pid = appPid('web');
    for (const p of ['web', 'crash', 'noimage']) expect((await keadm(c, ['delete', 'pods', p])).code).toBe(0);
    await eventually(async () => containersOf('web').length + containersOf('crash').length === 0, 30_000, 'no container left');
    expect(alive(pid)).toBe(false);
    await eventually(async () => !existsSync(join(c.dir, NODE, 'edged', 'pods', uid)), 10_000, 'the pod folder removed');
    expect([...edge.proc.lines, ...(c.cloud?.lines ?? [])].some((l) => l.includes(SECRET))).toBe(false);
  });
});
