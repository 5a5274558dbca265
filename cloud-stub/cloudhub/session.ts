/**
 * One connected edge: its socket, its codec (chosen by the edge's first frame: binary is CBOR,
 * text is KubeEdge's JSON), its keepalive deadline and its delivery queue.
 */
import type { WebSocket } from 'ws';
import type { Clock } from '../../core/clock.js';
import { codecFor, decodeFrame, encodeFrame, cborCodec, takeBatch, type Codec } from '../../core/codec.js';
import { errorText } from '../../core/errors.js';
import { throttled, type Logger } from '../../core/log.js';
import type { Message } from '../../core/message.js';
import { Delivery } from './delivery.js';
import type { Traffic } from './traffic.js';

export interface SessionOptions {
  node: string;
  ws: WebSocket;
  clock: Clock;
  log: Logger;
  keepaliveMs: number;
  maxFrameBytes: number;
  traffic: Traffic;
  /** the edge's first frame came: its dialect is known */
  onReady(session: NodeSession): void;
  onMessages(session: NodeSession, msgs: Message[]): void;
  onAcked(session: NodeSession, msg: Message): void;
  onClose(session: NodeSession, reason: string): void;
}

export type Dialect = 'cbor' | 'kubeedge';

/** how often sessions are checked: the keepalive deadline is overshot by at most this */
export const tickMs = (keepaliveMs: number): number => Math.max(50, Math.min(1000, keepaliveMs / 8));

/** bytes buffered in the socket above which we stop handing it more */
const HIGH_WATER = 1024 * 1024;

export class NodeSession {
  readonly node: string;
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

  constructor(private readonly o: SessionOptions) {
    this.node = o.node;
    this.connectedAt = this.lastSeen = o.clock.now();
    this.delivery = new Delivery({
      window: 1024,
      limit: 50_000,
      firstResendMs: 5_000,
      maxResendMs: 60_000,
      clock: o.clock,
      traffic: o.traffic,
      send: (batch) => this.sendBatch(batch),
      acked: (msg) => o.onAcked(this, msg),
      overflow: (msg) => o.log.warn(`${this.node}: delivery queue full, ${msg.route.resource} waits for the next resync`),
    });
  }

  start(): void {
    const { ws, clock } = this.o;
    ws.on('message', (data, isBinary) => this.onFrame(data as Buffer, isBinary));
    // our edge pings every half heartbeat: as much a sign of life as a frame
    ws.on('ping', () => (this.lastSeen = clock.now()));
    ws.on('pong', () => (this.lastSeen = clock.now()));
    ws.on('close', (code, reason) => this.finish(`closed by edge (${code}${reason.length ? ' ' + reason.toString() : ''})`));
    ws.on('error', (err) => this.finish(`socket error: ${err.message}`));
  }

  /** CloudHub calls this for every session every tickMs(): the keepalive deadline, and resends */
  tick(): void {
    const idle = this.o.clock.now() - this.lastSeen;
    if (idle > this.o.keepaliveMs) {
      this.close(4001, `no traffic for ${Math.round(idle)} ms (keepaliveInterval ${this.o.keepaliveMs} ms)`);
      return;
    }
    if (this.ready) this.delivery.pump({ resend: true });
  }

  private onFrame(data: Buffer, binary: boolean): void {
    if (this.closed) return; // a replaced session's late frames would arrive out of order
    this.lastSeen = this.o.clock.now();
    let msgs: Message[];
    try {
      msgs = decodeFrame(data, binary, this.o.maxFrameBytes);
    } catch (err) {
      this.badFrames++;
      this.o.traffic.badFrames++;
      (this.warnRefused ??= throttled((m) => this.o.log.warn(m)))(`${this.node}: refused a frame: ${errorText(err)}`);
      return;
    }
    this.o.traffic.framesIn++;
    this.o.traffic.count('in', msgs);
    const first = !this.ready;
    if (first) {
      this.codec = codecFor(binary);
      this.ready = true;
      this.o.onReady(this);
    }
    this.o.onMessages(this, msgs);
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

  private sendBatch(batch: Message[]): boolean {
    const { ws } = this.o;
    if (this.closed || ws.readyState !== ws.OPEN) return false;
    this.o.traffic.framesOut += this.codec.binary ? 1 : batch.length;
    this.o.traffic.count('out', batch);
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
    this.o.traffic.acks++;
    if (this.ready) this.delivery.pump();
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.o.log.info(`${this.node}: closing session: ${reason}`);
    try {
      if (code === 4001) this.o.ws.terminate();
      else this.o.ws.close(code, reason.slice(0, 120));
    } catch {
      this.o.ws.terminate();
    }
    this.finish(reason);
  }

  private finish(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.o.onClose(this, reason);
  }
}
