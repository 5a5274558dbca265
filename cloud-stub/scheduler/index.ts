/**
 * The binder: a pod without `spec.nodeName` is bound to the node `chooseNode` picks (choose.ts).
 * KubeEdge leaves this to kube-scheduler; a small binder is enough for edges. A pod no node can take stays Pending
 * with `PodScheduled=False, reason Unschedulable` and a message saying why, and is tried again while
 * it waits (nodes come and go without a store change).
 */
import type { Module, ModuleContext } from '../../core/module.js';
import type { Timer } from '../../core/clock.js';
import { errorText } from '../../core/errors.js';
import type { ChangeEvent, KubeObject, ObjectStore, StoredObject } from '../store/objects.js';
import type { NodeLiveStatus } from '../edgecontroller/index.js';
import { pendingPodStatus } from '../edgecontroller/pods.js';
import { chooseNode, type Candidate } from './choose.js';

export interface SchedulerDeps {
  store: ObjectStore;
  liveStatus: (node: string) => NodeLiveStatus | undefined;
  retryMs?: number;
}

export function createScheduler(deps: SchedulerDeps): Module {
  return new Scheduler(deps);
}

const unbound = (pod: KubeObject): boolean => typeof pod.spec?.nodeName !== 'string' || pod.spec.nodeName === '';

class Scheduler implements Module {
  readonly name = 'scheduler';
  readonly group = 'scheduler';
  private ctx: ModuleContext | undefined;
  private timer: Timer | undefined;
  /** pods waiting for a node, as namespace/name */
  private readonly pending = new Set<string>();
  private readonly retryMs: number;
  private readonly onChange = (ev: ChangeEvent): void => this.changed(ev);

  constructor(private readonly deps: SchedulerDeps) {
    this.retryMs = deps.retryMs ?? 2000;
  }

  private async unschedulable(pod: StoredObject, message: string): Promise<void> {
    const have = this.deps.store.status('pod', pod.namespace, pod.name)?.status as { conditions?: { message?: string }[] } | undefined;
    if (have?.conditions?.[0]?.message === message) return;
    const at = new Date(this.ctx?.clock.now() ?? Date.now()).toISOString();
    const status = { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastProbeTime: null, lastTransitionTime: at }] };
    await this.deps.store.reportStatus('pod', pod.namespace, pod.name, { status, node: '', storeId: 'cloud', seq: 0 });
    this.ctx?.log.info(`pod ${pod.namespace}/${pod.name} is unschedulable: ${message}`);
  }

  /** the nodes as chooseNode weighs them */
  private candidates(): Candidate[] {
    const { store, liveStatus } = this.deps;
    return store.list('node').map((n) => ({
      name: n.name,
      labels: n.object.metadata.labels ?? {},
      unschedulable: n.object.spec?.unschedulable === true,
      ready: liveStatus(n.name)?.ready === true,
      pods: store.onNode('pod', n.name).length,
    }));
  }

  private async bind(key: string): Promise<void> {
    const [namespace, name] = key.split('/') as [string, string];
    const pod = this.deps.store.get('pod', namespace, name);
    if (!pod || !unbound(pod.object)) return void this.pending.delete(key);
    const choice = chooseNode((pod.object.spec?.nodeSelector ?? {}) as Record<string, string>, this.candidates());
    if ('unschedulable' in choice) return this.unschedulable(pod, choice.unschedulable);
    this.pending.delete(key);
    const bound = { ...pod.object, spec: { ...pod.object.spec, nodeName: choice.node } };
    await this.deps.store.put('pod', namespace, bound);
    await this.deps.store.reportStatus('pod', namespace, name, { status: pendingPodStatus(bound), node: '', storeId: 'cloud', seq: 0 });
    this.ctx?.log.info(`bound pod ${key} to node ${choice.node}`);
  }

  private run(): void {
    this.timer = undefined;
    for (const key of [...this.pending]) this.bind(key).catch((err: unknown) => this.ctx?.log.error(`cannot bind pod ${key}: ${errorText(err)}`));
    // tried again while they wait: nodes come and go without a store change
    if (this.pending.size > 0 && this.ctx) this.timer = this.ctx.clock.setTimeout(() => this.run(), this.retryMs);
  }

  private soon(): void {
    if (this.timer === undefined && this.ctx) this.timer = this.ctx.clock.setTimeout(() => this.run(), 0);
  }

  private changed(ev: ChangeEvent): void {
    if (ev.kind === 'node') return this.soon(); // labels changed: pods waiting may fit now
    if (ev.kind !== 'pod') return;
    const key = `${ev.object.metadata.namespace ?? 'default'}/${ev.object.metadata.name}`;
    if (ev.type === 'deleted') return void this.pending.delete(key);
    if (unbound(ev.object)) {
      this.pending.add(key);
      return this.soon();
    }
    // moved to another node by a user: what the old node said of it is not the pod's status any more
    const [namespace, name] = key.split('/') as [string, string];
    const st = this.deps.store.status('pod', namespace, name);
    if (!st || st.node === '' || st.node === ev.object.spec?.nodeName) return;
    this.deps.store.reportStatus('pod', namespace, name, { status: pendingPodStatus(ev.object), node: '', storeId: 'cloud', seq: 0 }).catch((err: unknown) => this.ctx?.log.error(`cannot reset the status of ${key}: ${errorText(err)}`));
  }

  async start(c: ModuleContext): Promise<void> {
    this.ctx = c;
    for (const p of this.deps.store.list('pod')) if (unbound(p.object)) this.pending.add(`${p.namespace}/${p.name}`);
    this.deps.store.events.on('change', this.onChange);
    if (this.pending.size > 0) this.timer = c.clock.setTimeout(() => this.run(), this.retryMs);
  }

  async stop(): Promise<void> {
    this.deps.store.events.off('change', this.onChange);
    this.ctx?.clock.clear(this.timer);
    this.timer = undefined;
  }
}
