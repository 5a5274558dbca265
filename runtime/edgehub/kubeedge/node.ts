/**
 * The node on a KubeEdge cloud, kept as KubeEdge's edged keeps it: KubeEdge's cloud makes no Node
 * of a connection, the edge registers it. On each link: `insert null/node/<name>` (the whole Node;
 * AlreadyExists is fine), then `patch null/nodepatch/<name>` with its status (capacity, addresses,
 * nodeInfo, conditions: Ready while the edge posts it), again when Edged's report changes and at
 * least every `statusEveryMs`; and the node's Lease (`kube-node-lease/lease/<name>`: asked for,
 * made when missing, renewed every `renewEveryMs`). Each request is answered `{Object, Err}`.
 */
import type { Clock, Timer } from '../../../core/clock.js';
import { errorText } from '../../../core/errors.js';
import type { Logger } from '../../../core/log.js';
import { Group, Operation, newMessage, type Message } from '../../../core/message.js';
import { hostIP } from '../../../containers/host.js';
import { nodeStatus } from '../../edged/nodestatus.js';
import { Source, kubeTime, microTime, readAnswer, type KubeEdgeAnswer } from './messages.js';

export interface NodeReport {
  status: Record<string, unknown>;
  labels: Record<string, string>;
}

export interface NodeKeeperDeps {
  nodeName: string;
  labels: Record<string, string>;
  clock: Clock;
  log: Logger;
  renewEveryMs?: number;
  statusEveryMs?: number;
  answerTimeoutMs?: number;
}

export interface NodeKeeper {
  opened(send: (msgs: Message[]) => void): void;
  closed(): void;
  /** an answer to one of its requests: taken, and true */
  take(msg: Message): boolean;
  /** Edged's newest report of the node (capacity, nodeInfo, pods) */
  report(r: NodeReport): void;
}

const LEASE_SECONDS = 40;
const LEASE_NAMESPACE = 'kube-node-lease';

export function createNodeKeeper(deps: NodeKeeperDeps): NodeKeeper {
  return new NodeKeeperImpl(deps);
}

/** a Node's status as Kubernetes has it: Edged's report (pods aside: it is our API's) and Ready conditions */
export function kubeNodeStatus(r: NodeReport, now: string, since: string): Record<string, unknown> {
  const { pods: _ours, ...kube } = r.status;
  const condition = (type: string, st: string, reason: string, message: string) => ({ type, status: st, lastHeartbeatTime: now, lastTransitionTime: since, reason, message });
  return {
    ...kube,
    conditions: [
      condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
      condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
      condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
      condition('Ready', 'True', 'EdgeReady', 'edge is posting ready status'),
    ],
    daemonEndpoints: { kubeletEndpoint: { Port: 10350 } },
  };
}

class NodeKeeperImpl implements NodeKeeper {
  private readonly renewEveryMs: number;
  private readonly statusEveryMs: number;
  private readonly answerTimeoutMs: number;
  private readonly pending = new Map<string, { done: (a: KubeEdgeAnswer) => void; timer: Timer }>();
  private readonly since: string;
  private send: ((msgs: Message[]) => void) | undefined;
  private generation = 0;
  private timer: Timer | undefined;
  private latest: NodeReport | undefined;
  private nodeUid: string | undefined;
  private lease: Record<string, unknown> | undefined;
  private patched = '';
  private patchedAt = 0;
  private busy = false;

  constructor(private readonly deps: NodeKeeperDeps) {
    this.renewEveryMs = deps.renewEveryMs ?? 10_000;
    this.statusEveryMs = deps.statusEveryMs ?? 60_000;
    this.answerTimeoutMs = deps.answerTimeoutMs ?? 30_000;
    this.since = kubeTime(deps.clock.now());
  }

  private request(operation: string, resource: string, content: unknown): Promise<KubeEdgeAnswer> {
    return new Promise((resolve) => {
      const msg = newMessage({ source: Source.edged, group: Group.meta, operation, resource }, content);
      const timer = this.deps.clock.setTimeout(() => {
        this.pending.delete(msg.header.msg_id);
        resolve({ object: undefined, error: { message: `no answer in ${this.answerTimeoutMs} ms`, reason: 'Timeout', code: 504 } });
      }, this.answerTimeoutMs);
      this.pending.set(msg.header.msg_id, { done: resolve, timer });
      this.send?.([msg]);
    });
  }

  private status(): { status: Record<string, unknown>; labels: Record<string, string> } {
    const { nodeName, labels, clock } = this.deps;
    const r = this.latest ?? nodeStatus({ nodeName, labels, runtimeVersion: '', pods: { running: 0, total: 0 }, ip: hostIP() });
    return { labels: r.labels, status: kubeNodeStatus(r, kubeTime(clock.now()), this.since) };
  }

