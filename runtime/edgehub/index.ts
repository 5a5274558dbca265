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
  return new EdgeHubModule(deps);
}

class EdgeHubModule implements EdgeHub {
  readonly name = EDGEHUB;
  readonly group = Group.hub;
  private readonly cfg: EdgeHubConfig;
  private readonly heartbeatMs: number;
  private readonly queueLimit: number;
  private readonly maxBatch: number;
  private readonly backoff: Backoff;
  private readonly queue: Message[] = [];
  private readonly replies: Message[] = [];
  /** msg_ids of what this cloud answers nothing to: their senders are answered "OK" once they are written */
  private readonly answerOnWrite = new Set<string>();
  private dialect: Dialect = cborDialect;
  private ctx: ModuleContext | undefined;
  private conn: Connection | undefined;
  private bucket: TokenBucket | undefined;
  private readonly timers: { reconnect?: Timer; keepalive?: Timer; pump?: Timer; renew?: Timer } = {};
  private stopped = true;
  private writable = true;
  private readonly counts: EdgeHubStats = { connected: false, connects: 0, queued: 0, sent: 0, dropped: 0, badFrames: 0, framesIn: 0 };

  constructor(private readonly deps: EdgeHubDeps) {
    this.cfg = deps.config;
    this.heartbeatMs = this.cfg.heartbeat * 1000;
    this.queueLimit = deps.queueLimit ?? 10_000;
    this.maxBatch = deps.maxBatch ?? 128;
    this.backoff = deps.backoff ?? createBackoff(Math.min(1000, this.heartbeatMs), 30_000);
  }

  stats(): EdgeHubStats {
    const conn = this.conn;
    return { ...this.counts, badFrames: this.counts.badFrames + (conn?.badFrames ?? 0), framesIn: this.counts.framesIn + (conn?.framesIn ?? 0), ...(conn?.rttMs !== undefined ? { rttMs: conn.rttMs } : {}) };
  }

  private tell(operation: string): void {
    for (const group of LISTENER_GROUPS) {
      try {
        this.ctx?.bus.sendToGroup(group, newMessage({ source: EDGEHUB, group, operation, resource: 'node' }, { node: this.deps.nodeName, link: this.counts.connects }));
      } catch {
        /* no module of that group runs */
      }
    }
  }

  private keepalive(): void {
    // keepalives skip the queue and the rate limit: a busy link must not look dead
    const conn = this.conn;
    if (!conn) return;
    conn.send([this.dialect.keepalive({ ...(conn.rttMs !== undefined ? { rttMs: Math.round(conn.rttMs * 10) / 10 } : {}), outbox: this.deps.outboxDepth?.() ?? 0, rssBytes: process.memoryUsage.rss() })]);
  }

  private written(batch: readonly Message[]): void {
    if (this.answerOnWrite.size === 0) return;
    for (const m of batch) if (this.answerOnWrite.delete(m.header.msg_id)) this.ctx?.bus.sendResp(ackOf(m, EDGEHUB));
  }

  /** sends one batch of `q` on the link (the socket may ask to wait for a drain); the batch */
  private sendBatch(q: Message[], conn: Connection): Message[] {
    const batch = takeBatch(q, conn.codec.binary ? this.maxBatch : 1);
    this.counts.sent += batch.length;
    this.writable = conn.send(batch);
    return batch;
  }

  private pump(): void {
    // answers to the cloud's requests and acknowledgements skip the rate limit: the cloud asked for
    // them, and bounds how many it waits for; the limit is for what an edge sends of its own accord
    while (this.replies.length > 0 && this.conn?.isOpen && this.writable) this.sendBatch(this.replies, this.conn);
    if (this.timers.pump !== undefined) return;
    while (this.queue.length > 0 && this.conn?.isOpen && this.writable) {
      if (!this.bucket?.take()) {
        this.timers.pump = this.ctx?.clock.setTimeout(() => {
          this.timers.pump = undefined;
          this.pump();
        }, this.bucket?.waitMs() ?? 10);
        return;
      }
      this.written(this.sendBatch(this.queue, this.conn));
    }
    this.counts.queued = this.queue.length + this.replies.length;
  }

