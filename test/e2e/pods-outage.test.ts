/**
 * Offline autonomy for pods (KubeEdge issue #3618 is this failing): with the cloud gone, an edgecore
 * SIGKILLed and restarted adopts the pods still running (no second process, no second container),
 * starts again a pod whose process died while it was down, all without the cloud; when the cloud
 * is back, the API shows the pods' current status.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, makeCluster, type Cluster, type Edge } from './cluster.js';
import { alive, appPid, apply, containerStatus, pidsWith, podStatus } from '../peers/pods.js';
import { startPodman, type Podman } from '../peers/podman.js';

const NODE = 'edge-offline';

const processPod = (name: string, marker: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name },
  spec: { runtimeClassName: 'process', nodeName: NODE, containers: [{ name: 'app', image: 'process', command: ['/bin/sh', '-c', `while true; do echo ${marker}; sleep 0.5; done`] }] },
});

describe('pods through a cloud outage and an edgecore SIGKILL', () => {
  let c: Cluster;
  let edge: Edge;
  let podman: Podman;
  let root: string;
  const uid = async (name: string): Promise<string> => (await c.api.call('GET', `/api/v1/namespaces/default/pods/${name}`)).body.metadata.uid;
  const runningContainers = (): string[] => podman.cli(['ps', '--filter', 'label=io.kubeedge.pod.name=box', '--format', '{{.ID}}']).stdout.split('\n').filter(Boolean);

  beforeAll(async () => {
    c = await makeCluster();
    podman = await startPodman(mkdtempSync(join(tmpdir(), 'ke-podman-')));
    await c.startCloud();
    edge = await c.startEdge(NODE, { modules: { edged: { tailoredKubeletConfig: { containerRuntimeEndpoint: podman.endpoint } } } });
    root = join(c.dir, NODE, 'edged');
  }, 120_000);
  afterAll(async () => {
    await c?.stop();
    await podman?.stop();
  });

  it('keeps running pods once, restarts a dead one, with no cloud; the cloud then shows the current status', async () => {
    const pods: unknown[] = [processPod('steady', 'marker-steady-7f3'), processPod('doomed', 'marker-doomed-9c1')];
    pods.push({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'box' }, spec: { nodeName: NODE, containers: [{ name: 'app', image: 'local/busybox', imagePullPolicy: 'Never', command: ['sh', '-c', 'while true; do sleep 1; done'] }] } });
    await apply(c, ...pods);
    for (const p of ['steady', 'doomed', 'box']) {
      await eventually(async () => containerStatus(await podStatus(c, p))?.state.running, 60_000, `${p} running`);
    }
    // running is reported as the shim starts: its command may not have been forked yet
    const steadyUid = await uid('steady');
    const steadyPid = await eventually(async () => appPid(root, steadyUid), 10_000, "steady's process");
    const doomedUid = await uid('doomed');
    const doomedPid = await eventually(async () => appPid(root, doomedUid), 10_000, "doomed's process");
    const box = runningContainers();
    expect(pidsWith('marker-steady-7f3')).toHaveLength(2); // the shim and its command

    await c.cloud?.kill('SIGKILL');
    await edge.proc.kill('SIGKILL');
    process.kill(doomedPid, 'SIGKILL'); // dies while edgecore is down
    await eventually(async () => !alive(doomedPid), 5000, 'the doomed app gone');

    await edge.restart(); // no cloud to ask
    await edge.proc.waitFor(/found its containers running; adopting them/);
    // the doomed pod runs again, counted as a restart; the steady one is the same process, once
    const local = await eventually(async () => {
      const r = await edge.meta('/api/v1/namespaces/default/pods/doomed');
      const s = containerStatus(r.body?.status);
      return s?.restartCount === 1 && s.state.running ? r.body : undefined;
    }, 20_000, 'doomed restarted by the edge alone');
    expect(local.metadata.uid).toBe(doomedUid);
    expect(appPid(root, doomedUid)).not.toBe(doomedPid);
    expect(alive(steadyPid)).toBe(true);
    expect(appPid(root, await (async () => (await edge.meta('/api/v1/namespaces/default/pods/steady')).body.metadata.uid)())).toBe(steadyPid);
    expect(pidsWith('marker-steady-7f3')).toHaveLength(2);
    expect(runningContainers()).toEqual(box);
    expect(edge.proc.lines.some((l) => /link to the cloud lost|reconnecting/.test(l))).toBe(true);

    await c.startCloud();
    const doomed = await eventually(async () => {
      const s = containerStatus(await podStatus(c, 'doomed'));
      return s?.restartCount === 1 && s.state.running ? s : undefined;
    }, 30_000, 'the cloud shows the restart');
    expect(doomed.lastState.terminated.exitCode).toBe(137);
    expect(containerStatus(await podStatus(c, 'steady'))).toMatchObject({ restartCount: 0, ready: true });
    // the node reports how many pods run
    const node = (await c.api.call('GET', `/api/v1/nodes/${NODE}`)).body;
    expect(node.status.pods).toEqual({ running: 3, total: 3 });
    expect(node.status.capacity).toMatchObject({ cpu: expect.any(String), memory: expect.stringMatching(/Ki$/), pods: '110' });
    expect(node.status.nodeInfo.containerRuntimeVersion).toMatch(/^podman:\/\//);
  });
});
