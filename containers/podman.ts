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
import { RuntimeError, type ContainerRuntime, type RuntimeContainer } from './runtime.js';

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
  const socketPath = socketPathOf(o.endpoint);
  const listeners: (() => void)[] = [];
  let version = 'podman://unknown';
  let events: IncomingMessage | undefined;
  let eventsTimer: NodeJS.Timeout | undefined;
  let closed = false;
  /** what inspect said of containers that have ended (it no longer changes) */
  const ended = new Map<string, RuntimeContainer>();
  const started = new Map<string, { startedAt: string; ip: string; imageId: string }>();

  const open = (method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      if (!socketPath) return reject(new Error(`${o.endpoint} is not unix:///PATH`));
      const req = request({ socketPath, method, path: `${API}${path}`, headers: body === undefined ? {} : { 'content-type': 'application/json' }, timeout: timeoutMs }, resolve);
      req.on('timeout', () => req.destroy(new Error(`podman did not answer ${method} ${path} within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });

  const call = async (method: string, path: string, body?: unknown, timeoutMs?: number): Promise<Reply> => {
    const res = await open(method, path, body, timeoutMs);
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
  };
  const messageOf = (r: Reply): string => (typeof r.body?.message === 'string' ? r.body.message : String(r.body ?? '')).slice(0, 300);

  /** podman's states, Docker's and its own (a container that just died may be `stopping` or `stopped`) */
  const runState = (s: string): RuntimeContainer['state'] => (['running', 'paused', 'stopping', 'restarting'].includes(s) ? 'running' : ['created', 'configured', 'initialized'].includes(s) ? 'created' : 'exited');

  const containerOf = async (id: string, labels: Record<string, string>, podmanState: string): Promise<RuntimeContainer | undefined> => {
    const base = { id, podUid: labels[LABEL.uid] ?? '', name: labels[LABEL.container] ?? '', hash: labels[LABEL.hash] ?? '', attempt: Number(labels[LABEL.attempt] ?? 0) };
    const state = runState(podmanState);
    if (state === 'exited' && ended.has(id)) return ended.get(id);
    if (state === 'running' && started.has(id)) return { ...base, state: 'running', ...started.get(id) };
    const r = await call('GET', `/containers/${id}/json`);
    if (r.status !== 200) return undefined;
    const st = r.body.State ?? {};
    if (state === 'exited' && st.Running) return { ...base, state: 'running', ...started.get(id) }; // still dying
    const ip = r.body.HostConfig?.NetworkMode === 'host' ? hostIP() : (r.body.NetworkSettings?.IPAddress || hostIP());
    const imageId = String(r.body.Image ?? '');
    const startedAt = String(st.StartedAt ?? '');
    if (st.Running) {
      started.set(id, { startedAt, ip, imageId });
      return { ...base, state: 'running', startedAt, ip, imageId };
    }
    if (state === 'created') return { ...base, state: 'created', imageId };
    const exitCode = Number(st.ExitCode ?? 137);
    // on cgroup v1 podman leaves OOMKilled false even when the kernel killed it (said in docs/design.md)
    const c: RuntimeContainer = { ...base, state: 'exited', startedAt, finishedAt: String(st.FinishedAt ?? ''), exitCode, reason: st.OOMKilled ? 'OOMKilled' : exitCode === 0 ? 'Completed' : 'Error', imageId, ip };
    ended.set(id, c);
    started.delete(id);
    return c;
  };

  /** `die` events make Edged look at once; the relist every second is what it relies on */
  const watchEvents = (): void => {
    if (closed) return;
    const filters = encodeURIComponent(JSON.stringify({ type: ['container'], event: ['die'], label: [LABEL.uid] }));
    open('GET', `/events?filters=${filters}`, undefined, 0)
      .then((res) => {
        events = res;
        res.on('data', () => listeners.forEach((l) => l()));
        res.on('close', () => {
          events = undefined;
          if (!closed) eventsTimer = setTimeout(watchEvents, 5000);
        });
      })
      .catch(() => {
        if (!closed) eventsTimer = setTimeout(watchEvents, 5000);
      });
  };

  return {
    name: 'podman',
    async check() {
      if (!socketPath) return `containerRuntimeEndpoint ${o.endpoint} is not unix:///PATH`;
      try {
        // /_ping says the version in a header; /version takes seconds (podman asks runc and conmon theirs)
        const ping = await open('GET', '/_ping', undefined, 5000);
        ping.resume();
        if (ping.statusCode !== 200) return `${o.endpoint} does not answer the Docker API (/_ping: HTTP ${ping.statusCode ?? '?'})`;
        version = `podman://${String(ping.headers['libpod-api-version'] ?? 'unknown')}`;
      } catch (err) {
        return `no container runtime at ${o.endpoint} (${errorText(err)}): install podman and enable podman.socket, or run pods with runtimeClassName: process`;
      }
      if (!events && !eventsTimer) watchEvents();
      return undefined;
    },
    version: () => version,
    async list() {
      const filters = encodeURIComponent(JSON.stringify({ label: [LABEL.uid] }));
      const r = await call('GET', `/containers/json?all=true&filters=${filters}`);
      if (r.status !== 200) throw new Error(`podman could not list containers: ${messageOf(r)}`);
      const out: RuntimeContainer[] = [];
      const seen = new Set<string>();
      for (const c of r.body as { Id: string; Labels?: Record<string, string>; State: string }[]) {
        seen.add(c.Id);
        const rc = await containerOf(c.Id, c.Labels ?? {}, c.State);
        if (rc) out.push(rc);
      }
      for (const id of ended.keys()) if (!seen.has(id)) ended.delete(id);
      for (const id of started.keys()) if (!seen.has(id)) started.delete(id);
      return out;
    },
    async ensureImage(image, policy) {
      const have = await call('GET', `/images/${encodeURIComponent(image)}/json`);
      if (have.status === 200 && policy !== 'Always') return;
      if (policy === 'Never') {
        throw new RuntimeError('ErrImageNeverPull', `Container image "${image}" is not present with pull policy of Never`);
      }
      const pull = await call('POST', `/images/create?fromImage=${encodeURIComponent(image)}`, undefined, 300_000);
      const failed = pull.status !== 200 || /"error"/.test(typeof pull.body === 'string' ? pull.body : JSON.stringify(pull.body ?? ''));
      if (!failed) return;
      // Always on an edge without its registry: the local copy is better than nothing
      if (have.status === 200) return void o.log.warn(`could not pull ${image} (imagePullPolicy Always); using the local image`);
      throw new RuntimeError('ErrImagePull', `failed to pull image "${image}": ${typeof pull.body === 'string' ? pull.body.trim().split('\n').pop()?.slice(0, 200) : messageOf(pull)}`);
    },
    async run(cfg) {
      const name = `k8s_${cfg.name}_${cfg.podName}_${cfg.namespace}_${cfg.podUid.slice(0, 8)}_${cfg.attempt}`;
      const portBindings: Record<string, { HostPort: string; HostIp?: string }[]> = {};
      const exposed: Record<string, object> = {};
      for (const p of cfg.ports) {
        const key = `${p.containerPort}/${(p.protocol ?? 'TCP').toLowerCase()}`;
        exposed[key] = {};
        if (p.hostPort) portBindings[key] = [{ HostPort: String(p.hostPort), ...(p.hostIP ? { HostIp: p.hostIP } : {}) }];
      }
      const body = {
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
          LogConfig: { Type: 'k8s-file', Config: { 'max-size': String(o.logMaxBytes) } },
        },
      };
      await call('DELETE', `/containers/${name}?force=true`); // a leftover of the same name (a crash between create and record)
      const created = await call('POST', `/containers/create?name=${encodeURIComponent(name)}`, body);
      if (created.status !== 201) throw new RuntimeError('CreateContainerError', `podman could not create the container: ${messageOf(created)}`);
      const id = String(created.body.Id);
      const startedRes = await call('POST', `/containers/${id}/start`);
      if (startedRes.status !== 204 && startedRes.status !== 304) {
        await call('DELETE', `/containers/${id}?force=true`);
        throw new RuntimeError('RunContainerError', `podman could not start the container: ${messageOf(startedRes)}`);
      }
      const rc = await containerOf(id, body.Labels, 'running');
      if (!rc) throw new RuntimeError('RunContainerError', 'the container vanished as it started');
      return rc;
    },
    async stop(c, gracePeriod) {
      await call('POST', `/containers/${c.id}/stop?t=${Math.max(0, Math.round(gracePeriod))}`, undefined, (gracePeriod + 30) * 1000);
      ended.delete(c.id);
      started.delete(c.id);
    },
    async remove(c) {
      await call('DELETE', `/containers/${c.id}?force=true&v=true`);
      ended.delete(c.id);
      started.delete(c.id);
    },
    async removePod() {
      /* podman keeps nothing of a pod beside its containers */
    },
    async exec(c, command, timeoutMs) {
      const made = await call('POST', `/containers/${c.id}/exec`, { Cmd: command, AttachStdout: true, AttachStderr: true });
      if (made.status !== 201) return 126;
      const execId = String(made.body.Id);
      try {
        await call('POST', `/exec/${execId}/start`, { Detach: false }, timeoutMs);
      } catch {
        return 1; // timed out
      }
      const r = await call('GET', `/exec/${execId}/json`);
      return Number(r.body?.ExitCode ?? 1);
    },
    async interactive(c, opts, on) {
      const made = await call('POST', `/containers/${c.id}/exec`, { Cmd: opts.command, AttachStdin: opts.stdin, AttachStdout: true, AttachStderr: true, Tty: opts.tty });
      if (made.status !== 201) throw new Error(`podman did not make the exec: ${messageOf(made)}`);
      const execId = String(made.body.Id);
      // the start is hijacked into a raw two-way stream, as Docker's API does on "Upgrade: tcp"
      const stream = await new Promise<Duplex>((resolve, reject) => {
        if (!socketPath) return reject(new Error(`${o.endpoint} is not unix:///PATH`));
        const req = request({ socketPath, method: 'POST', path: `${API}/exec/${execId}/start`, headers: { 'content-type': 'application/json', connection: 'Upgrade', upgrade: 'tcp' } });
        req.on('upgrade', (_res, socket, head) => {
          if (head.length) socket.unshift(head);
          resolve(socket);
        });
        req.on('response', (res) => {
          res.resume();
          reject(new Error(`podman did not start the exec (HTTP ${res.statusCode ?? 0})`));
        });
        req.on('error', reject);
        req.end(JSON.stringify({ Detach: false, Tty: opts.tty }));
      });
      // without a terminal, stdout and stderr come multiplexed: 8-byte headers (stream, 0, 0, 0, size)
      let pending = Buffer.alloc(0);
      stream.on('data', (chunk: Buffer) => {
        if (opts.tty) return on.output(1, chunk);
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 8 && pending.length >= 8 + pending.readUInt32BE(4)) {
          const size = pending.readUInt32BE(4);
          on.output(pending[0] === 2 ? 2 : 1, pending.subarray(8, 8 + size));
          pending = pending.subarray(8 + size);
        }
      });
      stream.on('error', () => undefined);
      stream.on('close', () => {
        call('GET', `/exec/${execId}/json`).then(
          (r) => on.exit(Number(r.body?.ExitCode ?? 1)),
          (err: unknown) => on.exit(new Error(`podman did not say how the exec ended: ${errorText(err)}`)),
        );
      });
      return {
        write: (d) => void stream.write(d),
        end: () => void stream.end(),
        resize: (w, h) => void call('POST', `/exec/${execId}/resize?h=${h}&w=${w}`).catch(() => undefined),
        kill: () => {
          // the exec's process is podman's: ended by its pid with what it started, as the API has no kill for it
          call('GET', `/exec/${execId}/json`)
            .then((r) => {
              const pid = Number(r.body?.Pid);
              if (r.body?.Running && pid > 0) killTree(pid);
            })
            .catch(() => undefined)
            .finally(() => stream.destroy());
        },
      };
    },
    async usage(c) {
      const r = await call('GET', `/containers/${c.id}/stats?stream=false&one-shot=true`);
      if (r.status !== 200) return {};
      const cpu = Number(r.body?.cpu_stats?.cpu_usage?.total_usage);
      const mem = Number(r.body?.memory_stats?.usage);
      const stats = r.body?.memory_stats?.stats ?? {};
      const inactive = Number(stats.inactive_file ?? stats.total_inactive_file ?? 0);
      return { ...(Number.isFinite(cpu) ? { cpuNanos: cpu } : {}), ...(Number.isFinite(mem) ? { memoryBytes: Math.max(0, mem - (Number.isFinite(inactive) ? inactive : 0)) } : {}) };
    },
    async logs(c, opts, write, signal) {
      const q = new URLSearchParams({ stdout: 'true', stderr: 'true', follow: String(Boolean(opts.follow)), tail: opts.tailLines === undefined ? 'all' : String(opts.tailLines) });
      const res = await open('GET', `/containers/${c.id}/logs?${q.toString()}`, undefined, 0);
      let budget = opts.limitBytes ?? Infinity;
      let pending = Buffer.alloc(0);
      const onAbort = (): void => void res.destroy();
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        for await (const chunk of res) {
          // without a TTY the stream is multiplexed: 8-byte headers (stream, 0, 0, 0, size as big-endian u32)
          pending = Buffer.concat([pending, chunk as Buffer]);
          while (pending.length >= 8) {
            const size = pending.readUInt32BE(4);
            if (pending.length < 8 + size) break;
            const text = pending.subarray(8, 8 + Math.min(size, budget)).toString('utf8');
            pending = pending.subarray(8 + size);
            budget -= text.length;
            if (text) write(text);
            if (budget <= 0) return;
          }
        }
      } catch {
        /* aborted, or the container went */
      } finally {
        signal.removeEventListener('abort', onAbort);
        res.destroy();
      }
    },
    onChange(l) {
      listeners.push(l);
    },
    async close() {
      closed = true;
      if (eventsTimer) clearTimeout(eventsTimer);
      events?.destroy();
    },
  };
}