  /** Answers a send-and-wait caller at once that its message did not go. */
  private refuse(msg: Message, why: string): void {
    if (msg.route.operation === Operation.response) return; // an ack: the cloud resends what it meant
    this.ctx?.bus.sendResp(responseTo(msg, EDGEHUB, { error: why }));
  }

  /**
   * Nothing waits for a link that is down: what must arrive is kept by its sender (the outbox) and
   * sent again, in order, on the next link. Queuing it here would send stale messages first.
   */
  private dropQueue(why: string): void {
    for (const msg of this.queue.splice(0)) this.refuse(msg, why);
    this.answerOnWrite.clear();
    this.replies.length = 0; // answers to a link that is gone: the cloud ends those requests itself
    this.counts.queued = 0;
  }

  private fromModules(bound: Message): void {
    if (!this.conn?.isOpen) return this.refuse(bound, new KubeEdgeError('not_connected', 'the link to the cloud is down').message);
    const msg = this.onThisLink(bound);
    if (!msg) return this.refuse(bound, new KubeEdgeError('not_connected', `meant for link ${bound.header.link ?? '?'}, which is gone`).message);
    const q = msg.route.operation === Operation.response ? this.replies : this.queue;
    if (q.length >= this.queueLimit) {
      this.counts.dropped++;
      this.ctx?.log.warn(`upstream queue full (${this.queueLimit}); refused ${msg.route.operation} ${msg.route.resource}`);
      // wake a send-and-wait caller at once instead of letting it time out
      return this.refuse(msg, new KubeEdgeError('queue_full', 'upstream queue full').message);
    }
    const out = this.dialect.up(msg);
    if (out.answer === 'now') this.ctx?.bus.sendResp(ackOf(msg, EDGEHUB));
    if (out.answer === 'written') for (const m of out.wire) this.answerOnWrite.add(m.header.msg_id);
    q.push(...out.wire);
    this.counts.queued = this.queue.length + this.replies.length;
    this.pump();
  }

  /** the message without its link number; undefined when it was meant for another link */
  private onThisLink(msg: Message): Message | undefined {
    if (msg.header.link === undefined) return msg;
    const { link, ...header } = msg.header;
    return link === this.counts.connects ? { ...msg, header } : undefined;
  }

  private fromCloud(msgs: Message[]): void {
    for (const wire of msgs) {
      const msg = this.dialect.down(wire);
      if (!msg) continue;
      if (isResponse(msg)) {
        this.ctx?.bus.sendResp(msg);
        continue;
      }
      const group = DOWNSTREAM[msg.route.group];
      try {
        if (!group) throw new KubeEdgeError('no_route', `no edge module handles group ${JSON.stringify(msg.route.group)}`);
        this.ctx?.bus.sendToGroup(group, msg);
      } catch (err) {
        this.ctx?.log.warn(`cannot dispatch ${msg.route.group}/${msg.route.operation} ${msg.route.resource}: ${errorText(err)}`);
        this.fromModules(responseTo(msg, EDGEHUB, { error: errorText(err) }));
      }
    }
  }

  private connect(): void {
    this.timers.reconnect = undefined;
    const c = this.ctx;
    if (this.stopped || !c) return;
    let tls: { ca: Buffer; cert: Buffer; key: Buffer };
    try {
      tls = this.deps.tls();
    } catch (err) {
      c.log.error(`cannot load the edge certificate: ${errorText(err)}`);
      return this.scheduleReconnect();
    }
    const url = `wss://${this.cfg.websocket.server}/${this.cfg.projectID}/${this.deps.nodeName}/events`;
    let openedAt = 0;
    this.conn = new Connection({
      url,
      headers: { ...this.dialect.headers, node_id: this.deps.nodeName, project_id: this.cfg.projectID },
      codec: this.dialect.codec,
      tls,
      heartbeatMs: this.heartbeatMs,
      handshakeTimeoutMs: this.cfg.websocket.handshakeTimeout * 1000,
      maxFrameBytes: this.cfg.maxFrameBytes,
      clock: c.clock,
      log: c.log,
      onMessages: (msgs) => this.fromCloud(msgs),
      onOpen: () => {
        openedAt = c.clock.now();
        this.opened(c, url);
      },
      onClose: (reason) => this.closed(c, reason, c.clock.now() - openedAt),
      onDrain: () => {
        if (this.writable) return;
        this.writable = true;
        this.pump();
      },
    });
    this.conn.open();
  }

