/**
 * EdgeController: node lifecycle. Creates the Node object when an edge first connects, keeps its
 * Ready condition and lastHeartbeatTime from keepalives, marks it NotReady when the session ends,
 * takes the pod and node status edges report, and acknowledges the edge's uploads. Readiness is live state, served over the stored object and
 * not written on every change: a restarted cloudcore knows no session, so every node starts
 * NotReady anyway, and a connect storm of thousands of edges must not mean thousands of writes.
 */
import type { Module, ModuleContext } from '../../core/module.js';
import { Group, Operation, ackOf, parseResource, responseTo, type Message } from '../../core/message.js';
import { errorText } from '../../core/errors.js';
import { CLUSTER_NAMESPACE, outboxSequence, type KubeObject, type ObjectStore } from '../store/objects.js';
import { ControllerGroup, HubEvent, splitNodeResource, toEdge } from '../routes.js';
import { mergeNodeLabels, nodeStatusOfReport, podStatusOfReport } from './pods.js';
import { refOf, type EventLog } from '../events.js';

export interface NodeLiveStatus {
  ready: boolean;
  lastHeartbeatTime: string;
  lastTransitionTime: string;
  /** what its apps uploaded since this cloudcore started (not stored: a count for people to look at) */
  uploads?: UploadTally;
  /** what the edge said of itself in its last keepalive (our edgecore: link round trip, outbox, memory) */
  edgecore?: EdgeFigures;
}

export interface EdgeFigures {
  rttMs?: number;
  outbox: number;
  rssBytes: number;
}

/** a keepalive's content as figures, or undefined (KubeEdge's edge sends "ping"; anything else is ignored) */
function figuresOf(content: unknown): EdgeFigures | undefined {
  if (typeof content !== 'object' || content === null) return undefined;
  const c = content as Record<string, unknown>;
  const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  if (!num(c.outbox) || !num(c.rssBytes)) return undefined;
  return { ...(num(c.rttMs) ? { rttMs: c.rttMs } : {}), outbox: c.outbox, rssBytes: c.rssBytes };
}

/** kept per upload at the cost of a count and a Map move; turned into text only when shown */
export interface UploadTally {
  count: number;
  /** by topic, oldest first (a topic uploaded to again moves to the end) */
  topics: Map<string, { count: number; content: unknown; at: number }>;
}

/** topics kept per node: a node publishing to ever new topics must not grow the cloud's memory */
const UPLOAD_TOPICS_KEPT = 20;

function noteUpload(tally: UploadTally | undefined, topic: string, content: unknown, at: number): UploadTally {
  const t = tally ?? { count: 0, topics: new Map() };
  t.count++;
  const had = t.topics.get(topic);
  t.topics.delete(topic);
  t.topics.set(topic, { count: (had?.count ?? 0) + 1, content, at });
  if (t.topics.size > UPLOAD_TOPICS_KEPT) t.topics.delete(t.topics.keys().next().value as string);
  return t;
}

/** the Node's `status.uploads`: the count, and the latest topics first with their last message (cut at 256 characters) */
function shownUploads(t: UploadTally): Record<string, unknown> {
  const text = (c: unknown): string => {
    const s = typeof c === 'string' ? c : Buffer.isBuffer(c) ? c.toString('utf8') : JSON.stringify(c);
    return s.length > 256 ? `${s.slice(0, 256)}…` : s;
  };
  const topics = [...t.topics].reverse().map(([topic, u]) => ({ topic, count: u.count, last: text(u.content), time: new Date(u.at).toISOString() }));
  return { count: t.count, topics };
}

export interface EdgeController extends Module {
  /** live Ready state, fresher than the stored Node object (heartbeats are not persisted) */
  liveStatus(node: string): NodeLiveStatus | undefined;
}

export function nodeObject(name: string, live: NodeLiveStatus, prev?: KubeObject): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { ...(prev?.metadata ?? {}), name, labels: { ...(prev?.metadata.labels ?? {}), 'node-role.kubernetes.io/edge': '' } },
    spec: prev?.spec ?? {},
    status: {
      ...(prev?.status ?? {}),
      ...(live.uploads ? { uploads: shownUploads(live.uploads) } : {}),
      ...(live.edgecore ? { edgecore: live.edgecore } : {}),
      conditions: [
        {
          type: 'Ready',
          status: live.ready ? 'True' : 'False',
          reason: live.ready ? 'EdgeReady' : 'EdgeOffline',
          message: live.ready ? 'edge is connected and posting keepalives' : 'edge link is down',
          lastHeartbeatTime: live.lastHeartbeatTime,
          lastTransitionTime: live.lastTransitionTime,
        },
      ],
    },
  };
}

