import { describe, expect, it } from 'vitest';
import type { ContainerState, ContainerStatus } from '../../../api/pods/types.js';
import { podPhase } from '../../../runtime/edged/pod-status.js';

const running: ContainerState = { running: { startedAt: '2026-12-04T12:00:00Z' } };
const waiting: ContainerState = { waiting: { reason: 'CrashLoopBackOff' } };
const exited = (exitCode: number): ContainerState => ({ terminated: { exitCode, reason: exitCode ? 'Error' : 'Completed', finishedAt: '2026-12-04T12:00:01Z', containerID: 'process://x' } });
const cs = (state: ContainerState, lastState: ContainerState | Record<string, never> = {}): ContainerStatus => ({ name: 'c', state, lastState, ready: false, started: 'running' in state, restartCount: 0, image: 'i', imageID: '' });

describe("a pod's phase, as kubelet gives it", () => {
  it.each<[string, ContainerStatus[], string]>([
    ['a container that has never run: Pending', [cs({ waiting: { reason: 'ContainerCreating' } })], 'Pending'],
    ['one never ran, another runs: still Pending', [cs(running), cs({ waiting: { reason: 'ImagePullBackOff' } })], 'Pending'],
    ['every container runs: Running', [cs(running), cs(running)], 'Running'],
    ['one in CrashLoopBackOff after it ran: Running (it will run again)', [cs(running), cs(waiting, exited(1))], 'Running'],
    ['every container ended with 0: Succeeded', [cs(exited(0)), cs(exited(0))], 'Succeeded'],
    ['one ended with a code other than 0: Failed', [cs(exited(0)), cs(exited(137))], 'Failed'],
    ['one ended, another still runs: Running', [cs(exited(1)), cs(running)], 'Running'],
  ])('%s', (_, statuses, want) => {
    expect(podPhase(statuses)).toBe(want);
  });
});
