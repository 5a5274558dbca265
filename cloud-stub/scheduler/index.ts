/**
 * The binder: a pod without `spec.nodeName` is bound to the node `chooseNode` picks (choose.ts).
 * KubeEdge leaves this to kube-scheduler; a small binder is enough for edges. A pod no node can take stays Pending
 * with `PodScheduled=False, reason Unschedulable` and a message saying why, and is tried again while
 * it waits (nodes come and go without a store change).
 */
import type { Module, ModuleContext } from '../../core/module.js';
import type { Timer } from '../../core/clock.js';
import { errorText } from '../../core/errors.js';
import type { ChangeEvent, ObjectStore, StoredObject } from '../store/objects.js';
import type { NodeLiveStatus } from '../edgecontroller/index.js';
import { pendingPodStatus } from '../edgecontroller/pods.js';
import { chooseNode } from './choose.js';

export interface SchedulerDeps {
  store: ObjectStore;
  liveStatus: (node: string) => NodeLiveStatus | undefined;
  retryMs?: number;
}

export function createScheduler(deps: SchedulerDeps): Module {
  let ctx: ModuleContext | undefined;
  let timer: Timer | undefined;
  const pending = new Set<string>(); // namespace/name
  const retryMs = deps.retryMs ?? 2000;

  const unschedulable = async (pod: StoredObject, message: string): Promise<void> => {
    const have = deps.store.status('pod', pod.namespace, pod.name)?.status as { conditions?: { message?: string }[] } | undefined;
    if (have?.conditions?.[0]?.message === message) return;
    const at = new Date(ctx?.clock.now() ?? Date.now()).toISOString();
    const status = { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastProbeTime: null, lastTransitionTime: at }] };
    await deps.store.reportStatus('pod', pod.namespace, pod.name, { status, node: '', storeId: 'cloud', seq: 0 });
    ctx?.log.info(`pod ${pod.namespace}/${pod.name} is unschedulable: ${message}`);
  };

  const bind = async (key: string): Promise<void> => {
    const [namespace, name] = key.split('/') as [string, string];
    const pod = deps.store.get('pod', namespace, name);
    if (!pod || (typeof pod.object.spec?.nodeName === 'string' && pod.object.spec.nodeName !== '')) return void pending.delete(key);
    const selector = (pod.object.spec?.nodeSelector ?? {}) as Record<string, string>;
    const choice = chooseNode(
      selector,
      deps.store.list('node').map((n) => ({
        name: n.name,
        labels: n.object.metadata.labels ?? {},
        unschedulable: n.object.spec?.unschedulable === true,
        ready: deps.liveStatus(n.name)?.ready === true,
        pods: deps.store.onNode('pod', n.name).length,
      })),
    );
    if ('unschedulable' in choice) return unschedulable(pod, choice.unschedulable);
    const target = choice.node;
    pending.delete(key);
    const bound = { ...pod.object, spec: { ...pod.object.spec, nodeName: target } };
    await deps.store.put('pod', namespace, bound);
    await deps.store.reportStatus('pod', namespace, name, { status: pendingPodStatus(bound), node: '', storeId: 'cloud', seq: 0 });
    ctx?.log.info(`bound pod ${key} to node ${target}`);
  };

  const run = (): void => {
    timer = undefined;
    for (const key of [...pending]) bind(key).catch((err: unknown) => ctx?.log.error(`cannot bind pod ${key}: ${errorText(err)}`));
    if (pending.size > 0 && ctx) timer = ctx.clock.setTimeout(run, retryMs);
  };

  const soon = (): void => {
    if (timer === undefined && ctx) timer = ctx.clock.setTimeout(run, 0);
  };

  const onChange = (ev: ChangeEvent): void => {
    if (ev.kind === 'node') return soon(); // labels changed: pods waiting may fit now
    if (ev.kind !== 'pod') return;
    const key = `${ev.object.metadata.namespace ?? 'default'}/${ev.object.metadata.name}`;
    if (ev.type === 'deleted') return void pending.delete(key);
    const node = ev.object.spec?.nodeName;
    if (typeof node !== 'string' || node === '') {
      pending.add(key);
      return soon();
    }
    // moved to another node by a user: what the old node said of it is not the pod's status any more
    const [namespace, name] = key.split('/') as [string, string];
    const st = deps.store.status('pod', namespace, name);
    if (st && st.node !== '' && st.node !== node) {
      deps.store.reportStatus('pod', namespace, name, { status: pendingPodStatus(ev.object), node: '', storeId: 'cloud', seq: 0 }).catch((err: unknown) => ctx?.log.error(`cannot reset the status of ${key}: ${errorText(err)}`));
    }
  };

  return {
    name: 'scheduler',
    group: 'scheduler',
    async start(c) {
      ctx = c;
      for (const p of deps.store.list('pod')) if (typeof p.object.spec?.nodeName !== 'string' || p.object.spec.nodeName === '') pending.add(`${p.namespace}/${p.name}`);
      deps.store.events.on('change', onChange);
      if (pending.size > 0) timer = c.clock.setTimeout(run, retryMs);
    },
    async stop() {
      deps.store.events.off('change', onChange);
      ctx?.clock.clear(timer);
      timer = undefined;
    },
  };
}