export interface EdgeControllerDeps {
  store: ObjectStore;
  /** a new upload, before it is recorded and acknowledged (the router queues what its rules take); resolves once durable */
  onUpload?: (node: string, topic: string, content: unknown, version: string) => Promise<void>;
  /** Ready and NotReady, as Events */
  events?: EventLog;
  /** a node's live status changed (readiness, or what its keepalive said): for the dashboard */
  changed?: (node: string) => void;
}

export function createEdgeController(deps: EdgeControllerDeps): EdgeController {
  return new EdgeControllerModule(deps);
}

type ContainerSeen = { name: string; restartCount?: number; state?: { waiting?: { reason?: string } } };

/** kubelet's events, from what changed in a pod's reported status: a container started again, one backing off */
export function podEventsOf(pod: KubeObject, before: Record<string, unknown> | undefined, after: Record<string, unknown>): { type: 'Normal' | 'Warning'; reason: string; message: string }[] {
  const was = new Map(((before?.containerStatuses as ContainerSeen[] | undefined) ?? []).map((c) => [c.name, c]));
  const out: { type: 'Normal' | 'Warning'; reason: string; message: string }[] = [];
  for (const c of (after.containerStatuses as ContainerSeen[] | undefined) ?? []) {
    const prev = was.get(c.name);
    if ((c.restartCount ?? 0) > (prev?.restartCount ?? 0)) out.push({ type: 'Normal', reason: 'Started', message: `Started container ${c.name} (restart ${c.restartCount ?? 0})` });
    if (c.state?.waiting?.reason === 'CrashLoopBackOff' && prev?.state?.waiting?.reason !== 'CrashLoopBackOff') {
      out.push({ type: 'Warning', reason: 'BackOff', message: `Back-off restarting failed container ${c.name} in pod ${pod.metadata.name}_${pod.metadata.namespace ?? 'default'}` });
    }
  }
  return out;
}

class EdgeControllerModule implements EdgeController {
  readonly name = 'edgecontroller';
  readonly group = ControllerGroup.edge;
  private readonly live = new Map<string, NodeLiveStatus>();
  private ctx: ModuleContext | undefined;

  constructor(private readonly deps: EdgeControllerDeps) {}

  // a property: the scheduler and the API are handed it as a function
  readonly liveStatus = (node: string): NodeLiveStatus | undefined => this.live.get(node);

  private now(): string {
    return new Date(this.ctx?.clock.now() ?? Date.now()).toISOString();
  }

  /** stores the Node object the first time a node is seen (lazily: a node lost in a crash registers again) */
  private async register(node: string): Promise<void> {
    const status = this.live.get(node);
    if (!status || this.deps.store.get('node', CLUSTER_NAMESPACE, node)) return;
    await this.deps.store.put('node', CLUSTER_NAMESPACE, nodeObject(node, status), { lazy: true });
    this.ctx?.log.info(`registered node ${node}`);
  }

  private setReady(node: string, ready: boolean): void {
    const now = this.now();
    const prev = this.live.get(node);
    const changed = prev?.ready !== ready;
    this.live.set(node, { ready, lastHeartbeatTime: ready ? now : (prev?.lastHeartbeatTime ?? now), lastTransitionTime: changed ? now : (prev?.lastTransitionTime ?? now), ...(prev?.uploads ? { uploads: prev.uploads } : {}), ...(prev?.edgecore ? { edgecore: prev.edgecore } : {}) });
    if (!changed) return;
    this.ctx?.log.info(`node ${node} is ${ready ? 'Ready' : 'NotReady'}`);
    // after the Node is stored, so the event names its uid (describe node finds its events by it)
    const event = (): void => {
      const o = this.deps.store.get('node', CLUSTER_NAMESPACE, node);
      this.deps.events?.record(ready ? 'Normal' : 'Warning', ready ? 'NodeReady' : 'NodeNotReady', o ? refOf(o.object, 'Node') : { kind: 'Node', name: node }, ready ? `node ${node} is Ready: its edge connected` : `node ${node} is NotReady: its link is down`);
    };
    this.deps.changed?.(node);
    if (ready) this.register(node).then(event, (err) => this.ctx?.log.error(`cannot store node ${node}: ${errorText(err)}`));
    else event();
  }

  /** An upload from an edge's outbox: applied once, acknowledged once durable. */
  private async takeUpload(node: string, topic: string, msg: Message): Promise<void> {
    try {
      const version = msg.header.resourceversion ?? '';
      // logged before it is recorded (a line cannot be lost to a crash after the record; a resend
      // after a crash before it logs the same version again)
      await this.deps.store.takeUpload(node, version, async () => {
        this.ctx?.log.debug(`upload ${version} from ${node} on ${topic}: ${String(msg.content).slice(0, 200)}`);
        const l = this.live.get(node);
        if (l) l.uploads = noteUpload(l.uploads, topic, msg.content, this.ctx?.clock.now() ?? Date.now());
        await this.deps.onUpload?.(node, topic, msg.content, version);
      });
      toEdge(this.ctx, ackOf(msg, 'edgecontroller')); // resource keeps its node/<name>/ prefix
    } catch (err) {
      this.ctx?.log.error(`cannot take an upload from ${node}: ${errorText(err)}`);
      // said at once: the edge sends it again a second later, not after its 30 s wait for an answer
      toEdge(this.ctx, responseTo(msg, 'edgecontroller', { error: errorText(err) }));
    }
  }

