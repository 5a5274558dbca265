/**
 * Edged: runs this node's pods as KubeEdge's edged (a trimmed kubelet) does. Pods, ConfigMaps and
 * Secrets come from MetaManager's store, so after a restart with no cloud every pod starts (or is
 * found running and adopted) at once. Containers run on podman, or as host processes with
 * `runtimeClassName: process`. Every second the runtimes are listed (kubelet's PLEG) and each pod
 * whose containers changed is synced. Pod status goes up through the outbox, as does the node's.
 * A pod's log crosses the link only when the cloud asks for it.
 */
import type { Module, ModuleContext } from '../../core/module.js';
import { errorText } from '../../core/errors.js';
import { Group, Operation, responseTo, type Message, type ReplyPart } from '../../core/message.js';
import { parseDuration } from '../../core/duration.js';
import { isObj } from '../../core/guards.js';
import { parseQuantity } from '../../api/quantity.js';
import { PROCESS_RUNTIME_CLASS, type ConfigMap, type Pod, type Secret } from '../../api/pods/types.js';
import type { KubeObject } from '../../api/object.js';
import type { EdgedConfig } from '../../api/config/edgecore.js';
import type { ObjectChange, ObjectSource } from '../metamanager/source.js';
import type { OutboxRoute } from '../metamanager/index.js';
import { EDGEHUB, HubEvent } from '../edgehub/index.js';
import { PodWorker, podKey, type BackoffConfig, type Observed, type WorkerDeps } from './worker.js';
import { createProcessRuntime } from '../../containers/process.js';
import { createPodmanRuntime } from '../../containers/podman.js';
import { nodeStatus } from './nodestatus.js';
import { hostIP } from '../../containers/host.js';
import type { ContainerRuntime, ExecSession } from '../../containers/runtime.js';
import { USAGE_RESOURCE, type NodeUsage } from '../../api/usage.js';
import { FRESH_WINDOW_MS, MAX_WINDOW_MS, nodeCounters, rate, type Counters, type UsageSample } from './usage.js';

export const EDGED = 'edged';
const RELIST_MS = 1000;
const RECHECK_RUNTIME_MS = 30_000;
const MAX_LOG_STREAMS = 8;
/** a followed log leaves in parts of at most this size, at most every FLUSH_MS */
const LOG_PART_BYTES = 64 * 1024;
const FLUSH_MS = 100;
/** an exec's output is gathered this long before it leaves (a person types at it) */
const EXEC_FLUSH_MS = 10;
/** inputs kept for a command that has not started yet (each at most the cloud's 64 KiB message) */
const MAX_EARLY_INPUTS = 64;

export interface EdgedDeps {
  nodeName: string;
  config: EdgedConfig;
  /** pods, configmaps, secrets from MetaManager */
  source: ObjectSource;
  /** MetaManager's outbox: pod and node status for the cloud; none when standalone */
  outbox: ((route: OutboxRoute, content: unknown) => Promise<void>) | undefined;
}

export interface Edged extends Module {
  /** an object as MetaServer shows it: a pod with its live status */
  present(kind: string, obj: KubeObject): KubeObject;
}

function durationMs(text: string, path: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new Error(`modules.edged.tailoredKubeletConfig.${path}: ${JSON.stringify(text)} is not a duration (like 10s or 5m0s)`);
  return ms;
}

