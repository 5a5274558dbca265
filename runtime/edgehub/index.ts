/**
 * EdgeHub: the edge end of the link. Keeps one session to CloudHub, reconnecting with backoff
 * and jitter; sends a keepalive every `heartbeat` seconds; dispatches cloud messages to the module
 * of their group, and replies (parent_msg_id) to the bus so send-and-wait callers wake up; sends
 * what modules give it upward through a bounded queue, rate-limited in frames and batched, and
 * never writes faster than the socket drains.
 */
import type { Module, ModuleContext } from '../../core/module.js';
import { KubeEdgeError, errorText } from '../../core/errors.js';
import { Group, Operation, ackOf, isResponse, newMessage, responseTo, type Message } from '../../core/message.js';
import type { Timer } from '../../core/clock.js';
import type { EdgeHubConfig } from '../../api/config/edgecore.js';
import { createBackoff, type Backoff } from '../../core/backoff.js';
import { Connection } from './connection.js';
import { takeBatch } from '../../core/codec.js';
import { createTokenBucket, type TokenBucket } from './ratelimit.js';
import { renewalAt } from '../../core/pki/edge-certificate.js';
import { EDGEHUB, cborDialect, type Dialect } from './dialect.js';
import { createKubeEdgeDialect } from './kubeedge/index.js';

export { EDGEHUB };

/** events told to the modules of these groups */
export const HubEvent = { connected: 'connected', disconnected: 'disconnected' } as const;
const LISTENER_GROUPS = [Group.meta, Group.twin, Group.bus, Group.edged, Group.servicebus] as const;

/** cloud group → edge module group */
const DOWNSTREAM: Record<string, string> = {
  [Group.resource]: Group.meta,
  [Group.twin]: Group.twin,
  [Group.user]: Group.bus,
  [Group.edged]: Group.edged,
  [Group.servicebus]: Group.servicebus,
};

/** The edge certificate as EdgeHub sees it: how long it is valid, and how to get a new one. */
export interface CertificateSource {
  validity(): { notBefore: number; notAfter: number } | undefined;
  renew(): Promise<void>;
}

export interface EdgeHubDeps {
  config: EdgeHubConfig;
  nodeName: string;
  /** the labels the node asks for (Edged's nodeLabels), for a KubeEdge cloud, where the edge registers its Node */
  nodeLabels?: Record<string, string>;
  tls: () => { ca: Buffer; cert: Buffer; key: Buffer };
  certificates?: CertificateSource;
  /** messages waiting in the outbox, for the keepalive's live status */
  outboxDepth?: () => number;
  backoff?: Backoff;
  /** upstream messages held while the link is down or slow */
  queueLimit?: number;
  maxBatch?: number;
}

export interface EdgeHubStats {
  connected: boolean;
  connects: number;
  queued: number;
  sent: number;
  dropped: number;
  badFrames: number;
  /** frames read from the cloud, refused ones included */
  framesIn: number;
  /** the link's last ping round trip, in ms */
  rttMs?: number;
}

export interface EdgeHub extends Module {
  stats(): EdgeHubStats;
}

