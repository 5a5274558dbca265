/**
 * One connected edge: its socket, its codec (chosen by the edge's first frame: binary is CBOR,
 * text is KubeEdge's JSON), its keepalive deadline and its delivery queue.
 */
import type { RawData, WebSocket } from 'ws';
import type { Clock } from '../../core/clock.js';
import { codecFor, decodeFrame, encodeFrame, cborCodec, takeBatch, type Codec } from '../../core/codec.js';
import { errorText } from '../../core/errors.js';
import { throttled, type Logger } from '../../core/log.js';
import type { Message } from '../../core/message.js';
import { Delivery, type DeliveryPolicy, type DeliverySink } from './delivery.js';
import type { Traffic } from './traffic.js';

/** What every session shares: one object made by CloudHub, so a session makes no closures of its own. */
export interface SessionHub {
  clock: Clock;
  log: Logger;
  keepaliveMs: number;
  maxFrameBytes: number;
  traffic: Traffic;
  delivery: DeliveryPolicy;
  /** the edge's first frame came: its dialect is known */
  onReady(session: NodeSession): void;
  onMessages(session: NodeSession, msgs: Message[]): void;
  onAcked(session: NodeSession, msg: Message): void;
  onClose(session: NodeSession, reason: string): void;
}

/** a node's delivery queue as every session has it */
export const deliveryPolicy = (clock: Clock, traffic: Traffic): DeliveryPolicy => ({ window: 1024, limit: 50_000, firstResendMs: 5_000, maxResendMs: 60_000, clock, traffic });

export type Dialect = 'cbor' | 'kubeedge';

/** how often sessions are checked: the keepalive deadline is overshot by at most this */
export const tickMs = (keepaliveMs: number): number => Math.max(50, Math.min(1000, keepaliveMs / 8));

/** a socket knows its session, so its listeners can be shared */
const SESSION = Symbol('session');
type OwnedSocket = WebSocket & { [SESSION]?: NodeSession };

/** bytes buffered in the socket above which we stop handing it more */
const HIGH_WATER = 1024 * 1024;

export class NodeSession implements DeliverySink {
  readonly connectedAt: number;
  lastSeen: number;
  badFrames = 0;
  private codec: Codec = cborCodec;
  private ready = false;
  private closed = false;
  /** made at the first refusal: most sessions never need one */
  private warnRefused: ((msg: string) => void) | undefined;
  private immediate: Message[] = [];
  readonly delivery: Delivery;

  constructor(
    readonly node: string,
    private readonly ws: WebSocket,
    private readonly hub: SessionHub,
  ) {
    this.connectedAt = this.lastSeen = hub.clock.now();
    this.delivery = new Delivery(hub.delivery, this);
  }

  start(): void {
    const ws = this.ws as OwnedSocket;
    ws[SESSION] = this;
    // the same five functions for every session (`this` is the socket): no closures per edge
    ws.on('message', NodeSession.onMessage);
    ws.on('ping', NodeSession.onSignOfLife);
    ws.on('pong', NodeSession.onSignOfLife);
    ws.on('close', NodeSession.onClose);
    ws.on('error', NodeSession.onError);
  }

  private static onMessage(this: OwnedSocket, data: RawData, isBinary: boolean): void {
    this[SESSION]?.onFrame(data as Buffer, isBinary);
  }

  /** our edge pings every half heartbeat: as much a sign of life as a frame */
  private static onSignOfLife(this: OwnedSocket): void {
    const s = this[SESSION];
    if (s) s.lastSeen = s.hub.clock.now();
  }

  private static onClose(this: OwnedSocket, code: number, reason: Buffer): void {
    this[SESSION]?.finish(`closed by edge (${code}${reason.length ? ' ' + reason.toString() : ''})`);
  }

  private static onError(this: OwnedSocket, err: Error): void {
    this[SESSION]?.finish(`socket error: ${err.message}`);
  }

  /** DeliverySink: the edge acknowledged a message */
  acked(msg: Message): void {
    this.hub.onAcked(this, msg);
  }

  /** DeliverySink: the queue is full */
  overflow(msg: Message): void {
    this.hub.log.warn(`${this.node}: delivery queue full, ${msg.route.resource} waits for the next resync`);
  }

  /** CloudHub calls this for every session every tickMs(): the keepalive deadline, and resends */
  tick(): void {
    const idle = this.hub.clock.now() - this.lastSeen;
    if (idle > this.hub.keepaliveMs) {
      this.close(4001, `no traffic for ${Math.round(idle)} ms (keepaliveInterval ${this.hub.keepaliveMs} ms)`);
      return;
    }
    if (this.ready) this.delivery.pump({ resend: true });
  }

  private onFrame(data: Buffer, binary: boolean): void {
    if (this.closed) return; // a replaced session's late frames would arrive out of order
    this.lastSeen = this.hub.clock.now();
    let msgs: Message[];
    try {
      msgs = decodeFrame(data, binary, this.hub.maxFrameBytes);
    } catch (err) {
      this.badFrames++;
      this.hub.traffic.badFrames++;
      (this.warnRefused ??= throttled((m) => this.hub.log.warn(m)))(`${this.node}: refused a frame: ${errorText(err)}`);
      return;
    }
    this.hub.traffic.framesIn++;
    this.hub.traffic.count('in', msgs);
    const first = !this.ready;
    if (first) {
      this.codec = codecFor(binary);
      this.ready = true;
      this.hub.onReady(this);
    }
    this.hub.onMessages(this, msgs);
    if (first) this.delivery.pump(); // what was queued before the edge's first frame goes now
  }

  /** Queues a message that needs an acknowledgement and sends it when the window allows. */
  deliver(msg: Message): void {
    this.delivery.enqueue(msg);
    if (this.ready) this.delivery.pump();
  }

  /**
   * Sends a message once, without tracking (replies and acknowledgements). Those made in one turn
   * of the event loop leave together in one batch frame.
   */
  sendNow(msg: Message): void {
    this.immediate.push(msg);
    if (this.immediate.length === 1) setImmediate(() => this.flushImmediate());
  }

  private flushImmediate(): void {
    const batch = this.immediate;
    this.immediate = [];
    while (batch.length > 0) this.sendBatch(takeBatch(batch, 256));
  }

  /** DeliverySink, and replies: one frame to the socket; false once the socket holds enough */
  sendBatch(batch: Message[]): boolean {
    const { ws } = this;
    if (this.closed || ws.readyState !== ws.OPEN) return false;
    this.hub.traffic.framesOut += this.codec.binary ? 1 : batch.length;
    this.hub.traffic.count('out', batch);
    if (this.codec.binary) {
      ws.send(encodeFrame(this.codec, batch));
    } else {
      for (const m of batch) ws.send(this.codec.encode(m)); // KubeEdge's framing has no batches
    }
    return ws.bufferedAmount < HIGH_WATER;
  }

  /** has its first frame come? */
  get isReady(): boolean {
    return this.ready;
  }

  /** `kubeedge`: a KubeEdge edgecore (JSON text frames); `cbor`: ours */
  get dialect(): Dialect {
    return this.codec.binary ? 'cbor' : 'kubeedge';
  }

  onAck(parentId: string): void {
    if (!this.delivery.ack(parentId)) return;
    this.hub.traffic.acks++;
    if (this.ready) this.delivery.pump();
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.hub.log.info(`${this.node}: closing session: ${reason}`);
    try {
      if (code === 4001) this.ws.terminate();
      else this.ws.close(code, reason.slice(0, 120));
    } catch {
      this.ws.terminate();
    }
    this.finish(reason);
  }

  private finish(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.hub.onClose(this, reason);
  }
}