  private async patchStatus(force: boolean): Promise<void> {
    const s = this.status();
    const text = JSON.stringify({ ...s.status, conditions: undefined });
    if (!force && text === this.patched && this.deps.clock.now() - this.patchedAt < this.statusEveryMs) return;
    const a = await this.request(Operation.patch, `null/nodepatch/${this.deps.nodeName}`, JSON.stringify({ status: s.status }));
    if (a.error) return void this.deps.log.warn(`node status not taken by the cloud: ${a.error.reason}: ${a.error.message}`);
    this.patched = text;
    this.patchedAt = this.deps.clock.now();
  }

  /** the node's lease as the cloud has it, made when there is none; undefined when it cannot be had now */
  private async findLease(resource: string): Promise<Record<string, unknown> | undefined> {
    const { nodeName, clock, log } = this.deps;
    const found = await this.request(Operation.query, resource, null);
    if (found.object) return found.object;
    if (found.error?.reason !== 'NotFound') return void log.warn(`cannot read the node's lease: ${found.error?.reason ?? ''}: ${found.error?.message ?? 'no object'}`);
    const owner = this.nodeUid ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid: this.nodeUid }] } : {};
    const made = await this.request(Operation.insert, resource, {
      metadata: { name: nodeName, namespace: LEASE_NAMESPACE, ...owner },
      spec: { holderIdentity: nodeName, leaseDurationSeconds: LEASE_SECONDS, renewTime: microTime(clock.now()) },
    });
    if (made.error) log.warn(`cannot make the node's lease: ${made.error.reason}: ${made.error.message}`);
    this.lease = made.object;
    return undefined; // made now: renewed on the next round
  }

  private async renewLease(): Promise<void> {
    const { nodeName, clock, log } = this.deps;
    const resource = `${LEASE_NAMESPACE}/lease/${nodeName}`;
    const lease = this.lease ?? (await this.findLease(resource));
    if (!lease) return;
    const spec = { ...(lease.spec as Record<string, unknown> | undefined), holderIdentity: nodeName, leaseDurationSeconds: LEASE_SECONDS, renewTime: microTime(clock.now()) };
    const renewed = await this.request(Operation.update, resource, { ...lease, spec });
    if (renewed.error) log.warn(`lease not renewed (${renewed.error.reason}: ${renewed.error.message}); reading it again`);
    this.lease = renewed.object; // a conflict: read it again next time
  }

  /** one step at a time: a slow cloud never gets a second renewal before it answered the first */
  private step(gen: number, what: () => Promise<void>, failure: string): void {
    if (this.busy) return;
    this.busy = true;
    what()
      .catch((err: unknown) => this.deps.log.warn(`${failure}: ${errorText(err)}`))
      .finally(() => {
        if (gen === this.generation) this.busy = false;
      });
  }

  private async register(gen: number): Promise<void> {
    const { nodeName, log } = this.deps;
    const s = this.status();
    const inserted = await this.request(Operation.insert, `null/node/${nodeName}`, {
      metadata: { name: nodeName, labels: s.labels, annotations: { 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' } },
      spec: {},
      status: s.status,
    });
    if (gen !== this.generation) return;
    if (inserted.error && inserted.error.reason !== 'AlreadyExists') log.warn(`node not registered: ${inserted.error.reason}: ${inserted.error.message}`);
    else log.info(`node ${nodeName} ${inserted.error ? 'was registered already' : 'registered'} with the KubeEdge cloud`);
    const uid = (inserted.object?.metadata as { uid?: unknown } | undefined)?.uid;
    if (typeof uid === 'string') this.nodeUid = uid;
    await this.patchStatus(true);
    await this.renewLease();
  }

  opened(s: (msgs: Message[]) => void): void {
    this.send = s;
    const gen = ++this.generation;
    this.lease = undefined;
    this.busy = false;
    this.step(gen, () => this.register(gen), 'node registration failed');
    this.timer = this.deps.clock.setInterval(() => this.step(gen, () => this.renewLease().then(() => this.patchStatus(false)), 'node upkeep failed'), this.renewEveryMs);
  }

  closed(): void {
    this.generation++;
    this.send = undefined;
    this.deps.clock.clear(this.timer);
    for (const p of this.pending.values()) {
      this.deps.clock.clear(p.timer);
      p.done({ object: undefined, error: { message: 'the link closed', reason: 'Disconnected', code: 503 } });
    }
    this.pending.clear();
    this.busy = false;
  }

  take(msg: Message): boolean {
    const id = msg.header.parent_msg_id;
    const p = id === undefined ? undefined : this.pending.get(id);
    if (!p || id === undefined) return false;
    this.pending.delete(id);
    this.deps.clock.clear(p.timer);
    p.done(readAnswer(msg.content));
    return true;
  }

  report(r: NodeReport): void {
    this.latest = r;
  }
}