export function createEdgeHub(deps: EdgeHubDeps): EdgeHub {
  const cfg = deps.config;
  const heartbeatMs = cfg.heartbeat * 1000;
  const queueLimit = deps.queueLimit ?? 10_000;
  const maxBatch = deps.maxBatch ?? 128;
  const backoff = deps.backoff ?? createBackoff(Math.min(1000, heartbeatMs), 30_000);
  const queue: Message[] = [];
  const replies: Message[] = [];
  /** msg_ids of what this cloud answers nothing to: their senders are answered "OK" once they are written */
  const answerOnWrite = new Set<string>();
  let dialect: Dialect = cborDialect;
  let ctx: ModuleContext | undefined;
  let conn: Connection | undefined;
  let bucket: TokenBucket | undefined;
  let reconnectTimer: Timer | undefined;
  let keepaliveTimer: Timer | undefined;
  let pumpTimer: Timer | undefined;
  let renewTimer: Timer | undefined;
  let stopped = true;
  let writable = true;
  const stats: EdgeHubStats = { connected: false, connects: 0, queued: 0, sent: 0, dropped: 0, badFrames: 0, framesIn: 0 };

  const tell = (operation: string): void => {
    for (const group of LISTENER_GROUPS) {
      try {
        ctx?.bus.sendToGroup(group, newMessage({ source: EDGEHUB, group, operation, resource: 'node' }, deps.nodeName));
      } catch {
        /* no module of that group runs */
      }
    }
  };

  const keepalive = (): void => {
    // keepalives skip the queue and the rate limit: a busy link must not look dead
    if (!conn) return;
    conn.send([dialect.keepalive({ ...(conn.rttMs !== undefined ? { rttMs: Math.round(conn.rttMs * 10) / 10 } : {}), outbox: deps.outboxDepth?.() ?? 0, rssBytes: process.memoryUsage.rss() })]);
  };

  const written = (batch: readonly Message[]): void => {
    if (answerOnWrite.size === 0) return;
    for (const m of batch) if (answerOnWrite.delete(m.header.msg_id)) ctx?.bus.sendResp(ackOf(m, EDGEHUB));
  };

  const pump = (): void => {
    // answers to the cloud's requests and acknowledgements skip the rate limit: the cloud asked for
    // them, and bounds how many it waits for; the limit is for what an edge sends of its own accord
    while (replies.length > 0 && conn?.isOpen && writable) {
      const batch = takeBatch(replies, conn.codec.binary ? maxBatch : 1);
      stats.sent += batch.length;
      writable = conn.send(batch);
    }
    if (pumpTimer !== undefined) return;
    while (queue.length > 0 && conn?.isOpen && writable) {
      if (!bucket?.take()) {
        pumpTimer = ctx?.clock.setTimeout(() => {
          pumpTimer = undefined;
          pump();
        }, bucket?.waitMs() ?? 10);
        return;
      }
      const batch = takeBatch(queue, conn.codec.binary ? maxBatch : 1);
      stats.sent += batch.length;
      writable = conn.send(batch);
      written(batch);
    }
    stats.queued = queue.length + replies.length;
  };

  /** Answers a send-and-wait caller at once that its message did not go. */
  const refuse = (msg: Message, why: string): void => {
    if (msg.route.operation === Operation.response) return; // an ack: the cloud resends what it meant
    ctx?.bus.sendResp(responseTo(msg, EDGEHUB, { error: why }));
  };

  /**
   * Nothing waits for a link that is down: what must arrive is kept by its sender (the outbox) and
   * sent again, in order, on the next link. Queuing it here would send stale messages first.
   */
  const dropQueue = (why: string): void => {
    for (const msg of queue.splice(0)) refuse(msg, why);
    answerOnWrite.clear();
    replies.length = 0; // answers to a link that is gone: the cloud ends those requests itself
    stats.queued = 0;
  };

  const fromModules = (msg: Message): void => {
    if (!conn?.isOpen) {
      refuse(msg, new KubeEdgeError('not_connected', 'the link to the cloud is down').message);
      return;
    }
    const q = msg.route.operation === Operation.response ? replies : queue;
    if (q.length >= queueLimit) {
      stats.dropped++;
      ctx?.log.warn(`upstream queue full (${queueLimit}); refused ${msg.route.operation} ${msg.route.resource}`);
      // wake a send-and-wait caller at once instead of letting it time out
      refuse(msg, new KubeEdgeError('queue_full', 'upstream queue full').message);
      return;
    }
    const out = dialect.up(msg);
    if (out.answer === 'now') ctx?.bus.sendResp(ackOf(msg, EDGEHUB));
    if (out.answer === 'written') for (const m of out.wire) answerOnWrite.add(m.header.msg_id);
    q.push(...out.wire);
    stats.queued = queue.length + replies.length;
    pump();
  };

  const fromCloud = (msgs: Message[]): void => {
    for (const wire of msgs) {
      const msg = dialect.down(wire);
      if (!msg) continue;
      if (isResponse(msg)) {
        ctx?.bus.sendResp(msg);
        continue;
      }
      const group = DOWNSTREAM[msg.route.group];
      try {
        if (!group) throw new KubeEdgeError('no_route', `no edge module handles group ${JSON.stringify(msg.route.group)}`);
        ctx?.bus.sendToGroup(group, msg);
      } catch (err) {
        ctx?.log.warn(`cannot dispatch ${msg.route.group}/${msg.route.operation} ${msg.route.resource}: ${errorText(err)}`);
        fromModules(responseTo(msg, EDGEHUB, { error: errorText(err) }));
      }
    }
  };

  const connect = (): void => {
    reconnectTimer = undefined;
    if (stopped || !ctx) return;
    const c = ctx;
    let tls: { ca: Buffer; cert: Buffer; key: Buffer };
    try {
      tls = deps.tls();
    } catch (err) {
      c.log.error(`cannot load the edge certificate: ${errorText(err)}`);
      return scheduleReconnect();
    }
    const url = `wss://${cfg.websocket.server}/${cfg.projectID}/${deps.nodeName}/events`;
    let openedAt = 0;
    conn = new Connection({
      url,
      headers: { ...dialect.headers, node_id: deps.nodeName, project_id: cfg.projectID },
      codec: dialect.codec,
      tls,
      heartbeatMs,
      handshakeTimeoutMs: cfg.websocket.handshakeTimeout * 1000,
      maxFrameBytes: cfg.maxFrameBytes,
      clock: c.clock,
      log: c.log,
      onMessages: fromCloud,
      onOpen: () => {
        openedAt = c.clock.now();
        stats.connected = true;
        stats.connects++;
        writable = true;
        c.log.info(`connected to ${url}`);
        keepalive(); // the first frame tells CloudHub which codec we speak
        keepaliveTimer = c.clock.setInterval(keepalive, heartbeatMs);
        dialect.opened((msgs) => conn?.send(msgs));
        tell(HubEvent.connected);
        pump();
      },
      onClose: (reason) => {
        c.clock.clear(keepaliveTimer);
        dialect.closed();
        dropQueue(`the link to the cloud was lost: ${reason}`);
        if (conn) {
          stats.badFrames += conn.badFrames;
          stats.framesIn += conn.framesIn;
        }
        conn = undefined;
        if (stats.connected) {
          stats.connected = false;
          tell(HubEvent.disconnected);
          if (c.clock.now() - openedAt > heartbeatMs * 2) backoff.reset();
        }
        if (!stopped) {
          // an edge that never reached its cloud has no link to lose: say where it tries
          if (stats.connects === 0) c.log.warn(`cannot reach the cloud at ${cfg.websocket.server}: ${reason} (modules.edgeHub.websocket.server); retrying`);
          else c.log.warn(`link to the cloud lost: ${reason}`);
          scheduleReconnect();
        }
      },
      onDrain: () => {
        if (!writable) {
          writable = true;
          pump();
        }
      },
    });
    conn.open();
  };

  /** Renews the certificate 70–90% into its lifetime, then reconnects with the new one. */
  const scheduleRenewal = (retryMs?: number): void => {
    const certs = deps.certificates;
    if (!certs || stopped || !ctx) return;
    const c = ctx;
    const validity = certs.validity();
    const at = retryMs !== undefined ? c.clock.now() + retryMs : validity ? renewalAt(validity) : c.clock.now() + 60_000;
    // setTimeout fires at once beyond 2^31-1 ms (24.8 days): wait in steps
    const delay = Math.min(Math.max(0, at - c.clock.now()), 2 ** 31 - 1);
    c.clock.clear(renewTimer);
    renewTimer = c.clock.setTimeout(() => {
      if (c.clock.now() < at - 1000) return scheduleRenewal(at - c.clock.now());
      c.log.info('renewing the edge certificate');
      certs.renew().then(
        () => {
          c.log.info('edge certificate renewed; reconnecting with it');
          conn?.close('certificate renewed');
          scheduleRenewal();
        },
        (err: unknown) => {
          const left = (certs.validity()?.notAfter ?? 0) - c.clock.now();
          const retry = Math.max(5_000, Math.min(60_000, left / 10));
          c.log.error(`certificate renewal failed (${errorText(err)}); retrying in ${Math.round(retry / 1000)} s`);
          scheduleRenewal(retry);
        },
      );
    }, delay);
  };

  const scheduleReconnect = (): void => {
    if (stopped || reconnectTimer !== undefined) return;
    const delay = backoff.next();
    ctx?.log.info(`reconnecting in ${delay} ms`);
    reconnectTimer = ctx?.clock.setTimeout(connect, delay);
  };

  return {
    name: EDGEHUB,
    group: Group.hub,
    stats: () => ({ ...stats, badFrames: stats.badFrames + (conn?.badFrames ?? 0), framesIn: stats.framesIn + (conn?.framesIn ?? 0), ...(conn?.rttMs !== undefined ? { rttMs: conn.rttMs } : {}) }),
    async start(c) {
      ctx = c;
      stopped = false;
      if (cfg.dialect === 'kubeedge') dialect = createKubeEdgeDialect({ nodeName: deps.nodeName, labels: deps.nodeLabels ?? {}, clock: c.clock, log: c.log.child('kubeedge') });
      bucket = createTokenBucket(cfg.messageQPS, cfg.messageBurst, c.clock);
      c.bus.register(EDGEHUB, Group.hub, fromModules, { queueLimit });
      connect();
      scheduleRenewal();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      ctx?.clock.clear(reconnectTimer);
      ctx?.clock.clear(keepaliveTimer);
      ctx?.clock.clear(pumpTimer);
      ctx?.clock.clear(renewTimer);
      conn?.close('edgecore stopping');
      ctx?.bus.unregister(EDGEHUB);
    },
  } satisfies EdgeHub;
}
