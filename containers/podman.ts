/**
 * The container runtime: podman through its Docker-compatible REST API on a unix socket (Debian's
 * podman.socket, or `podman system service`). No client library: it is HTTP over a socket. Images are
 * local (an edge may have no registry): with `Never` a missing image is ErrImageNeverPull, else a
 * pull is tried and a failure is ErrImagePull. Containers carry labels naming their pod, so a
 * restarted edgecore finds them again rather than starting second copies.
 */
import { request, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../core/log.js';
import { errorText } from '../core/errors.js';
import { hostIP, killTree } from './host.js';
import { RuntimeError, type ContainerConfig, type ContainerRuntime, type ExecHandlers, type ExecOptions, type ExecSession, type LogOptions, type RuntimeContainer } from './runtime.js';

const API = '/v1.41';
const LABEL = {
  uid: 'io.kubeedge.pod.uid',
  pod: 'io.kubeedge.pod.name',
  namespace: 'io.kubeedge.pod.namespace',
  container: 'io.kubeedge.container.name',
  hash: 'io.kubeedge.container.hash',
  attempt: 'io.kubeedge.container.attempt',
} as const;

interface Reply {
  status: number;
  // the API's JSON, read field by field at this edge of the program
  body: any;
}

export interface PodmanOptions {
  /** `unix:///run/podman/podman.sock` */
  endpoint: string;
  log: Logger;
  logMaxBytes: number;
}

export function socketPathOf(endpoint: string): string | undefined {
  return /^unix:\/\/(\/.+)$/.exec(endpoint)?.[1];
}

export function createPodmanRuntime(o: PodmanOptions): ContainerRuntime {
  return new PodmanRuntime(o);
}

/** podman's states, Docker's and its own (a container that just died may be `stopping` or `stopped`) */
function runState(s: string): RuntimeContainer['state'] {
  if (['running', 'paused', 'stopping', 'restarting'].includes(s)) return 'running';
  return ['created', 'configured', 'initialized'].includes(s) ? 'created' : 'exited';
}

const messageOf = (r: Reply): string => (typeof r.body?.message === 'string' ? r.body.message : String(r.body ?? '')).slice(0, 300);

/** the create body of a container, as the Docker API takes it */
function createBody(cfg: ContainerConfig, logMaxBytes: number): { Labels: Record<string, string> } & Record<string, unknown> {
  const portBindings: Record<string, { HostPort: string; HostIp?: string }[]> = {};
  const exposed: Record<string, object> = {};
  for (const p of cfg.ports) {
    const key = `${p.containerPort}/${(p.protocol ?? 'TCP').toLowerCase()}`;
    exposed[key] = {};
    if (p.hostPort) portBindings[key] = [{ HostPort: String(p.hostPort), ...(p.hostIP ? { HostIp: p.hostIP } : {}) }];
  }
  return {
    Image: cfg.image,
    ...(cfg.command ? { Entrypoint: cfg.command } : {}),
    // as Kubernetes: a command without args drops the image's CMD
    ...(cfg.args ? { Cmd: cfg.args } : cfg.command ? { Cmd: [] } : {}),
    Env: Object.entries(cfg.env).map(([k, v]) => `${k}=${v}`),
    ...(cfg.workingDir ? { WorkingDir: cfg.workingDir } : {}),
    Hostname: cfg.hostNetwork ? undefined : cfg.podName,
    Labels: { [LABEL.uid]: cfg.podUid, [LABEL.pod]: cfg.podName, [LABEL.namespace]: cfg.namespace, [LABEL.container]: cfg.name, [LABEL.hash]: cfg.hash, [LABEL.attempt]: String(cfg.attempt) },
    ExposedPorts: exposed,
    StopTimeout: cfg.gracePeriod,
    HostConfig: {
      Init: true, // signals reach the command, and a stop takes no longer than it must
      Binds: cfg.mounts.map((m) => `${m.hostPath}:${m.containerPath}${m.readOnly ? ':ro' : ''}`),
      ...(cfg.memoryBytes ? { Memory: Math.floor(cfg.memoryBytes) } : {}),
      ...(cfg.cpuCores ? { NanoCpus: Math.round(cfg.cpuCores * 1e9) } : {}),
      ...(cfg.hostNetwork ? { NetworkMode: 'host' } : {}),
      PortBindings: portBindings,
      LogConfig: { Type: 'k8s-file', Config: { 'max-size': String(logMaxBytes) } },
    },
  };
}

/**
 * Docker's multiplexed stream (no TTY): frames of an 8-byte header (stream, 0, 0, 0, size as a
 * big-endian u32) and their bytes; `frame` gets each whole one, the rest waits for more.
 */
function demultiplexer(frame: (stream: 1 | 2, data: Buffer) => boolean | void): (chunk: Buffer) => boolean {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= 8 && pending.length >= 8 + pending.readUInt32BE(4)) {
      const size = pending.readUInt32BE(4);
      const stop = frame(pending[0] === 2 ? 2 : 1, pending.subarray(8, 8 + size));
      pending = pending.subarray(8 + size);
      if (stop === true) return true;
    }
    return false;
  };
}

