/**
 * EdgeController: node lifecycle. Creates the Node object when an edge first connects, keeps its
 * Ready condition and lastHeartbeatTime from keepalives, marks it NotReady when the session ends,
 * takes the pod and node status edges report, and acknowledges the edge's uploads. Readiness is live state, served over the stored object and
 * not written on every change: a restarted cloudcore knows no session, so every node starts
 * NotReady anyway, and a connect storm of thousands of edges must not mean thousands of writes.
 */
import type { Module, ModuleContext } from '../../core/module.js';
import { Group, Operation, ackOf, parseResource, type Message } from '../../core/message.js';
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
  const live = new Map<string, NodeLiveStatus>();
  let ctx: ModuleContext | undefined;

  /** stores the Node object the first time a node is seen (lazily: a node lost in a crash registers again) */
  const register = async (node: string): Promise<void> => {
    const status = live.get(node);
    if (!status || deps.store.get('node', CLUSTER_NAMESPACE, node)) return;
    await deps.store.put('node', CLUSTER_NAMESPACE, nodeObject(node, status), { lazy: true });
    ctx?.log.info(`registered node ${node}`);
  };

  const setReady = (node: string, ready: boolean): void => {
    const now = new Date(ctx?.clock.now() ?? Date.now()).toISOString();
    const prev = live.get(node);
    const changed = prev?.ready !== ready;
    live.set(node, { ready, lastHeartbeatTime: ready ? now : (prev?.lastHeartbeatTime ?? now), lastTransitionTime: changed ? now : (prev?.lastTransitionTime ?? now), ...(prev?.uploads ? { uploads: prev.uploads } : {}), ...(prev?.edgecore ? { edgecore: prev.edgecore } : {}) });
    if (changed) {
      ctx?.log.info(`node ${node} is ${ready ? 'Ready' : 'NotReady'}`);
      // after the Node is stored, so the event names its uid (describe node finds its events by it)
      const event = (): void => {
        const o = deps.store.get('node', CLUSTER_NAMESPACE, node);
        deps.events?.record(ready ? 'Normal' : 'Warning', ready ? 'NodeReady' : 'NodeNotReady', o ? refOf(o.object, 'Node') : { kind: 'Node', name: node }, ready ? `node ${node} is Ready: its edge connected` : `node ${node} is NotReady: its link is down`);
      };
      deps.changed?.(node);
      if (ready) register(node).then(event, (err) => ctx?.log.error(`cannot store node ${node}: ${errorText(err)}`));
      else event();
    }
  };

  /** An upload from an edge's outbox: applied once, acknowledged once durable. */
  const takeUpload = async (node: string, topic: string, msg: Message): Promise<void> => {
    try {
      const version = msg.header.resourceversion ?? '';
      // logged before it is recorded (a line cannot be lost to a crash after the record; a resend
      // after a crash before it logs the same version again)
      await deps.store.takeUpload(node, version, async () => {
        ctx?.log.debug(`upload ${version} from ${node} on ${topic}: ${String(msg.content).slice(0, 200)}`);
        const l = live.get(node);
        if (l) l.uploads = noteUpload(l.uploads, topic, msg.content, ctx?.clock.now() ?? Date.now());
        await deps.onUpload?.(node, topic, msg.content, version);
      });
      toEdge(ctx, ackOf(msg, 'edgecontroller')); // resource keeps its node/<name>/ prefix
    } catch (err) {
      ctx?.log.error(`cannot take an upload from ${node}: ${errorText(err)}`);
    }
  };

  /** kubelet's events, from what changed in a pod's reported status: a container started again, one backing off */
  const podEvents = (pod: KubeObject, before: Record<string, unknown> | undefined, after: Record<string, unknown>): void => {
    type Cs = { name: string; restartCount?: number; state?: { waiting?: { reason?: string } } };
    const was = new Map(((before?.containerStatuses as Cs[] | undefined) ?? []).map((c) => [c.name, c]));
    const ref = refOf(pod, 'Pod');
    for (const c of (after.containerStatuses as Cs[] | undefined) ?? []) {
      const prev = was.get(c.name);
      if ((c.restartCount ?? 0) > (prev?.restartCount ?? 0)) deps.events?.record('Normal', 'Started', ref, `Started container ${c.name} (restart ${c.restartCount ?? 0})`);
      if (c.state?.waiting?.reason === 'CrashLoopBackOff' && prev?.state?.waiting?.reason !== 'CrashLoopBackOff') deps.events?.record('Warning', 'BackOff', ref, `Back-off restarting failed container ${c.name} in pod ${pod.metadata.name}_${pod.metadata.namespace ?? 'default'}`);
    }
  };

  /**
   * A pod's or the node's status from the edge's outbox: written once (a resend is 'stale'), then
   * acknowledged; a malformed or foreign one is acknowledged and skipped, since it would be again.
   */
  const takeStatus = async (node: string, resource: string, msg: Message): Promise<void> => {
    const key = parseResource(resource);
    const { storeId, seq } = outboxSequence(msg.header.resourceversion) ?? { storeId: '', seq: 0 };
    try {
      if (key?.kind === 'podstatus') {
        const pod = deps.store.get('pod', key.namespace, key.name);
        if (!pod) {
          ctx?.log.debug(`${node}: status for pod ${key.namespace}/${key.name}, which no longer exists; skipped`);
        } else if (pod.object.spec?.nodeName !== node) {
          ctx?.log.warn(`${node}: status for pod ${key.namespace}/${key.name}, which is bound to ${String(pod.object.spec?.nodeName ?? 'no node')}; skipped`);
        } else {
          const before = deps.store.status('pod', key.namespace, key.name)?.status;
          const status = podStatusOfReport(msg.content);
          if ((await deps.store.reportStatus('pod', key.namespace, key.name, { status, node, storeId, seq })) === 'applied') podEvents(pod.object, before, status);
        }
      } else if (key?.kind === 'nodestatus' && key.name === node) {
        const report = nodeStatusOfReport(msg.content);
        await deps.store.reportStatus('node', CLUSTER_NAMESPACE, node, { status: report.status, node, storeId, seq });
        await mergeNodeLabels(deps.store, node, report.labels, ctx?.log);
      } else {
        ctx?.log.warn(`${node}: no status of ${resource} is taken from this node; skipped`);
      }
    } catch (err) {
      if ((err as { code?: string }).code === 'store_failed') throw err;
      ctx?.log.warn(`${node}: status ${resource} refused: ${errorText(err)}`);
    }
  };

  const handle = (msg: Message): void => {
    const target = splitNodeResource(msg.route.resource);
    if (!target) return;
    const { node } = target;
    switch (msg.route.operation) {
      case HubEvent.connected:
        setReady(node, true);
        return;
      case HubEvent.disconnected:
        setReady(node, false);
        return;
      case Operation.keepalive: {
        let s = live.get(node);
        if (s?.ready) s.lastHeartbeatTime = new Date(ctx?.clock.now() ?? Date.now()).toISOString();
        else {
          setReady(node, true);
          s = live.get(node);
        }
        const figures = figuresOf(msg.content);
        if (s && figures) s.edgecore = figures;
        deps.changed?.(node);
        return;
      }
      case Operation.sync:
        ctx?.bus.send('synccontroller', msg);
        return;
      case Operation.update:
        if (msg.route.group !== Group.resource) break;
        takeStatus(node, target.resource, msg).then(
          () => toEdge(ctx, ackOf(msg, 'edgecontroller')),
          (err: unknown) => ctx?.log.error(`${node}: cannot store ${target.resource}: ${errorText(err)}`),
        );
        return;
      default:
        if (msg.route.group === 'user') return void takeUpload(node, target.resource, msg);
    }
    ctx?.log.warn(`${node}: no handler for ${msg.route.group}/${msg.route.operation} ${target.resource}`);
  };

  return {
    name: 'edgecontroller',
    group: ControllerGroup.edge,
    liveStatus: (node) => live.get(node),
    async start(c) {
      ctx = c;
      c.bus.register('edgecontroller', ControllerGroup.edge, handle, { queueLimit: 100_000 });
      // a restarted cloudcore knows no session yet: every stored node starts NotReady
      for (const n of deps.store.list('node')) {
        const cond = (n.object.status?.conditions as { type: string; lastHeartbeatTime?: string; lastTransitionTime?: string }[] | undefined)?.find((x) => x.type === 'Ready');
        live.set(n.name, { ready: true, lastHeartbeatTime: cond?.lastHeartbeatTime ?? new Date(0).toISOString(), lastTransitionTime: cond?.lastTransitionTime ?? new Date(0).toISOString() });
        setReady(n.name, false);
      }
    },
    async stop() {
      ctx?.bus.unregister('edgecontroller');
    },
  } satisfies EdgeController;
}
