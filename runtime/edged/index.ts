/**
 * Edged: runs this node's pods as KubeEdge's edged (a trimmed kubelet) does. Pods, ConfigMaps and
 * Secrets come from MetaManager's store, so after a restart with no cloud every pod starts (or is
 * found running and adopted) at once. Containers run on podman, or as host processes with
 * `runtimeClassName: process`. Every second the runtimes are listed (kubelet's PLEG) and each pod
 * whose containers changed is synced (podset.ts, worker.ts). Pod status goes up through the outbox,
 * as does the node's. A pod's log and exec cross the link only when the cloud asks (streams.ts).
 */
import type { Module, ModuleContext } from '../../core/module.js';
import type { Logger } from '../../core/log.js';
import { errorText } from '../../core/errors.js';
import { Group, Operation, responseTo, type Message, type ReplyPart } from '../../core/message.js';
import { parseDuration } from '../../core/duration.js';
import { parseQuantity } from '../../api/quantity.js';
import type { KubeObject } from '../../api/object.js';
import type { EdgedConfig } from '../../api/config/edgecore.js';
import { USAGE_RESOURCE, type NodeUsage } from '../../api/usage.js';
import { hostIP } from '../../containers/host.js';
import type { ObjectSource } from '../metamanager/source.js';
import type { OutboxRoute } from '../metamanager/index.js';
import { EDGEHUB, HubEvent } from '../edgehub/index.js';
import type { BackoffConfig, PodWorker } from './worker.js';
import { NodeRuntimes } from './runtimes.js';
import { PodSet } from './podset.js';
import { nodeStatus } from './nodestatus.js';
import { createPodStreams, type PodStreams } from './streams.js';
import { createUsageReader, type PodOnNode } from './usage.js';

export const EDGED = 'edged';
const RELIST_MS = 1000;
const RECHECK_RUNTIME_MS = 30_000;

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
  let runtimes: NodeRuntimes | undefined;
  let set: PodSet | undefined;
  const timers: NodeJS.Timeout[] = [];
  const ip = hostIP();
  /** answers a request of the cloud with one part (a lost link drops it: the cloud ends the request itself) */
  const reply = (msg: Message, part: ReplyPart): void => {
    try {
      ctx?.bus.send(EDGEHUB, responseTo(msg, EDGED, part));
    } catch {
      /* the link is gone */
    }
  };
  const streams = createPodStreams({ nodeName: deps.nodeName, reply, worker: (namespace, name) => set?.worker(namespace, name) });
  const readUsage = createUsageReader(() => podsOnNode(set));
  const report = createStatusReports(deps, () => ({ workers: set?.workers ?? new Map(), runtimeVersion: runtimes?.version() ?? '', ip }), () => ctx?.log);
  const handle = (msg: Message): void => route(msg, { streams, reply, readUsage, log: () => ctx?.log });

  return {
    name: EDGED,
    group: Group.edged,
    present(kind, obj) {
      const w = kind === 'pod' ? set?.workers.get(obj.metadata.uid ?? '') : undefined;
      return w ? { ...obj, status: w.status() as unknown as Record<string, unknown> } : obj;
    },
    async start(c) {
      ctx = c;
      const limits = kubeletLimits(kubelet);
      runtimes = new NodeRuntimes({ root: cfg.rootDirectory, endpoint: kubelet.containerRuntimeEndpoint, logMaxBytes: limits.logMaxBytes, logMaxFiles: kubelet.containerLogMaxFiles, log: c.log });
      await runtimes.start();
      const pods = new PodSet({ nodeName: deps.nodeName, root: cfg.rootDirectory, hostIP: ip, backoff: limits.backoff, log: c.log, runtimes, podChanged: report.pod, podRemoved: report.node });
      set = pods;
      runtimes.onChange(() => void pods.relist());
      // what the store holds: the pods start (or are adopted) without waiting for the cloud
      pods.adopt(deps.source.replay(), (await runtimes.listByPod(true)) ?? new Map());
      deps.source.subscribe((change) => pods.onChange(change));
      c.bus.register(EDGED, Group.edged, handle, { queueLimit: 1000 });
      const rt = runtimes;
      timers.push(setInterval(() => void pods.relist(), RELIST_MS));
      timers.push(setInterval(() => void (rt.podmanProblem && rt.checkPodman().then((usable) => usable && pods.syncAll())), RECHECK_RUNTIME_MS));
      report.node();
      c.log.info(`${pods.workers.size} pod(s) on node ${deps.nodeName}; state in ${cfg.rootDirectory}`);
    },
    async stop() {
      for (const t of timers.splice(0)) clearInterval(t);
      streams.closeAll();
      ctx?.bus.unregister(EDGED);
      await set?.stop();
      await runtimes?.close();
    },
  } satisfies Edged;
}

