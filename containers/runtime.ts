/**
 * What Edged needs of a container runtime: containers made, started, stopped and found again after a
 * restart of edgecore (by their labels: pod uid, container name, spec hash, attempt). Two implement
 * it: podman through its Docker-compatible API, and host processes for boards without containers.
 */
import type { ContainerPort } from '../api/pods/types.js';

export interface Mount {
  hostPath: string;
  containerPath: string;
  readOnly: boolean;
}

/** One container to run, with everything resolved (env values, volume folders). */
export interface ContainerConfig {
  podUid: string;
  podName: string;
  namespace: string;
  name: string;
  /** the container spec's hash: a container whose hash differs from its spec's is replaced */
  hash: string;
  /** 0 for the first run, then one more for every restart */
  attempt: number;
  image: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  env: Record<string, string>;
  mounts: Mount[];
  ports: ContainerPort[];
  memoryBytes?: number;
  cpuCores?: number;
  hostNetwork: boolean;
  /** seconds between SIGTERM and SIGKILL */
  gracePeriod: number;
}

export type ContainerRunState = 'running' | 'exited' | 'created';

/** A container as the runtime sees it. */
export interface RuntimeContainer {
  id: string;
  podUid: string;
  name: string;
  hash: string;
  attempt: number;
  state: ContainerRunState;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  /** OOMKilled, Error, Completed, ContainerStatusUnknown */
  reason?: string;
  imageId?: string;
  /** where probes and the pod's IP point */
  ip?: string;
}

export interface LogOptions {
  tailLines?: number;
  follow?: boolean;
  limitBytes?: number;
}

/** A command run in a container for a person (kubectl exec): its input, output and end. */
export interface ExecOptions {
  command: string[];
  stdin: boolean;
  /** a terminal: stdout and stderr are one stream, and input is echoed */
  tty: boolean;
}

export interface ExecHandlers {
  /** 1: stdout, 2: stderr */
  output(stream: 1 | 2, data: Buffer): void;
  /** the command ended (its exit code), or could not run (an error) */
  exit(code: number | Error): void;
}

export interface ExecSession {
  write(data: Buffer): void;
  /** stdin is closed */
  end(): void;
  resize(width: number, height: number): void;
  /** stops the command (the caller went away) */
  kill(): void;
}

/** A failure with kubelet's reason, shown in the container's `waiting` state. */
export class RuntimeError extends Error {
  constructor(
    readonly reason: 'ErrImageNeverPull' | 'ErrImagePull' | 'CreateContainerConfigError' | 'CreateContainerError' | 'RunContainerError' | 'ContainerRuntimeUnavailable',
    message: string,
  ) {
    super(message);
    this.name = 'RuntimeError';
  }
}

export interface ContainerRuntime {
  readonly name: 'process' | 'podman';
  /** checks the runtime can be used; resolves with why not, or undefined */
  check(): Promise<string | undefined>;
  /** `podman://4.3.1`, `process://linux` (the node's containerRuntimeVersion) */
  version(): string;
  /** every container Edged made, running or not */
  list(): Promise<RuntimeContainer[]>;
  /** makes sure the image is there; throws RuntimeError (ErrImageNeverPull, ErrImagePull) */
  ensureImage(image: string, policy: 'Always' | 'IfNotPresent' | 'Never'): Promise<void>;
  /** makes and starts a container; throws RuntimeError */
  run(config: ContainerConfig): Promise<RuntimeContainer>;
  /** SIGTERM, then SIGKILL after `gracePeriod` seconds */
  stop(c: RuntimeContainer, gracePeriod: number): Promise<void>;
  /** forgets a stopped container (and its logs) */
  remove(c: RuntimeContainer): Promise<void>;
  /** takes away what the runtime made for a pod beside its containers, once they are all removed */
  removePod(podUid: string): Promise<void>;
  /** runs a command inside a running container (exec probes); resolves with its exit code */
  exec(c: RuntimeContainer, command: string[], timeoutMs: number, env?: Record<string, string>): Promise<number>;
  /** runs a command inside a running container with its input and output streamed (kubectl exec) */
  interactive(c: RuntimeContainer, opts: ExecOptions, on: ExecHandlers): Promise<ExecSession>;
  /** what a running container uses: CPU time so far (ns) and its working set (bytes), where known */
  usage(c: RuntimeContainer): Promise<{ cpuNanos?: number; memoryBytes?: number }>;
  /** writes the container's log; resolves when it is written (or, following, when the container stops or `signal` aborts) */
  logs(c: RuntimeContainer, opts: LogOptions, write: (chunk: string) => void, signal: AbortSignal): Promise<void>;
  /** called when a container may have stopped (a faster path than the relist) */
  onChange(listener: () => void): void;
  close(): Promise<void>;
}
