/**
 * The node's two container runtimes, as Edged uses them: process pods (`runtimeClassName: process`)
 * always, podman for every other pod when it answers. Podman that does not answer is looked at
 * again every RECHECK_MS; the pods waiting for it start when it does.
 */
import type { Logger } from '../../core/log.js';
import { errorText } from '../../core/errors.js';
import { PROCESS_RUNTIME_CLASS, type Pod } from '../../api/pods/types.js';
import { createProcessRuntime } from '../../containers/process.js';
import { createPodmanRuntime } from '../../containers/podman.js';
import type { ContainerRuntime } from '../../containers/runtime.js';
import type { Observed } from './worker.js';

export interface NodeRuntimesOptions {
  root: string;
  /** podman's API socket */
  endpoint: string;
  logMaxBytes: number;
  logMaxFiles: number;
  log: Logger;
}

export class NodeRuntimes {
  readonly process: ReturnType<typeof createProcessRuntime>;
  readonly podman: ContainerRuntime;
  /** why podman cannot be used, or undefined when it can */
  podmanProblem: string | undefined = 'not checked yet';

  constructor(private readonly o: NodeRuntimesOptions) {
    this.process = createProcessRuntime({ root: o.root, log: o.log, logMaxBytes: o.logMaxBytes, logMaxFiles: o.logMaxFiles });
    this.podman = createPodmanRuntime({ endpoint: o.endpoint, log: o.log, logMaxBytes: o.logMaxBytes });
  }

  async start(): Promise<void> {
    const p = this.process;
    await p.check();
    const mounts = p.namespaces ? 'a mount namespace per pod' : 'no mount namespaces (not root): volumes are symlinks at their mountPath';
    this.o.log.info(`process runtime: ${mounts}; ${p.cgroups.version ? `cgroup ${p.cgroups.version} limits` : 'no cgroups: memory and cpu limits are not kept'}`);
    await this.checkPodman();
  }

  /** looks at podman again; true when it has just become usable */
  async checkPodman(): Promise<boolean> {
    const before = this.podmanProblem;
    this.podmanProblem = await this.podman.check();
    if (this.podmanProblem && this.podmanProblem !== before) this.o.log.warn(`${this.podmanProblem}; pods without runtimeClassName: ${PROCESS_RUNTIME_CLASS} wait for it`);
    if (this.podmanProblem || !before) return false;
    this.o.log.info(`container runtime ${this.podman.version()} at ${this.o.endpoint}`);
    return true;
  }

  /** the runtime a pod runs on, or why there is none now */
  runtimeFor(pod: Pod): ContainerRuntime | string {
    if (pod.spec.runtimeClassName === PROCESS_RUNTIME_CLASS) return this.process;
    return this.podmanProblem ?? this.podman;
  }

  /** the version the node reports: podman's when it answers */
  version(): string {
    return this.podmanProblem ? this.process.version() : this.podman.version();
  }

  /**
   * Every container of every usable runtime, by pod uid. A runtime that cannot be listed makes it
   * undefined (a relist must not take its containers for gone), or is skipped when `partial`.
   */
  async listByPod(partial = false): Promise<Map<string, Observed[]> | undefined> {
    const byPod = new Map<string, Observed[]>();
    for (const runtime of this.podmanProblem ? [this.process] : [this.process, this.podman]) {
      let containers;
      try {
        containers = await runtime.list();
      } catch (err) {
        if (!partial) return void this.o.log.warn(`cannot list the ${runtime.name} runtime's containers: ${errorText(err)}`);
        continue;
      }
      for (const container of containers) {
        const list = byPod.get(container.podUid);
        if (list) list.push({ runtime, container });
        else byPod.set(container.podUid, [{ runtime, container }]);
      }
    }
    return byPod;
  }

  onChange(listener: () => void): void {
    this.process.onChange(listener);
    this.podman.onChange(listener);
  }

  async close(): Promise<void> {
    await this.process.close();
    await this.podman.close();
  }
}
