/**
 * One pod at the edge, kept as kubelet keeps it. `sync()` compares the pod's spec with its containers
 * (as the last relist saw them) and acts: starts what is missing, restarts what ended (restartPolicy,
 * with kubelet's crash-loop back-off: the first restart at once, then 10 s doubling to 5 min, reset
 * once a container ran 10 min), replaces a container whose spec changed, runs probes (liveness
 * restarts, readiness sets `ready`), and keeps the pod's status. Syncs of one pod never overlap.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../../core/log.js';
import { errorText } from '../../core/errors.js';
import { parseQuantity } from '../../api/quantity.js';
import type { Container, Pod, PodCondition, PodStatus } from '../../api/pods/types.js';
import { expand, resolveEnv, type ConfigLookup } from './env.js';
import { ProbeRunner } from './probes.js';
import { prepareVolumes, removeVolumes, type PreparedVolume } from './volumes.js';
import { RuntimeError, type ContainerConfig, type ContainerRuntime, type RuntimeContainer } from '../../containers/runtime.js';
import { containerStep, nextBackoff, type BackoffConfig, type RestartState } from './container-step.js';
import { containerStatus, podPhase } from './pod-status.js';

export type { BackoffConfig } from './container-step.js';

export interface WorkerDeps {
  root: string;
  log: Logger;
  /** the runtime the pod runs on, or why there is none */
  runtimeFor(pod: Pod): ContainerRuntime | string;
  lookup: ConfigLookup;
  backoff: BackoffConfig;
  hostIP: string;
  /** the pod's status changed */
  changed(worker: PodWorker): void;
}

/** a container of this pod as the last relist saw it, and the runtime it is in */
export interface Observed {
  runtime: ContainerRuntime;
  container: RuntimeContainer;
}

interface ContainerRecord extends RestartState {
  waiting?: { reason: string; message?: string };
  ready: boolean;
  probedId?: string;
  liveness?: ProbeRunner;
  readiness?: ProbeRunner;
  env: Record<string, string>;
}

const RESYNC_MS = 10_000;

export function podKey(pod: Pod): string {
  return `${pod.metadata.namespace ?? 'default'}/${pod.metadata.name}`;
}

export class PodWorker {
  readonly uid: string;
  private observed: Observed[] = [];
  /** containers this worker started, and when: a relist begun before that cannot know them */
  private readonly launched = new Map<string, { o: Observed; at: number }>();
  private readonly records = new Map<string, ContainerRecord>();
  private readonly transitions = new Map<string, { status: string; at: string }>();
  private busy = false;
  private again = false;
  private terminating = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly startTime = new Date().toISOString();
  private lastStatus = '';

  constructor(
    public pod: Pod,
    private readonly deps: WorkerDeps,
  ) {
    this.uid = pod.metadata.uid as string;
  }

  get key(): string {
    return podKey(this.pod);
  }

  /** the containers of this pod a relist begun at `listedAt` found; syncs when something changed */
  observe(list: Observed[], listedAt = 0): void {
    const sig = (l: Observed[]): string => l.map((o) => `${o.container.id}:${o.container.state}`).sort().join(',');
    const ids = new Set(list.map((o) => o.container.id));
    const all = [...list];
    for (const [id, l] of this.launched) {
      if (ids.has(id)) this.launched.delete(id);
      else if (l.at >= listedAt) all.push(l.o); // started after that relist looked
      else this.launched.delete(id);
    }
    const changed = sig(all) !== sig(this.observed);
    this.observed = all;
    if (changed) this.sync();
  }

  update(pod: Pod): void {
    this.pod = pod;
    this.sync();
  }

  /** the newest attempt of a container (running or not) */
  current(name: string): Observed | undefined {
    return this.attempts(name).at(-1);
  }

  /** the attempt before the newest, ended (kubectl logs --previous), if it is still kept */
  previous(name: string): Observed | undefined {
    const all = this.attempts(name);
    return all.length > 1 ? all.at(-2) : undefined;
  }

  private attempts(name: string): Observed[] {
    return this.observed.filter((o) => o.container.name === name).sort((a, b) => a.container.attempt - b.container.attempt);
  }

