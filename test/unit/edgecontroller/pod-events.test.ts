import { describe, expect, it } from 'vitest';
import { podEventsOf } from '../../../cloud-stub/edgecontroller/index.js';

const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'logger', namespace: 'default' } };
const cs = (restartCount: number, waiting?: string): Record<string, unknown> => ({ name: 'app', restartCount, state: waiting ? { waiting: { reason: waiting } } : { running: {} } });

describe("kubelet's Events from a pod's reported status", () => {
  it.each<[string, Record<string, unknown> | undefined, Record<string, unknown>, ReturnType<typeof podEventsOf>]>([
    ['the first report of a running pod: nothing', undefined, { containerStatuses: [cs(0)] }, []],
    ['a container started again', { containerStatuses: [cs(0)] }, { containerStatuses: [cs(1)] }, [{ type: 'Normal', reason: 'Started', message: 'Started container app (restart 1)' }]],
    ['it backs off: a Warning, once', { containerStatuses: [cs(2)] }, { containerStatuses: [cs(2, 'CrashLoopBackOff')] }, [{ type: 'Warning', reason: 'BackOff', message: 'Back-off restarting failed container app in pod logger_default' }]],
    ['still backing off: no second Warning', { containerStatuses: [cs(2, 'CrashLoopBackOff')] }, { containerStatuses: [cs(2, 'CrashLoopBackOff')] }, []],
    ['the same status sent again: nothing', { containerStatuses: [cs(3)] }, { containerStatuses: [cs(3)] }, []],
  ])('%s', (_, before, after, want) => {
    expect(podEventsOf(pod, before, after)).toEqual(want);
  });
});
