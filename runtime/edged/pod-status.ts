/**
 * What kubectl shows of a pod, from what its worker knows: each container's state (running,
 * waiting and why, or terminated and how), its last state and restart count, and the pod's phase.
 */
import type { Container, ContainerState, ContainerStatus, PodStatus } from '../../api/pods/types.js';
import type { RuntimeContainer } from '../../containers/runtime.js';
import type { Observed } from './worker.js';

function terminated(c: RuntimeContainer, runtime: string): ContainerState {
  return { terminated: { exitCode: c.exitCode ?? 137, reason: c.reason ?? 'Error', ...(c.startedAt ? { startedAt: c.startedAt } : {}), finishedAt: c.finishedAt ?? '', containerID: `${runtime}://${c.id}` } };
}

/**
 * A container's status: `tries` are its attempts, oldest first; `waiting` what keeps it from
 * starting (a back-off, a missing ConfigMap), when something does.
 */
export function containerStatus(spec: Container, tries: readonly Observed[], waiting: { reason: string; message?: string } | undefined, ready: boolean, podStarted: string): ContainerStatus {
  const cur = tries.at(-1)?.container;
  const prev = tries.at(-2)?.container;
  const runtime = tries[0]?.runtime.name ?? 'process';
  let state: ContainerState;
  let lastState: ContainerState | Record<string, never> = {};
  if (cur?.state === 'running') {
    state = { running: { startedAt: cur.startedAt ?? podStarted } };
    if (prev?.state === 'exited') lastState = terminated(prev, runtime);
  } else if (waiting) {
    state = { waiting };
    if (cur?.state === 'exited') lastState = terminated(cur, runtime);
  } else if (cur?.state === 'exited') {
    state = terminated(cur, runtime);
    if (prev?.state === 'exited') lastState = terminated(prev, runtime);
  } else {
    state = { waiting: { reason: 'ContainerCreating' } };
  }
  const running = cur?.state === 'running';
  return {
    name: spec.name,
    state,
    lastState,
    ready: running && ready,
    started: running,
    restartCount: cur?.attempt ?? 0,
    image: spec.image,
    imageID: cur?.imageId ?? '',
    ...(cur ? { containerID: `${tries.at(-1)?.runtime.name ?? ''}://${cur.id}` } : {}),
  };
}

/**
 * The pod's phase, as kubelet gives it: Pending while a container has never run, Running while one
 * runs or waits to run again, then Failed when one ended with a code other than 0, else Succeeded.
 */
export function podPhase(statuses: readonly ContainerStatus[]): PodStatus['phase'] {
  const neverRan = (cs: ContainerStatus): boolean => 'waiting' in cs.state && !('terminated' in cs.lastState);
  if (statuses.some(neverRan)) return 'Pending';
  if (statuses.some((cs) => 'running' in cs.state || 'waiting' in cs.state)) return 'Running';
  const failed = statuses.some((cs) => 'terminated' in cs.state && (cs.state as { terminated: { exitCode: number } }).terminated.exitCode !== 0);
  return failed ? 'Failed' : 'Succeeded';
}