  private record(name: string): ContainerRecord {
    let r = this.records.get(name);
    if (!r) this.records.set(name, (r = { backoffMs: 0, nextStartAt: 0, ready: false, lastAttempt: -1, env: {} }));
    return r;
  }

  sync(): void {
    if (this.terminating) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    void this.run()
      .catch((err: unknown) => this.deps.log.error(`pod ${this.key}: sync failed: ${errorText(err)}`))
      .finally(() => {
        this.busy = false;
        if (this.again) {
          this.again = false;
          this.sync();
        }
      });
  }

  private async run(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.sync(), RESYNC_MS);
    const runtime = this.deps.runtimeFor(this.pod);
    const specs = this.pod.spec.containers;
    if (typeof runtime === 'string') {
      for (const c of specs) if (!this.current(c.name)) this.record(c.name).waiting = { reason: 'ContainerCreating', message: runtime };
      return this.publish();
    }
    let volumes: Map<string, PreparedVolume>;
    try {
      volumes = prepareVolumes(this.deps.root, this.pod, this.deps.lookup);
    } catch (err) {
      const reason = err instanceof RuntimeError ? err.reason : 'CreateContainerConfigError';
      for (const c of specs) if (this.current(c.name)?.container.state !== 'running') this.record(c.name).waiting = { reason, message: errorText(err) };
      return this.publish();
    }
    for (const spec of specs) await this.syncContainer(spec, runtime, volumes);
    await this.collectGarbage(new Set(specs.map((c) => c.name)));
    this.scheduleNextStart();
    this.publish();
  }

  private hashOf(spec: Container): string {
    const { hostNetwork, runtimeClassName, volumes } = this.pod.spec;
    return createHash('sha256').update(JSON.stringify({ spec, hostNetwork, runtimeClassName, volumes })).digest('hex').slice(0, 16);
  }

  private async syncContainer(spec: Container, runtime: ContainerRuntime, volumes: Map<string, PreparedVolume>): Promise<void> {
    const rec = this.record(spec.name);
    const cur = this.current(spec.name);
    const facts = { specHash: this.hashOf(spec), ...(cur && { current: cur.container }), policy: this.pod.spec.restartPolicy ?? 'Always', now: Date.now(), backoff: this.deps.backoff };
    const { step, state } = containerStep(facts, rec);
    Object.assign(rec, state);
    if (step.step === 'keep-running') {
      rec.waiting = undefined;
      return this.startProbes(spec, cur as Observed, rec);
    }
    this.stopProbes(rec);
    switch (step.step) {
      case 'replace':
        this.deps.log.info(`pod ${this.key}: container ${spec.name} changed; replacing it`);
        if (cur?.container.state === 'running') await cur.runtime.stop(cur.container, this.gracePeriod());
        return this.start(spec, runtime, volumes, step.attempt);
      case 'leave-ended':
        rec.waiting = undefined;
        return;
      case 'back-off':
        rec.waiting = { reason: 'CrashLoopBackOff', message: `back-off ${Math.round(step.backoffMs / 1000)}s restarting failed container=${spec.name} pod=${this.pod.metadata.name}_${this.pod.metadata.namespace ?? 'default'}(${this.uid})` };
        return;
      case 'start':
        return this.start(spec, runtime, volumes, step.attempt);
      case 'hold':
        return; // waits out an image pull or start back-off
    }
  }

  private gracePeriod(): number {
    return this.pod.spec.terminationGracePeriodSeconds ?? 30;
  }