  private async podStatus(node: string, namespace: string, name: string, content: unknown, version: { storeId: string; seq: number }): Promise<void> {
    const pod = this.deps.store.get('pod', namespace, name);
    if (!pod) return void this.ctx?.log.debug(`${node}: status for pod ${namespace}/${name}, which no longer exists; skipped`);
    if (pod.object.spec?.nodeName !== node) return void this.ctx?.log.warn(`${node}: status for pod ${namespace}/${name}, which is bound to ${String(pod.object.spec?.nodeName ?? 'no node')}; skipped`);
    const before = this.deps.store.status('pod', namespace, name)?.status;
    const status = podStatusOfReport(content);
    if ((await this.deps.store.reportStatus('pod', namespace, name, { status, node, ...version })) !== 'applied') return;
    const ref = refOf(pod.object, 'Pod');
    for (const e of podEventsOf(pod.object, before, status)) this.deps.events?.record(e.type, e.reason, ref, e.message);
  }

  /**
   * A pod's or the node's status from the edge's outbox: written once (a resend is 'stale'), then
   * acknowledged; a malformed or foreign one is acknowledged and skipped, since it would be again.
   */
  private async takeStatus(node: string, resource: string, msg: Message): Promise<void> {
    const key = parseResource(resource);
    const version = outboxSequence(msg.header.resourceversion) ?? { storeId: '', seq: 0 };
    try {
      if (key?.kind === 'podstatus') return await this.podStatus(node, key.namespace, key.name, msg.content, version);
      if (key?.kind !== 'nodestatus' || key.name !== node) return void this.ctx?.log.warn(`${node}: no status of ${resource} is taken from this node; skipped`);
      const report = nodeStatusOfReport(msg.content);
      await this.deps.store.reportStatus('node', CLUSTER_NAMESPACE, node, { status: report.status, node, ...version });
      await mergeNodeLabels(this.deps.store, node, report.labels, this.ctx?.log);
    } catch (err) {
      if ((err as { code?: string }).code === 'store_failed') throw err;
      this.ctx?.log.warn(`${node}: status ${resource} refused: ${errorText(err)}`);
    }
  }

  private keepalive(node: string, content: unknown): void {
    let s = this.live.get(node);
    if (s?.ready) s.lastHeartbeatTime = this.now();
    else {
      this.setReady(node, true);
      s = this.live.get(node);
    }
    const figures = figuresOf(content);
    if (s && figures) s.edgecore = figures;
    this.deps.changed?.(node);
  }

  private handle(msg: Message): void {
    const target = splitNodeResource(msg.route.resource);
    if (!target) return;
    const { node } = target;
    const op = msg.route.operation;
    if (op === HubEvent.connected || op === HubEvent.disconnected) return this.setReady(node, op === HubEvent.connected);
    if (op === Operation.keepalive) return this.keepalive(node, msg.content);
    if (op === Operation.sync) return void this.ctx?.bus.send('synccontroller', msg);
    if (op === Operation.update && msg.route.group === Group.resource) {
      return void this.takeStatus(node, target.resource, msg).then(
        () => toEdge(this.ctx, ackOf(msg, 'edgecontroller')),
        (err: unknown) => this.ctx?.log.error(`${node}: cannot store ${target.resource}: ${errorText(err)}`),
      );
    }
    if (op !== Operation.update && msg.route.group === 'user') return void this.takeUpload(node, target.resource, msg);
    this.ctx?.log.warn(`${node}: no handler for ${msg.route.group}/${op} ${target.resource}`);
  }

  async start(c: ModuleContext): Promise<void> {
    this.ctx = c;
    c.bus.register('edgecontroller', ControllerGroup.edge, (msg) => this.handle(msg), { queueLimit: 100_000 });
    // a restarted cloudcore knows no session yet: every stored node starts NotReady
    for (const n of this.deps.store.list('node')) {
      const cond = (n.object.status?.conditions as { type: string; lastHeartbeatTime?: string; lastTransitionTime?: string }[] | undefined)?.find((x) => x.type === 'Ready');
      this.live.set(n.name, { ready: true, lastHeartbeatTime: cond?.lastHeartbeatTime ?? new Date(0).toISOString(), lastTransitionTime: cond?.lastTransitionTime ?? new Date(0).toISOString() });
      this.setReady(n.name, false);
    }
  }

  async stop(): Promise<void> {
    this.ctx?.bus.unregister('edgecontroller');
  }
}
