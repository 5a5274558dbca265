/**
 * The pods this node runs, each kept by its worker (worker.ts), with the ConfigMaps and Secrets
 * their env and volumes read. Changes come from MetaManager's store; every relist of the runtimes
 * hands each worker its containers, and containers of no pod of ours are stopped and removed.
 */
import type { Logger } from '../../core/log.js';
import { errorText } from '../../core/errors.js';
import type { ConfigMap, Pod, Secret } from '../../api/pods/types.js';
import type { ObjectChange } from '../metamanager/source.js';
import type { NodeRuntimes } from './runtimes.js';
import { PodWorker, podKey, type BackoffConfig, type Observed, type WorkerDeps } from './worker.js';

export interface PodSetDeps {
  nodeName: string;
  root: string;
  hostIP: string;
  backoff: BackoffConfig;
  log: Logger;
  runtimes: NodeRuntimes;
  /** a pod's status changed */
  podChanged(w: PodWorker): void;
  /** a pod is gone, its containers and files with it */
  podRemoved(): void;
}

export class PodSet {
  /** by `<namespace>/<name>` */
  readonly pods = new Map<string, Pod>();
  /** by pod uid */
  readonly workers = new Map<string, PodWorker>();
  /** by `<kind>/<namespace>/<name>` */
  private readonly configs = new Map<string, ConfigMap | Secret>();
  private relisting: Promise<void> | undefined;
  private relistAgain = false;
  private stopped = false;

  constructor(private readonly deps: PodSetDeps) {}

  /** the worker of `<namespace>/<name>`, when this node runs that pod */
  worker(namespace: string, name: string): PodWorker | undefined {
    const pod = this.pods.get(`${namespace}/${name}`);
    return pod ? this.workers.get(pod.metadata.uid as string) : undefined;
  }

  /** is this pod one this node runs? */
  private ours(pod: Pod | undefined): pod is Pod {
    return pod !== undefined && (pod.spec.nodeName === undefined || pod.spec.nodeName === this.deps.nodeName);
  }

  /** what the store holds at start: each pod starts, or adopts the containers found running for it */
  adopt(replay: readonly ObjectChange[], observed: ReadonlyMap<string, Observed[]>): void {
    for (const ch of replay) if (ch.kind !== 'pod') this.onChange(ch);
    for (const ch of replay) {
      const pod = ch.object as Pod | undefined;
      if (ch.kind !== 'pod' || !this.ours(pod)) continue;
      this.pods.set(`${ch.namespace}/${ch.name}`, pod);
      const found = observed.get(pod.metadata.uid as string) ?? [];
      if (found.some((o) => o.container.state === 'running')) this.deps.log.info(`pod ${podKey(pod)}: found its containers running; adopting them`);
      this.startWorker(pod, found);
    }
  }

  onChange(c: ObjectChange): void {
    if (c.kind === 'configmap' || c.kind === 'secret') return this.configChanged(c);
    if (c.kind !== 'pod') return;
    const id = `${c.namespace}/${c.name}`;
    const pod = c.object as Pod | undefined;
    const prev = this.pods.get(id);
    const old = prev ? this.workers.get(prev.metadata.uid as string) : undefined;
    if (c.operation === 'delete' || !this.ours(pod)) {
      this.pods.delete(id);
      if (old) this.stopWorker(old);
      return;
    }
    this.pods.set(id, pod);
    if (old && old.uid === pod.metadata.uid) return old.update(pod);
    if (old) this.stopWorker(old); // the same name, a new pod
    this.startWorker(pod);
  }

  private configChanged(c: ObjectChange): void {
    const key = `${c.kind}/${c.namespace}/${c.name}`;
    if (c.operation === 'delete' || !c.object) this.configs.delete(key);
    else this.configs.set(key, c.object as ConfigMap | Secret);
    // volumes follow the change in running pods; a pod waiting for it can start now
    for (const w of this.workers.values()) if ((w.pod.metadata.namespace ?? 'default') === c.namespace) w.sync();
  }

  syncAll(): void {
    for (const w of this.workers.values()) w.sync();
  }

  /** lists every runtime and hands each pod its containers; containers of no pod of ours go */
  relist(): Promise<void> {
    if (this.relisting) {
      this.relistAgain = true;
      return this.relisting;
    }
    this.relisting = this.relistOnce().finally(() => {
      this.relisting = undefined;
      if (this.relistAgain && !this.stopped) {
        this.relistAgain = false;
        void this.relist();
      }
    });
    return this.relisting;
  }

  private async relistOnce(): Promise<void> {
    const listedAt = Date.now();
    const byPod = await this.deps.runtimes.listByPod();
    if (!byPod || this.stopped) return;
    for (const [uid, list] of byPod) {
      const w = this.workers.get(uid);
      if (w) w.observe(list, listedAt);
      else this.removeOrphan(uid, list);
    }
    for (const [uid, w] of this.workers) if (!byPod.has(uid)) w.observe([], listedAt);
  }

  /** a pod deleted while edgecore was down, or whose deletion it did not finish */
  private removeOrphan(uid: string, containers: Observed[]): void {
    this.deps.log.info(`stopping ${containers.length} container(s) of pod ${uid}, which this node no longer runs`);
    const orphan = new PodWorker({ apiVersion: 'v1', kind: 'Pod', metadata: { name: uid, uid }, spec: { containers: [] } } as unknown as Pod, this.workerDeps('default'));
    orphan.observe(containers);
    this.workers.set(uid, orphan);
    this.stopWorker(orphan);
  }

  /** pods keep running when edgecore stops: the next edgecore adopts them */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.relisting;
    for (const w of this.workers.values()) w.detach();
  }

  private workerDeps(namespace: string): WorkerDeps {
    return {
      root: this.deps.root,
      log: this.deps.log,
      runtimeFor: (pod) => this.deps.runtimes.runtimeFor(pod),
      lookup: {
        configMap: (name) => this.configs.get(`configmap/${namespace}/${name}`) as ConfigMap | undefined,
        secret: (name) => this.configs.get(`secret/${namespace}/${name}`) as Secret | undefined,
      },
      backoff: this.deps.backoff,
      hostIP: this.deps.hostIP,
      changed: (w) => this.deps.podChanged(w),
    };
  }

  private startWorker(pod: Pod, observed: Observed[] = []): void {
    const w = new PodWorker(pod, this.workerDeps(pod.metadata.namespace ?? 'default'));
    this.workers.set(w.uid, w);
    w.observe(observed);
    w.sync();
  }

  private stopWorker(w: PodWorker): void {
    this.workers.delete(w.uid);
    this.deps.log.info(`pod ${w.key} removed; stopping its containers`);
    w.terminate().then(
      () => {
        this.deps.log.info(`pod ${w.key}: every container stopped and removed, its files deleted`);
        this.deps.podRemoved();
      },
      (err: unknown) => this.deps.log.error(`pod ${w.key}: could not clean up: ${errorText(err)}`),
    );
  }
}