/** what the runtime runs for a container: its command with $(VAR) expanded, its volumes, its limits */
  private containerConfig(spec: Container, env: Record<string, string>, volumes: Map<string, PreparedVolume>, attempt: number): ContainerConfig {
    const limits = spec.resources?.limits ?? {};
    const mounts = (spec.volumeMounts ?? []).map((m) => {
      const v = volumes.get(m.name) as PreparedVolume;
      return { hostPath: v.hostPath, containerPath: m.mountPath, readOnly: m.readOnly === true || v.readOnly };
    });
    return {
      podUid: this.uid,
      podName: this.pod.metadata.name,
      namespace: this.pod.metadata.namespace ?? 'default',
      name: spec.name,
      hash: this.hashOf(spec),
      attempt,
      image: spec.image,
      ...(spec.command ? { command: spec.command.map((a) => expand(a, env)) } : {}),
      ...(spec.args ? { args: spec.args.map((a) => expand(a, env)) } : {}),
      ...(spec.workingDir ? { workingDir: spec.workingDir } : {}),
      env,
      mounts,
      ports: spec.ports ?? [],
      ...(limits.memory !== undefined ? { memoryBytes: parseQuantity(limits.memory) } : {}),
      ...(limits.cpu !== undefined ? { cpuCores: parseQuantity(limits.cpu) } : {}),
      hostNetwork: this.pod.spec.hostNetwork === true,
      gracePeriod: this.gracePeriod(),
    };
  }

  private async start(spec: Container, runtime: ContainerRuntime, volumes: Map<string, PreparedVolume>, attempt: number): Promise<void> {
    const rec = this.record(spec.name);
    const ns = this.pod.metadata.namespace ?? 'default';
    const fail = (err: unknown, backoff: boolean): void => {
      const reason = err instanceof RuntimeError ? err.reason : 'RunContainerError';
      const pullBackoff = reason === 'ErrImagePull' && rec.waiting?.reason.startsWith('ErrImagePull');
      rec.waiting = { reason: pullBackoff ? 'ImagePullBackOff' : reason, message: errorText(err) };
      if (backoff) {
        rec.backoffMs = nextBackoff(rec.backoffMs, this.deps.backoff);
        rec.nextStartAt = Date.now() + rec.backoffMs;
      }
      this.deps.log.warn(`pod ${this.key}: container ${spec.name}: ${reason}: ${errorText(err)}`);
    };
    let env: Record<string, string>;
    try {
      env = resolveEnv(spec, ns, this.deps.lookup);
    } catch (err) {
      return fail(err, false); // tried again on the next sync, or when the object arrives
    }
    try {
      await runtime.ensureImage(spec.image, spec.imagePullPolicy ?? 'IfNotPresent');
    } catch (err) {
      return fail(err, err instanceof RuntimeError && err.reason === 'ErrImagePull');
    }
    try {
      const c = await runtime.run(this.containerConfig(spec, env, volumes, attempt));
      rec.waiting = undefined;
      rec.env = env;
      rec.ready = false;
      rec.lastAttempt = attempt;
      const o = { runtime, container: c };
      // a relist that ran meanwhile may have found it already
      if (!this.observed.some((x) => x.container.id === c.id)) this.observed.push(o);
      this.launched.set(c.id, { o, at: Date.now() });
      this.deps.log.info(`pod ${this.key}: started container ${spec.name}${attempt > 0 ? ` (restart ${attempt})` : ''}`);
      this.startProbes(spec, { runtime, container: c }, rec);
    } catch (err) {
      fail(err, true);
    }
  }

  private startProbes(spec: Container, cur: Observed, rec: ContainerRecord): void {
    if (rec.probedId === cur.container.id) return;
    this.stopProbes(rec);
    rec.probedId = cur.container.id;
    const target = { runtime: cur.runtime, container: cur.container, ports: spec.ports ?? [], env: rec.env };
    rec.ready = !spec.readinessProbe;
    if (spec.livenessProbe) {
      rec.liveness = new ProbeRunner(spec.livenessProbe, target, (passed) => {
        if (passed || rec.probedId !== cur.container.id) return;
        this.deps.log.info(`pod ${this.key}: container ${spec.name} failed its liveness probe; restarting it`);
        void cur.runtime.stop(cur.container, this.gracePeriod()).finally(() => this.sync());
      });
      rec.liveness.start();
    }
    if (spec.readinessProbe) {
      rec.readiness = new ProbeRunner(spec.readinessProbe, target, (passed) => {
        rec.ready = passed;
        this.publish();
      });
      rec.readiness.start();
    }
  }

  private stopProbes(rec: ContainerRecord): void {
    rec.liveness?.stop();
    rec.readiness?.stop();
    rec.liveness = rec.readiness = rec.probedId = undefined;
    rec.ready = false;
  }

  /**
   * Keeps the newest two attempts of each container (the previous one's log is `--previous`); the
   * rest goes, and so does any copy still running that is not the newest: one runs, never two.
   */
  private async collectGarbage(names: ReadonlySet<string>): Promise<void> {
    const gone: Observed[] = [];
    for (const o of this.observed) {
      const newest = this.current(o.container.name)?.container;
      if (!names.has(o.container.name)) gone.push(o);
      else if (o.container.attempt < (newest?.attempt ?? 0) - 1) gone.push(o);
      else if (o.container.id !== newest?.id && o.container.state === 'running') {
        this.deps.log.warn(`pod ${this.key}: container ${o.container.name} attempt ${o.container.attempt} still runs beside attempt ${newest?.attempt ?? '?'}; stopping it`);
        await o.runtime.stop(o.container, this.gracePeriod());
        o.container = { ...o.container, state: 'exited', exitCode: 137, reason: 'Error', finishedAt: new Date().toISOString() };
      }
    }
    for (const o of gone) {
      if (o.container.state === 'running') await o.runtime.stop(o.container, this.gracePeriod());
      await o.runtime.remove(o.container);
    }
    if (gone.length) this.observed = this.observed.filter((o) => !gone.includes(o));
  }

  private scheduleNextStart(): void {
    const next = Math.min(...[...this.records.values()].map((r) => r.nextStartAt).filter((t) => t > Date.now()));
    if (Number.isFinite(next)) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => this.sync(), Math.max(0, next - Date.now()) + 5);
    }
  }

  /** Stops everything of the pod and leaves nothing on disk. */
  async terminate(): Promise<void> {
    this.terminating = true;
    if (this.timer) clearTimeout(this.timer);
    for (const rec of this.records.values()) this.stopProbes(rec);
    while (this.busy) await new Promise((r) => setTimeout(r, 20));
    const grace = this.gracePeriod();
    await Promise.all(this.observed.filter((o) => o.container.state === 'running').map((o) => o.runtime.stop(o.container, grace)));
    for (const o of this.observed) await o.runtime.remove(o.container);
    for (const rt of new Set(this.observed.map((o) => o.runtime))) await rt.removePod(this.uid);
    removeVolumes(this.deps.root, this.uid);
  }

  /** Stops probes and timers, leaving the containers running (edgecore is stopping). */
  detach(): void {
    this.terminating = true;
    if (this.timer) clearTimeout(this.timer);
    for (const rec of this.records.values()) this.stopProbes(rec);
  }

  private condition(type: PodCondition['type'], ok: boolean, reason?: string): PodCondition {
    const status = ok ? 'True' : 'False';
    const last = this.transitions.get(type);
    const at = last && last.status === status ? last.at : new Date().toISOString();
    this.transitions.set(type, { status, at });
    return { type, status, lastProbeTime: null, lastTransitionTime: at, ...(reason && !ok ? { reason } : {}) };
  }

  status(): PodStatus {
    const statuses = this.pod.spec.containers.map((spec) => {
      const rec = this.records.get(spec.name);
      return containerStatus(spec, this.attempts(spec.name), rec?.waiting, rec?.ready === true, this.startTime);
    });
    const phase = podPhase(statuses);
    const ready = statuses.every((cs) => cs.ready);
    const notReady = statuses.filter((cs) => !cs.ready).map((cs) => cs.name);
    const why = notReady.length ? `containers with unready status: [${notReady.join(' ')}]` : '';
    const podIP = this.pod.spec.hostNetwork ? this.deps.hostIP : (this.observed.find((o) => o.container.state === 'running')?.container.ip ?? undefined);
    return {
      phase,
      conditions: [
        this.condition('Initialized', true),
        { ...this.condition('Ready', ready && phase === 'Running', 'ContainersNotReady'), ...(why && !ready ? { message: why } : {}) },
        { ...this.condition('ContainersReady', ready && phase === 'Running', 'ContainersNotReady'), ...(why && !ready ? { message: why } : {}) },
        this.condition('PodScheduled', true),
      ],
      hostIP: this.deps.hostIP,
      ...(podIP ? { podIP, podIPs: [{ ip: podIP }] } : {}),
      startTime: this.startTime,
      containerStatuses: statuses,
    };
  }

  private publish(): void {
    const text = JSON.stringify(this.status());
    if (text === this.lastStatus) return;
    this.lastStatus = text;
    this.deps.changed(this);
  }
}