  private opened(c: ModuleContext, url: string): void {
    this.counts.connected = true;
    this.counts.connects++;
    this.writable = true;
    c.log.info(`connected to ${url}`);
    this.keepalive(); // the first frame tells CloudHub which codec we speak
    this.timers.keepalive = c.clock.setInterval(() => this.keepalive(), this.heartbeatMs);
    this.dialect.opened((msgs) => this.conn?.send(msgs));
    this.tell(HubEvent.connected);
    this.pump();
  }

  /** the link is gone: `lastedMs` after it opened (a long-lived link starts the back-off over) */
  private closed(c: ModuleContext, reason: string, lastedMs: number): void {
    c.clock.clear(this.timers.keepalive);
    this.dialect.closed();
    this.dropQueue(`the link to the cloud was lost: ${reason}`);
    if (this.conn) {
      this.counts.badFrames += this.conn.badFrames;
      this.counts.framesIn += this.conn.framesIn;
    }
    this.conn = undefined;
    if (this.counts.connected) {
      this.counts.connected = false;
      this.tell(HubEvent.disconnected);
      if (lastedMs > this.heartbeatMs * 2) this.backoff.reset();
    }
    if (this.stopped) return;
    // an edge that never reached its cloud has no link to lose: say where it tries
    if (this.counts.connects === 0) c.log.warn(`cannot reach the cloud at ${this.cfg.websocket.server}: ${reason} (modules.edgeHub.websocket.server); retrying`);
    else c.log.warn(`link to the cloud lost: ${reason}`);
    this.scheduleReconnect();
  }

  /** Renews the certificate 70–90% into its lifetime, then reconnects with the new one. */
  private scheduleRenewal(retryMs?: number): void {
    const certs = this.deps.certificates;
    const c = this.ctx;
    if (!certs || this.stopped || !c) return;
    const validity = certs.validity();
    const at = retryMs !== undefined ? c.clock.now() + retryMs : validity ? renewalAt(validity) : c.clock.now() + 60_000;
    // setTimeout fires at once beyond 2^31-1 ms (24.8 days): wait in steps
    const delay = Math.min(Math.max(0, at - c.clock.now()), 2 ** 31 - 1);
    c.clock.clear(this.timers.renew);
    this.timers.renew = c.clock.setTimeout(() => {
      if (c.clock.now() < at - 1000) return this.scheduleRenewal(at - c.clock.now());
      this.renew(c, certs);
    }, delay);
  }

  private renew(c: ModuleContext, certs: CertificateSource): void {
    c.log.info('renewing the edge certificate');
    certs.renew().then(
      () => {
        c.log.info('edge certificate renewed; reconnecting with it');
        this.conn?.close('certificate renewed');
        this.scheduleRenewal();
      },
      (err: unknown) => {
        const left = (certs.validity()?.notAfter ?? 0) - c.clock.now();
        const retry = Math.max(5_000, Math.min(60_000, left / 10));
        c.log.error(`certificate renewal failed (${errorText(err)}); retrying in ${Math.round(retry / 1000)} s`);
        this.scheduleRenewal(retry);
      },
    );
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.timers.reconnect !== undefined) return;
    const delay = this.backoff.next();
    this.ctx?.log.info(`reconnecting in ${delay} ms`);
    this.timers.reconnect = this.ctx?.clock.setTimeout(() => this.connect(), delay);
  }

  async start(c: ModuleContext): Promise<void> {
    this.ctx = c;
    this.stopped = false;
    if (this.cfg.dialect === 'kubeedge') this.dialect = createKubeEdgeDialect({ nodeName: this.deps.nodeName, labels: this.deps.nodeLabels ?? {}, clock: c.clock, log: c.log.child('kubeedge') });
    this.bucket = createTokenBucket(this.cfg.messageQPS, this.cfg.messageBurst, c.clock);
    c.bus.register(EDGEHUB, Group.hub, (msg) => this.fromModules(msg), { queueLimit: this.queueLimit });
    this.connect();
    this.scheduleRenewal();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of Object.values(this.timers)) this.ctx?.clock.clear(t);
    this.conn?.close('edgecore stopping');
    this.ctx?.bus.unregister(EDGEHUB);
  }
}