export function createEdged(deps: EdgedDeps): Edged {
  const cfg = deps.config;
  const kubelet = cfg.tailoredKubeletConfig;
  let ctx: ModuleContext | undefined;
  let processRuntime: ReturnType<typeof createProcessRuntime> | undefined;
  let podman: ContainerRuntime | undefined;
  /** why podman cannot be used, or undefined when it can */
  let podmanProblem: string | undefined = 'not checked yet';
  const pods = new Map<string, Pod>(); // namespace/name
  const configs = new Map<string, ConfigMap | Secret>(); // kind/namespace/name
  const workers = new Map<string, PodWorker>(); // uid
  const streams = new Map<string, AbortController>(); // request msg_id
  const sessions = new Map<string, ExecSession>(); // execs and attaches, by request msg_id
  let lastUsage: UsageSample | undefined; // kubectl top's rates are taken against it
  let relistTimer: NodeJS.Timeout | undefined;
  let recheckTimer: NodeJS.Timeout | undefined;
  let relisting: Promise<void> | undefined;
  let relistAgain = false;
  let lastNodeStatus = '';
  let stopped = false;
  const ip = hostIP();

  const lookupIn = (namespace: string) => ({
    configMap: (name: string) => configs.get(`configmap/${namespace}/${name}`) as ConfigMap | undefined,
    secret: (name: string) => configs.get(`secret/${namespace}/${name}`) as Secret | undefined,
  });

  const reportNode = (): void => {
    if (!deps.outbox) return;
    const running = [...workers.values()].filter((w) => w.status().phase === 'Running').length;
    const report = nodeStatus({ nodeName: deps.nodeName, labels: cfg.nodeLabels, runtimeVersion: podmanProblem ? (processRuntime?.version() ?? '') : (podman?.version() ?? ''), pods: { running, total: workers.size }, ip });
    const text = JSON.stringify(report);
    if (text === lastNodeStatus) return;
    lastNodeStatus = text;
    deps.outbox({ group: Group.resource, operation: Operation.update, resource: `null/nodestatus/${deps.nodeName}` }, report).catch((err: unknown) => ctx?.log.warn(`node status not queued: ${errorText(err)}`));
  };

  const reportPod = (w: PodWorker): void => {
    if (!deps.outbox || !workers.has(w.uid)) return;
    const ns = w.pod.metadata.namespace ?? 'default';
    deps.outbox({ group: Group.resource, operation: Operation.update, resource: `${ns}/podstatus/${w.pod.metadata.name}` }, w.status()).catch((err: unknown) => ctx?.log.warn(`status of pod ${w.key} not queued: ${errorText(err)}`));
    reportNode();
  };

  const runtimeFor = (pod: Pod): ContainerRuntime | string => {
    if (pod.spec.runtimeClassName === PROCESS_RUNTIME_CLASS) return processRuntime ?? 'the process runtime is not running';
    return podmanProblem ?? (podman as ContainerRuntime);
  };

  let backoff: BackoffConfig | undefined;
  const workerDeps = (namespace: string): WorkerDeps => ({
    root: cfg.rootDirectory,
    log: ctx?.log as ModuleContext['log'],
    runtimeFor,
    lookup: lookupIn(namespace),
    backoff: backoff as BackoffConfig,
    hostIP: ip,
    changed: reportPod,
  });

  const startWorker = (pod: Pod, observed: Observed[] = []): void => {
    const w = new PodWorker(pod, workerDeps(pod.metadata.namespace ?? 'default'));
    workers.set(w.uid, w);
    w.observe(observed);
    w.sync();
  };

  const stopWorker = (w: PodWorker): void => {
    workers.delete(w.uid);
    ctx?.log.info(`pod ${w.key} removed; stopping its containers`);
    w.terminate().then(
      () => {
        ctx?.log.info(`pod ${w.key}: every container stopped and removed, its files deleted`);
        reportNode();
      },
      (err: unknown) => ctx?.log.error(`pod ${w.key}: could not clean up: ${errorText(err)}`),
    );
  };

  /** lists every runtime and hands each pod its containers; containers of no pod of ours go */
  const relist = (): Promise<void> => {
    if (relisting) {
      relistAgain = true;
      return relisting;
    }
    relisting = (async () => {
      const listedAt = Date.now();
      const byPod = new Map<string, Observed[]>();
      const runtimes: ContainerRuntime[] = [processRuntime, podmanProblem ? undefined : podman].filter((r): r is ContainerRuntime => r !== undefined);
      for (const runtime of runtimes) {
        try {
          for (const container of await runtime.list()) {
            let l = byPod.get(container.podUid);
            if (!l) byPod.set(container.podUid, (l = []));
            l.push({ runtime, container });
          }
        } catch (err) {
          ctx?.log.warn(`cannot list the ${runtime.name} runtime's containers: ${errorText(err)}`);
          return;
        }
      }
      if (stopped) return;
      for (const [uid, list] of byPod) {
        const w = workers.get(uid);
        if (w) w.observe(list, listedAt);
        else {
          // a pod deleted while edgecore was down, or whose deletion it did not finish
          ctx?.log.info(`stopping ${list.length} container(s) of pod ${uid}, which this node no longer runs`);
          const orphan = new PodWorker({ apiVersion: 'v1', kind: 'Pod', metadata: { name: uid, uid }, spec: { containers: [] } } as unknown as Pod, workerDeps('default'));
          orphan.observe(list);
          workers.set(uid, orphan);
          stopWorker(orphan);
        }
      }
      for (const [uid, w] of workers) if (!byPod.has(uid)) w.observe([], listedAt);
    })().finally(() => {
      relisting = undefined;
      if (relistAgain && !stopped) {
        relistAgain = false;
        void relist();
      }
    });
    return relisting;
  };

  const checkPodman = async (): Promise<void> => {
    const before = podmanProblem;
    podmanProblem = podman ? await podman.check() : 'no container runtime';
    if (podmanProblem && podmanProblem !== before) ctx?.log.warn(`${podmanProblem}; pods without runtimeClassName: ${PROCESS_RUNTIME_CLASS} wait for it`);
    if (!podmanProblem && before) {
      ctx?.log.info(`container runtime ${podman?.version() ?? ''} at ${kubelet.containerRuntimeEndpoint}`);
      for (const w of workers.values()) w.sync();
    }
  };

  const onChange = (c: ObjectChange): void => {
    const id = `${c.namespace}/${c.name}`;
    if (c.kind === 'configmap' || c.kind === 'secret') {
      if (c.operation === 'delete' || !c.object) configs.delete(`${c.kind}/${id}`);
      else configs.set(`${c.kind}/${id}`, c.object as ConfigMap | Secret);
      // volumes follow the change in running pods; a pod waiting for it can start now
      for (const w of workers.values()) if ((w.pod.metadata.namespace ?? 'default') === c.namespace) w.sync();
      return;
    }
    if (c.kind !== 'pod') return;
    const pod = c.object as Pod | undefined;
    const prev = pods.get(id);
    const old = prev ? workers.get(prev.metadata.uid as string) : undefined;
    if (c.operation === 'delete' || !pod || (pod.spec.nodeName !== undefined && pod.spec.nodeName !== deps.nodeName)) {
      pods.delete(id);
      if (old) stopWorker(old);
      return;
    }
    pods.set(id, pod);
    if (old && old.uid === pod.metadata.uid) return old.update(pod);
    if (old) stopWorker(old); // the same name, a new pod
    startWorker(pod);
  };

  /** the cloud asks for a pod's log */
  /** answers a request of the cloud with one part (a lost link drops it: the cloud ends the request itself) */
  const replier =
    (msg: Message) =>
    (part: ReplyPart): void => {
      try {
        ctx?.bus.send(EDGEHUB, responseTo(msg, EDGED, part));
      } catch {
        /* the link is gone */
      }
    };

  const serveLog = (msg: Message): void => {
    const reply = replier(msg);
    const m = /^([^/]+)\/podlog\/([^/]+)$/.exec(msg.route.resource);
    const req = msg.content as { container?: unknown; tailLines?: unknown; follow?: unknown; limitBytes?: unknown; previous?: unknown };
    if (!m || !isObj(req) || typeof req.container !== 'string') return reply({ error: 'a log request names <namespace>/podlog/<pod> and a container', code: 400 });
    const pod = pods.get(`${m[1]}/${m[2]}`);
    const w = pod ? workers.get(pod.metadata.uid as string) : undefined;
    if (!w) return reply({ error: `pods "${m[2] as string}" not found on node ${deps.nodeName}`, code: 404 });
    const cur = req.previous === true ? w.previous(req.container) : w.current(req.container);
    if (!cur && req.previous === true) return reply({ error: `previous terminated container "${req.container}" in pod "${m[2] as string}" not found`, code: 400 });
    if (!cur) return reply({ error: `container "${req.container}" in pod "${m[2] as string}" is waiting to start: ContainerCreating`, code: 400 });
    if (streams.size >= MAX_LOG_STREAMS) return reply({ error: `node ${deps.nodeName} already streams ${MAX_LOG_STREAMS} logs`, code: 429 });
    const abort = new AbortController();
    streams.set(msg.header.msg_id, abort);
    let buffered = '';
    let flushTimer: NodeJS.Timeout | undefined;
    const flush = (): void => {
      flushTimer = undefined;
      while (buffered.length > 0) {
        reply({ data: buffered.slice(0, LOG_PART_BYTES) });
        buffered = buffered.slice(LOG_PART_BYTES);
      }
    };
    const write = (chunk: string): void => {
      buffered += chunk;
      if (buffered.length >= LOG_PART_BYTES) flush();
      else flushTimer ??= setTimeout(flush, FLUSH_MS);
    };
    const opts = {
      // an ended container's log has an end: nothing to follow
      follow: req.follow === true && req.previous !== true,
      ...(typeof req.tailLines === 'number' ? { tailLines: req.tailLines } : {}),
      ...(typeof req.limitBytes === 'number' ? { limitBytes: req.limitBytes } : {}),
    };
    cur.runtime
      .logs(cur.container, opts, write, abort.signal)
      .then(
        () => {
          if (flushTimer) clearTimeout(flushTimer);
          flush();
          if (!abort.signal.aborted) reply({ end: true });
        },
        (err: unknown) => reply({ error: `cannot read the log: ${errorText(err)}`, code: 500 }),
      )
      .finally(() => streams.delete(msg.header.msg_id));
  };

  /**
   * The cloud asks to run a command in a container (kubectl exec) or to attach to its output (kubectl
   * attach): output leaves as reply parts (base64, with its stream) gathered for EXEC_FLUSH_MS; input
   * and a terminal's size come as `input` messages; the end carries the exit code. A cancel, or the
   * link going, kills what runs.
   */
  const serveExec = (msg: Message, attach: boolean): void => {
    const reply = replier(msg);
    const m = /^([^/]+)\/pod(?:exec|attach)\/([^/]+)$/.exec(msg.route.resource);
    const req = msg.content as { container?: unknown; command?: unknown; stdin?: unknown; tty?: unknown };
    const command = Array.isArray(req?.command) && req.command.every((a) => typeof a === 'string') ? (req.command as string[]) : [];
    if (!m || !isObj(req) || typeof req.container !== 'string' || (!attach && command.length === 0)) return reply({ error: 'an exec request names <namespace>/podexec/<pod>, a container and a command', code: 400 });
    const pod = pods.get(`${m[1]}/${m[2]}`);
    const w = pod ? workers.get(pod.metadata.uid as string) : undefined;
    if (!w) return reply({ error: `pods "${m[2] as string}" not found on node ${deps.nodeName}`, code: 404 });
    const cur = w.current(req.container);
    if (!cur || cur.container.state !== 'running') return reply({ error: `container ${req.container} is not running in pod ${m[2] as string}`, code: 400 });
    if (sessions.size + streams.size >= MAX_LOG_STREAMS) return reply({ error: `node ${deps.nodeName} already streams ${MAX_LOG_STREAMS} logs and execs`, code: 429 });
    const id = msg.header.msg_id;
    const out: { stream: 1 | 2; data: Buffer }[] = [];
    let timer: NodeJS.Timeout | undefined;
    const flush = (): void => {
      timer = undefined;
      for (const o of out.splice(0)) for (let i = 0; i < o.data.length; i += LOG_PART_BYTES) reply({ stream: o.stream, body: o.data.subarray(i, i + LOG_PART_BYTES).toString('base64') });
    };
    const output = (stream: 1 | 2, data: Buffer): void => {
      const last = out.at(-1);
      if (last?.stream === stream) last.data = Buffer.concat([last.data, data]);
      else out.push({ stream, data });
      timer ??= setTimeout(flush, EXEC_FLUSH_MS);
    };
    const exit = (code: number | Error): void => {
      if (!sessions.delete(id)) return;
      if (timer) clearTimeout(timer);
      flush();
      reply(code instanceof Error ? { error: code.message, code: 500 } : { end: true, exitCode: code });
    };
    if (attach) {
      // what the container writes from now on; its input is not kept open by either runtime
      const abort = new AbortController();
      sessions.set(id, { write: () => undefined, end: () => undefined, resize: () => undefined, kill: () => abort.abort() });
      const text = (chunk: string): void => output(1, Buffer.from(chunk));
      reply({ status: 200 });
      cur.runtime.logs(cur.container, { follow: true, tailLines: 0 }, text, abort.signal).then(
        () => exit(0),
        (err: unknown) => exit(new Error(`cannot attach: ${errorText(err)}`)),
      );
      return;
    }
    // what comes while the command starts is kept for it
    const early: ((s: ExecSession) => void)[] = [];
    let killed = false;
    const later = (f: (s: ExecSession) => void): void => {
      if (early.length < MAX_EARLY_INPUTS) early.push(f);
    };
    const pending: ExecSession = {
      write: (d) => later((s) => s.write(d)),
      end: () => later((s) => s.end()),
      resize: (wd, h) => later((s) => s.resize(wd, h)),
      kill: () => void (killed = true),
    };
    sessions.set(id, pending);
    cur.runtime.interactive(cur.container, { command, stdin: req.stdin === true, tty: req.tty === true }, { output, exit }).then(
      (session) => {
        if (killed || sessions.get(id) !== pending) return session.kill(); // cancelled while it started
        sessions.set(id, session);
        for (const f of early.splice(0)) f(session);
        reply({ status: 200 }); // started: the cloud stops waiting for a first answer (a quiet command may say nothing for long)
      },
      (err: unknown) => exit(new Error(`cannot exec in ${req.container as string}: ${errorText(err)}`)),
    );
  };

  /** the counters of the node and of every running container */
  const sampleUsage = async (): Promise<UsageSample> => {
    const containers = new Map<string, Counters>();
    for (const [key, pod] of pods) {
      const w = workers.get(pod.metadata.uid as string);
      for (const spec of pod.spec.containers) {
        const cur = w?.current(spec.name);
        if (cur?.container.state !== 'running') continue;
        containers.set(`${key}/${spec.name}`, await cur.runtime.usage(cur.container).catch(() => ({})));
      }
    }
    return { at: performance.now(), node: nodeCounters(), containers };
  };

  /** the cloud asks what the node and its pods use (kubectl top): rates over the last window */
  const serveUsage = async (msg: Message): Promise<void> => {
    let base = lastUsage && performance.now() - lastUsage.at >= FRESH_WINDOW_MS && performance.now() - lastUsage.at <= MAX_WINDOW_MS ? lastUsage : undefined;
    if (!base) {
      base = await sampleUsage();
      await new Promise((r) => setTimeout(r, FRESH_WINDOW_MS));
    }
    const now = await sampleUsage();
    lastUsage = now;
    const windowMs = now.at - base.at;
    const podsUsage: NodeUsage['pods'] = [];
    for (const [key, pod] of pods) {
      const containers = pod.spec.containers
        .filter((c) => now.containers.has(`${key}/${c.name}`))
        .map((c) => {
          const u = now.containers.get(`${key}/${c.name}`) as Counters;
          return { name: c.name, cpuNanocores: rate(base.containers.get(`${key}/${c.name}`), u, windowMs), memoryBytes: u.memoryBytes ?? 0 };
        });
      if (containers.length) podsUsage.push({ namespace: pod.metadata.namespace ?? 'default', name: pod.metadata.name, containers });
    }
    const usage: NodeUsage = { timestamp: new Date().toISOString(), windowSeconds: Math.round(windowMs) / 1000, node: { cpuNanocores: rate(base.node, now.node, windowMs), memoryBytes: now.node.memoryBytes ?? 0 }, pods: podsUsage };
    replier(msg)({ data: JSON.stringify(usage), end: true });
  };

  /** more for a running exec: input, its end, a terminal's new size */
  const execInput = (msg: Message): void => {
    const c = msg.content as { id?: unknown; data?: unknown; close?: unknown; resize?: { width?: unknown; height?: unknown } } | null;
    const session = typeof c?.id === 'string' ? sessions.get(c.id) : undefined;
    if (!session || !c) return;
    if (typeof c.data === 'string') session.write(Buffer.from(c.data, 'base64'));
    if (c.close === true) session.end();
    const { width, height } = isObj(c.resize) ? c.resize : {};
    if (typeof width === 'number' && typeof height === 'number') session.resize(width, height);
  };

  const handle = (msg: Message): void => {
    if (msg.route.source === EDGEHUB && msg.route.operation === HubEvent.disconnected) {
      for (const a of streams.values()) a.abort(); // nobody reads them any more
      streams.clear();
      for (const session of sessions.values()) session.kill();
      sessions.clear();
      return;
    }
    if (msg.route.source === EDGEHUB) return;
    if (msg.route.operation === Operation.cancel) {
      const id = (msg.content as { id?: unknown } | null)?.id;
      if (typeof id === 'string') streams.get(id)?.abort();
      if (typeof id === 'string') sessions.get(id)?.kill();
      return;
    }
    if (msg.route.operation === Operation.input) return execInput(msg);
    if (msg.route.operation === Operation.query && msg.route.resource.includes('/podlog/')) return serveLog(msg);
    if (msg.route.operation === Operation.query && msg.route.resource === USAGE_RESOURCE) return void serveUsage(msg);
    if (msg.route.operation === Operation.query && msg.route.resource.includes('/podexec/')) return serveExec(msg, false);
    if (msg.route.operation === Operation.query && msg.route.resource.includes('/podattach/')) return serveExec(msg, true);
    ctx?.log.warn(`no handler for ${msg.route.operation} ${msg.route.resource}`);
    replier(msg)({ error: `edged does not handle ${msg.route.operation} ${msg.route.resource}`, code: 400 });
  };

  return {
    name: EDGED,
    group: Group.edged,
    present(kind, obj) {
      if (kind !== 'pod') return obj;
      const w = workers.get(obj.metadata.uid ?? '');
      return w ? { ...obj, status: w.status() as unknown as Record<string, unknown> } : obj;
    },
    async start(c) {
      ctx = c;
      stopped = false;
      const maxBytes = parseQuantity(kubelet.containerLogMaxSize);
      if (maxBytes === undefined || maxBytes < 1024) throw new Error(`modules.edged.tailoredKubeletConfig.containerLogMaxSize: ${JSON.stringify(kubelet.containerLogMaxSize)} is not a size of at least 1Ki`);
      backoff = {
        initialMs: durationMs(kubelet.crashLoopBackOff.initialContainerRestartPeriod, 'crashLoopBackOff.initialContainerRestartPeriod'),
        maxMs: durationMs(kubelet.crashLoopBackOff.maxContainerRestartPeriod, 'crashLoopBackOff.maxContainerRestartPeriod'),
        resetMs: 10 * 60_000,
      };
      processRuntime = createProcessRuntime({ root: cfg.rootDirectory, log: c.log, logMaxBytes: maxBytes, logMaxFiles: kubelet.containerLogMaxFiles });
      await processRuntime.check();
      c.log.info(`process runtime: ${processRuntime.namespaces ? 'a mount namespace per pod' : 'no mount namespaces (not root): volumes are symlinks at their mountPath'}; ${processRuntime.cgroups.version ? `cgroup ${processRuntime.cgroups.version} limits` : 'no cgroups: memory and cpu limits are not kept'}`);
      podman = createPodmanRuntime({ endpoint: kubelet.containerRuntimeEndpoint, log: c.log, logMaxBytes: maxBytes });
      await checkPodman();
      for (const r of [processRuntime, podman]) r.onChange(() => void relist());
      // what the store holds: the pods start (or are adopted) without waiting for the cloud
      const replay = deps.source.replay();
      for (const ch of replay) if (ch.kind !== 'pod') onChange(ch);
      const observed = new Map<string, Observed[]>();
      for (const runtime of [processRuntime, podmanProblem ? undefined : podman]) {
        if (!runtime) continue;
        for (const container of await runtime.list().catch(() => [])) {
          const l = observed.get(container.podUid) ?? [];
          l.push({ runtime, container });
          observed.set(container.podUid, l);
        }
      }
      for (const ch of replay) {
        const pod = ch.object as Pod | undefined;
        if (ch.kind !== 'pod' || !pod || (pod.spec.nodeName !== undefined && pod.spec.nodeName !== deps.nodeName)) continue;
        pods.set(`${ch.namespace}/${ch.name}`, pod);
        const found = observed.get(pod.metadata.uid as string) ?? [];
        if (found.some((o) => o.container.state === 'running')) c.log.info(`pod ${podKey(pod)}: found its containers running; adopting them`);
        startWorker(pod, found);
      }
      deps.source.subscribe(onChange);
      c.bus.register(EDGED, Group.edged, handle, { queueLimit: 1000 });
      relistTimer = setInterval(() => void relist(), RELIST_MS);
      recheckTimer = setInterval(() => {
        if (podmanProblem) void checkPodman();
      }, RECHECK_RUNTIME_MS);
      reportNode();
      c.log.info(`${workers.size} pod(s) on node ${deps.nodeName}; state in ${cfg.rootDirectory}`);
    },
    async stop() {
      stopped = true;
      if (relistTimer) clearInterval(relistTimer);
      if (recheckTimer) clearInterval(recheckTimer);
      for (const a of streams.values()) a.abort();
      streams.clear();
      ctx?.bus.unregister(EDGED);
      await relisting;
      // pods keep running when edgecore stops: the next edgecore adopts them
      for (const w of workers.values()) w.detach();
      await processRuntime?.close();
      await podman?.close();
    },
  } satisfies Edged;
}