/** the pods of `set` for kubectl top, each with its containers' newest attempts */
function podsOnNode(set: PodSet | undefined): PodOnNode[] {
  if (!set) return [];
  return [...set.pods].map(([key, pod]) => {
    const w = set.workers.get(pod.metadata.uid as string);
    return { key, pod, current: (name) => w?.current(name) };
  });
}

/** what the kubelet config gives Edged: the log size cap and the crash-loop back-off */
function kubeletLimits(kubelet: EdgedConfig['tailoredKubeletConfig']): { logMaxBytes: number; backoff: BackoffConfig } {
  const logMaxBytes = parseQuantity(kubelet.containerLogMaxSize);
  if (logMaxBytes === undefined || logMaxBytes < 1024) throw new Error(`modules.edged.tailoredKubeletConfig.containerLogMaxSize: ${JSON.stringify(kubelet.containerLogMaxSize)} is not a size of at least 1Ki`);
  const backoff = {
    initialMs: durationMs(kubelet.crashLoopBackOff.initialContainerRestartPeriod, 'crashLoopBackOff.initialContainerRestartPeriod'),
    maxMs: durationMs(kubelet.crashLoopBackOff.maxContainerRestartPeriod, 'crashLoopBackOff.maxContainerRestartPeriod'),
    resetMs: 10 * 60_000,
  };
  return { logMaxBytes, backoff };
}

/** pod and node status for the cloud, through the outbox (none when standalone); the node's only when it changed */
function createStatusReports(
  deps: EdgedDeps,
  now: () => { workers: ReadonlyMap<string, PodWorker>; runtimeVersion: string; ip: string },
  log: () => Logger | undefined,
): { pod(w: PodWorker): void; node(): void } {
  let lastNode = '';
  const node = (): void => {
    if (!deps.outbox) return;
    const { workers, runtimeVersion, ip } = now();
    const running = [...workers.values()].filter((w) => w.status().phase === 'Running').length;
    const status = nodeStatus({ nodeName: deps.nodeName, labels: deps.config.nodeLabels, runtimeVersion, pods: { running, total: workers.size }, ip });
    const text = JSON.stringify(status);
    if (text === lastNode) return;
    lastNode = text;
    deps.outbox({ group: Group.resource, operation: Operation.update, resource: `null/nodestatus/${deps.nodeName}` }, status).catch((err: unknown) => log()?.warn(`node status not queued: ${errorText(err)}`));
  };
  const pod = (w: PodWorker): void => {
    if (!deps.outbox || !now().workers.has(w.uid)) return;
    const ns = w.pod.metadata.namespace ?? 'default';
    deps.outbox({ group: Group.resource, operation: Operation.update, resource: `${ns}/podstatus/${w.pod.metadata.name}` }, w.status()).catch((err: unknown) => log()?.warn(`status of pod ${w.key} not queued: ${errorText(err)}`));
    node();
  };
  return { pod, node };
}

/** what the cloud asks of Edged: logs, exec and attach (streams.ts), and what the node uses (kubectl top) */
function route(msg: Message, to: { streams: PodStreams; reply(msg: Message, part: ReplyPart): void; readUsage(): Promise<NodeUsage>; log(): Logger | undefined }): void {
  const { operation, resource, source } = msg.route;
  if (source === EDGEHUB) {
    if (operation === HubEvent.disconnected) to.streams.closeAll(); // nobody reads them any more
    return;
  }
  if (operation === Operation.cancel) {
    const id = (msg.content as { id?: unknown } | null)?.id;
    if (typeof id === 'string') to.streams.cancel(id);
    return;
  }
  if (operation === Operation.input) return to.streams.input(msg);
  if (operation === Operation.query && resource.includes('/podlog/')) return to.streams.serveLog(msg);
  if (operation === Operation.query && resource.includes('/podexec/')) return to.streams.serveExec(msg, false);
  if (operation === Operation.query && resource.includes('/podattach/')) return to.streams.serveExec(msg, true);
  if (operation === Operation.query && resource === USAGE_RESOURCE) {
    return void to.readUsage().then(
      (usage) => to.reply(msg, { data: JSON.stringify(usage), end: true }),
      (err: unknown) => to.reply(msg, { error: `cannot read what the node uses: ${errorText(err)}`, code: 500 }),
    );
  }
  to.log()?.warn(`no handler for ${operation} ${resource}`);
  to.reply(msg, { error: `edged does not handle ${operation} ${resource}`, code: 400 });
}