export class PodmanRuntime implements ContainerRuntime {
  readonly name = 'podman' as const;
  private readonly socketPath: string | undefined;
  private readonly listeners: (() => void)[] = [];
  private currentVersion = 'podman://unknown';
  private events: IncomingMessage | undefined;
  private eventsTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** what inspect said of containers that have ended (it no longer changes) */
  private readonly ended = new Map<string, RuntimeContainer>();
  private readonly started = new Map<string, { startedAt: string; ip: string; imageId: string }>();

  constructor(private readonly o: PodmanOptions) {
    this.socketPath = socketPathOf(o.endpoint);
  }

  private open(method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      if (!this.socketPath) return reject(new Error(`${this.o.endpoint} is not unix:///PATH`));
      const req = request({ socketPath: this.socketPath, method, path: `${API}${path}`, headers: body === undefined ? {} : { 'content-type': 'application/json' }, timeout: timeoutMs }, resolve);
      req.on('timeout', () => req.destroy(new Error(`podman did not answer ${method} ${path} within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }

  private async call(method: string, path: string, body?: unknown, timeoutMs?: number): Promise<Reply> {
    const res = await this.open(method, path, body, timeoutMs);
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* keep the text */
    }
    return { status: res.statusCode ?? 0, body: parsed };
  }

  private async containerOf(id: string, labels: Record<string, string>, podmanState: string): Promise<RuntimeContainer | undefined> {
    const base = { id, podUid: labels[LABEL.uid] ?? '', name: labels[LABEL.container] ?? '', hash: labels[LABEL.hash] ?? '', attempt: Number(labels[LABEL.attempt] ?? 0) };
    const state = runState(podmanState);
    if (state === 'exited' && this.ended.has(id)) return this.ended.get(id);
    if (state === 'running' && this.started.has(id)) return { ...base, state: 'running', ...this.started.get(id) };
    const r = await this.call('GET', `/containers/${id}/json`);
    if (r.status !== 200) return undefined;
    const st = r.body.State ?? {};
    if (state === 'exited' && st.Running) return { ...base, state: 'running', ...this.started.get(id) }; // still dying
    const ip = r.body.HostConfig?.NetworkMode === 'host' ? hostIP() : (r.body.NetworkSettings?.IPAddress || hostIP());
    const imageId = String(r.body.Image ?? '');
    const startedAt = String(st.StartedAt ?? '');
    if (st.Running) {
      this.started.set(id, { startedAt, ip, imageId });
      return { ...base, state: 'running', startedAt, ip, imageId };
    }
    if (state === 'created') return { ...base, state: 'created', imageId };
    const exitCode = Number(st.ExitCode ?? 137);
    // on cgroup v1 podman leaves OOMKilled false even when the kernel killed it (said in docs/design.md)
    const c: RuntimeContainer = { ...base, state: 'exited', startedAt, finishedAt: String(st.FinishedAt ?? ''), exitCode, reason: st.OOMKilled ? 'OOMKilled' : exitCode === 0 ? 'Completed' : 'Error', imageId, ip };
    this.ended.set(id, c);
    this.started.delete(id);
    return c;
  }

  /** `die` events make Edged look at once; the relist every second is what it relies on */
  private watchEvents(): void {
    if (this.closed) return;
    const again = (): void => {
      if (!this.closed) this.eventsTimer = setTimeout(() => this.watchEvents(), 5000);
    };
    const filters = encodeURIComponent(JSON.stringify({ type: ['container'], event: ['die'], label: [LABEL.uid] }));
    this.open('GET', `/events?filters=${filters}`, undefined, 0).then((res) => {
      this.events = res;
      res.on('data', () => this.listeners.forEach((l) => l()));
      res.on('close', () => {
        this.events = undefined;
        again();
      });
    }, again);
  }

  async check(): Promise<string | undefined> {
    if (!this.socketPath) return `containerRuntimeEndpoint ${this.o.endpoint} is not unix:///PATH`;
    try {
      // /_ping says the version in a header; /version takes seconds (podman asks runc and conmon theirs)
      const ping = await this.open('GET', '/_ping', undefined, 5000);
      ping.resume();
      if (ping.statusCode !== 200) return `${this.o.endpoint} does not answer the Docker API (/_ping: HTTP ${ping.statusCode ?? '?'})`;
      this.currentVersion = `podman://${String(ping.headers['libpod-api-version'] ?? 'unknown')}`;
    } catch (err) {
      return `no container runtime at ${this.o.endpoint} (${errorText(err)}): install podman and enable podman.socket, or run pods with runtimeClassName: process`;
    }
    if (!this.events && !this.eventsTimer) this.watchEvents();
    return undefined;
  }

  version(): string {
    return this.currentVersion;
  }

  async list(): Promise<RuntimeContainer[]> {
    const filters = encodeURIComponent(JSON.stringify({ label: [LABEL.uid] }));
    const r = await this.call('GET', `/containers/json?all=true&filters=${filters}`);
    if (r.status !== 200) throw new Error(`podman could not list containers: ${messageOf(r)}`);
    const out: RuntimeContainer[] = [];
    const seen = new Set<string>();
    for (const c of r.body as { Id: string; Labels?: Record<string, string>; State: string }[]) {
      seen.add(c.Id);
      const rc = await this.containerOf(c.Id, c.Labels ?? {}, c.State);
      if (rc) out.push(rc);
    }
    for (const id of this.ended.keys()) if (!seen.has(id)) this.ended.delete(id);
    for (const id of this.started.keys()) if (!seen.has(id)) this.started.delete(id);
    return out;
  }

  async ensureImage(image: string, policy: 'Always' | 'IfNotPresent' | 'Never'): Promise<void> {
    const have = await this.call('GET', `/images/${encodeURIComponent(image)}/json`);
    if (have.status === 200 && policy !== 'Always') return;
    if (policy === 'Never') throw new RuntimeError('ErrImageNeverPull', `Container image "${image}" is not present with pull policy of Never`);
    const pull = await this.call('POST', `/images/create?fromImage=${encodeURIComponent(image)}`, undefined, 300_000);
    const failed = pull.status !== 200 || /"error"/.test(typeof pull.body === 'string' ? pull.body : JSON.stringify(pull.body ?? ''));
    if (!failed) return;
    // Always on an edge without its registry: the local copy is better than nothing
    if (have.status === 200) return void this.o.log.warn(`could not pull ${image} (imagePullPolicy Always); using the local image`);
    throw new RuntimeError('ErrImagePull', `failed to pull image "${image}": ${typeof pull.body === 'string' ? pull.body.trim().split('\n').pop()?.slice(0, 200) : messageOf(pull)}`);
  }

  async run(cfg: ContainerConfig): Promise<RuntimeContainer> {
    const name = `k8s_${cfg.name}_${cfg.podName}_${cfg.namespace}_${cfg.podUid.slice(0, 8)}_${cfg.attempt}`;
    const body = createBody(cfg, this.o.logMaxBytes);
    await this.call('DELETE', `/containers/${name}?force=true`); // a leftover of the same name (a crash between create and record)
    const created = await this.call('POST', `/containers/create?name=${encodeURIComponent(name)}`, body);
    if (created.status !== 201) throw new RuntimeError('CreateContainerError', `podman could not create the container: ${messageOf(created)}`);
    const id = String(created.body.Id);
    const startedRes = await this.call('POST', `/containers/${id}/start`);
    if (startedRes.status !== 204 && startedRes.status !== 304) {
      await this.call('DELETE', `/containers/${id}?force=true`);
      throw new RuntimeError('RunContainerError', `podman could not start the container: ${messageOf(startedRes)}`);
    }
    const rc = await this.containerOf(id, body.Labels, 'running');
    if (!rc) throw new RuntimeError('RunContainerError', 'the container vanished as it started');
    return rc;
  }

  async stop(c: RuntimeContainer, gracePeriod: number): Promise<void> {
    await this.call('POST', `/containers/${c.id}/stop?t=${Math.max(0, Math.round(gracePeriod))}`, undefined, (gracePeriod + 30) * 1000);
    this.ended.delete(c.id);
    this.started.delete(c.id);
  }

  async remove(c: RuntimeContainer): Promise<void> {
    await this.call('DELETE', `/containers/${c.id}?force=true&v=true`);
    this.ended.delete(c.id);
    this.started.delete(c.id);
  }

  async removePod(): Promise<void> {
    /* podman keeps nothing of a pod beside its containers */
  }

  async exec(c: RuntimeContainer, command: string[], timeoutMs: number): Promise<number> {
    const made = await this.call('POST', `/containers/${c.id}/exec`, { Cmd: command, AttachStdout: true, AttachStderr: true });
    if (made.status !== 201) return 126;
    const execId = String(made.body.Id);
    try {
      await this.call('POST', `/exec/${execId}/start`, { Detach: false }, timeoutMs);
    } catch {
      return 1; // timed out
    }
    const r = await this.call('GET', `/exec/${execId}/json`);
    return Number(r.body?.ExitCode ?? 1);
  }

  /** an exec's start, hijacked into a raw two-way stream, as Docker's API does on "Upgrade: tcp" */
  private hijack(execId: string, tty: boolean): Promise<Duplex> {
    return new Promise<Duplex>((resolve, reject) => {
      if (!this.socketPath) return reject(new Error(`${this.o.endpoint} is not unix:///PATH`));
      const req = request({ socketPath: this.socketPath, method: 'POST', path: `${API}/exec/${execId}/start`, headers: { 'content-type': 'application/json', connection: 'Upgrade', upgrade: 'tcp' } });
      req.on('upgrade', (_res, socket, head) => {
        if (head.length) socket.unshift(head);
        resolve(socket);
      });
      req.on('response', (res) => {
        res.resume();
        reject(new Error(`podman did not start the exec (HTTP ${res.statusCode ?? 0})`));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ Detach: false, Tty: tty }));
    });
  }

  async interactive(c: RuntimeContainer, opts: ExecOptions, on: ExecHandlers): Promise<ExecSession> {
    const made = await this.call('POST', `/containers/${c.id}/exec`, { Cmd: opts.command, AttachStdin: opts.stdin, AttachStdout: true, AttachStderr: true, Tty: opts.tty });
    if (made.status !== 201) throw new Error(`podman did not make the exec: ${messageOf(made)}`);
    const execId = String(made.body.Id);
    const stream = await this.hijack(execId, opts.tty);
    // without a terminal, stdout and stderr come multiplexed
    const frames = demultiplexer((s, data) => on.output(s, data));
    stream.on('data', (chunk: Buffer) => (opts.tty ? on.output(1, chunk) : frames(chunk)));
    stream.on('error', () => undefined);
    stream.on('close', () => {
      this.call('GET', `/exec/${execId}/json`).then(
        (r) => on.exit(Number(r.body?.ExitCode ?? 1)),
        (err: unknown) => on.exit(new Error(`podman did not say how the exec ended: ${errorText(err)}`)),
      );
    });
    // the exec's process is podman's: ended by its pid with what it started, as the API has no kill for it
    const kill = (): void => {
      this.call('GET', `/exec/${execId}/json`)
        .then((r) => {
          const pid = Number(r.body?.Pid);
          if (r.body?.Running && pid > 0) killTree(pid);
        })
        .catch(() => undefined)
        .finally(() => stream.destroy());
    };
    return {
      write: (d) => void stream.write(d),
      end: () => void stream.end(),
      resize: (w, h) => void this.call('POST', `/exec/${execId}/resize?h=${h}&w=${w}`).catch(() => undefined),
      kill,
    };
  }

  async usage(c: RuntimeContainer): Promise<{ cpuNanos?: number; memoryBytes?: number }> {
    const r = await this.call('GET', `/containers/${c.id}/stats?stream=false&one-shot=true`);
    if (r.status !== 200) return {};
    const cpu = Number(r.body?.cpu_stats?.cpu_usage?.total_usage);
    const mem = Number(r.body?.memory_stats?.usage);
    const stats = r.body?.memory_stats?.stats ?? {};
    const inactive = Number(stats.inactive_file ?? stats.total_inactive_file ?? 0);
    return { ...(Number.isFinite(cpu) ? { cpuNanos: cpu } : {}), ...(Number.isFinite(mem) ? { memoryBytes: Math.max(0, mem - (Number.isFinite(inactive) ? inactive : 0)) } : {}) };
  }

  async logs(c: RuntimeContainer, opts: LogOptions, write: (chunk: string) => void, signal: AbortSignal): Promise<void> {
    const q = new URLSearchParams({ stdout: 'true', stderr: 'true', follow: String(Boolean(opts.follow)), tail: opts.tailLines === undefined ? 'all' : String(opts.tailLines) });
    const res = await this.open('GET', `/containers/${c.id}/logs?${q.toString()}`, undefined, 0);
    let budget = opts.limitBytes ?? Infinity;
    // without a TTY the log is multiplexed; a frame's text is cut at limitBytes
    const frames = demultiplexer((_s, data) => {
      const text = data.subarray(0, Math.min(data.length, budget)).toString('utf8');
      budget -= text.length;
      if (text) write(text);
      return budget <= 0;
    });
    const onAbort = (): void => void res.destroy();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const chunk of res) if (frames(chunk as Buffer)) return;
    } catch {
      /* aborted, or the container went */
    } finally {
      signal.removeEventListener('abort', onAbort);
      res.destroy();
    }
  }

  onChange(l: () => void): void {
    this.listeners.push(l);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.eventsTimer) clearTimeout(this.eventsTimer);
    this.events?.destroy();
  }
}
