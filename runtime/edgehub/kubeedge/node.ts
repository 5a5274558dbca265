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
  const renewEveryMs = deps.renewEveryMs ?? 10_000;
  const statusEveryMs = deps.statusEveryMs ?? 60_000;
  const answerTimeoutMs = deps.answerTimeoutMs ?? 30_000;
  const { clock, log, nodeName } = deps;
  const pending = new Map<string, { done: (a: KubeEdgeAnswer) => void; timer: Timer }>();
  const since = kubeTime(clock.now());
  let send: ((msgs: Message[]) => void) | undefined;
  let generation = 0;
  let timer: Timer | undefined;
  let latest: NodeReport | undefined;
  let nodeUid: string | undefined;
  let lease: Record<string, unknown> | undefined;
  let patched = '';
  let patchedAt = 0;
  let busy = false;

  const request = (operation: string, resource: string, content: unknown): Promise<KubeEdgeAnswer> =>
    new Promise((resolve) => {
      const msg = newMessage({ source: Source.edged, group: Group.meta, operation, resource }, content);
      const timer = clock.setTimeout(() => {
        pending.delete(msg.header.msg_id);
        resolve({ object: undefined, error: { message: `no answer in ${answerTimeoutMs} ms`, reason: 'Timeout', code: 504 } });
      }, answerTimeoutMs);
      pending.set(msg.header.msg_id, { done: resolve, timer });
      send?.([msg]);
    });

  /** the node's status as Kubernetes has it: Edged's report (or the host's facts) and Ready conditions */
  const status = (): { status: Record<string, unknown>; labels: Record<string, string> } => {
    const r = latest ?? nodeStatus({ nodeName, labels: deps.labels, runtimeVersion: '', pods: { running: 0, total: 0 }, ip: hostIP() });
    const { pods: _ours, ...kube } = r.status; // pods is our API's, not Kubernetes'
    const now = kubeTime(clock.now());
    const condition = (type: string, st: string, reason: string, message: string) => ({ type, status: st, lastHeartbeatTime: now, lastTransitionTime: since, reason, message });
    return {
      labels: r.labels,
      status: {
        ...kube,
        conditions: [
          condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
          condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
          condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
          condition('Ready', 'True', 'EdgeReady', 'edge is posting ready status'),
        ],
        daemonEndpoints: { kubeletEndpoint: { Port: 10350 } },
      },
    };
  };

  const patchStatus = async (force: boolean): Promise<void> => {
    const s = status();
    const text = JSON.stringify({ ...s.status, conditions: undefined });
    if (!force && text === patched && clock.now() - patchedAt < statusEveryMs) return;
    const a = await request(Operation.patch, `null/nodepatch/${nodeName}`, JSON.stringify({ status: s.status }));
    if (a.error) return void log.warn(`node status not taken by the cloud: ${a.error.reason}: ${a.error.message}`);
    patched = text;
    patchedAt = clock.now();
  };

  const renewLease = async (): Promise<void> => {
    const resource = `${LEASE_NAMESPACE}/lease/${nodeName}`;
    if (!lease) {
      const found = await request(Operation.query, resource, null);
      if (found.object) lease = found.object;
      else if (found.error?.reason !== 'NotFound') return void log.warn(`cannot read the node's lease: ${found.error?.reason ?? ''}: ${found.error?.message ?? 'no object'}`);
      else {
        const made = await request(Operation.insert, resource, {
          metadata: { name: nodeName, namespace: LEASE_NAMESPACE, ...(nodeUid ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid: nodeUid }] } : {}) },
          spec: { holderIdentity: nodeName, leaseDurationSeconds: LEASE_SECONDS, renewTime: microTime(clock.now()) },
        });
        if (made.error) log.warn(`cannot make the node's lease: ${made.error.reason}: ${made.error.message}`);
        lease = made.object;
        return;
      }
    }
    const spec = { ...(lease.spec as Record<string, unknown> | undefined), holderIdentity: nodeName, leaseDurationSeconds: LEASE_SECONDS, renewTime: microTime(clock.now()) };
    const renewed = await request(Operation.update, resource, { ...lease, spec });
    if (renewed.error) log.warn(`lease not renewed (${renewed.error.reason}: ${renewed.error.message}); reading it again`);
    lease = renewed.object; // a conflict: read it again next time
  };

  /** one step at a time: a slow cloud never gets a second renewal before it answered the first */
  const step = (gen: number, what: () => Promise<void>): void => {
    if (busy) return;
    busy = true;
    what()
      .catch((err: unknown) => log.warn(`node upkeep failed: ${errorText(err)}`))
      .finally(() => {
        if (gen === generation) busy = false;
      });
  };

  const register = async (gen: number): Promise<void> => {
    const s = status();
    const inserted = await request(Operation.insert, `null/node/${nodeName}`, {
      metadata: { name: nodeName, labels: s.labels, annotations: { 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' } },
      spec: {},
      status: s.status,
    });
    if (gen !== generation) return;
    if (inserted.error && inserted.error.reason !== 'AlreadyExists') log.warn(`node not registered: ${inserted.error.reason}: ${inserted.error.message}`);
    else log.info(`node ${nodeName} ${inserted.error ? 'was registered already' : 'registered'} with the KubeEdge cloud`);
    const uid = (inserted.object?.metadata as { uid?: unknown } | undefined)?.uid;
    if (typeof uid === 'string') nodeUid = uid;
    await patchStatus(true);
    await renewLease();
  };

  return {
    opened(s) {
      send = s;
      const gen = ++generation;
      lease = undefined;
      busy = true;
      register(gen)
        .catch((err: unknown) => log.warn(`node registration failed: ${errorText(err)}`))
        .finally(() => {
          if (gen === generation) busy = false;
        });
      timer = clock.setInterval(() => step(gen, () => renewLease().then(() => patchStatus(false))), renewEveryMs);
    },
    closed() {
      generation++;
      send = undefined;
      clock.clear(timer);
      for (const p of pending.values()) {
        clock.clear(p.timer);
        p.done({ object: undefined, error: { message: 'the link closed', reason: 'Disconnected', code: 503 } });
      }
      pending.clear();
      busy = false;
    },
    take(msg) {
      const id = msg.header.parent_msg_id;
      const p = id === undefined ? undefined : pending.get(id);
      if (!p || id === undefined) return false;
      pending.delete(id);
      clock.clear(p.timer);
      p.done(readAnswer(msg.content));
      return true;
    },
    report(r) {
      latest = r;
    },
  };
}
