/**
 * One WebSocket session to CloudHub over mutual TLS. Notices a dead or half-open link on its own:
 * it pings every half heartbeat and gives up when nothing (frame or pong) has come back for
 * 1.25 heartbeats, checked every quarter heartbeat: a dead link is noticed within 1.5 heartbeats,
 * which leaves half a heartbeat for a busy machine's late timers before the two-heartbeat promise.
 */
import { WebSocket } from 'ws';
import type { Clock, Timer } from '../../core/clock.js';
import { cborCodec, decodeFrame, encodeFrame, type Codec } from '../../core/codec.js';
import { errorText } from '../../core/errors.js';
import { throttled, type Logger } from '../../core/log.js';
import type { Message } from '../../core/message.js';

export interface ConnectionOptions {
  url: string;
  headers: Record<string, string>;
  tls: { ca: Buffer; cert: Buffer; key: Buffer };
  heartbeatMs: number;
  handshakeTimeoutMs: number;
  maxFrameBytes: number;
  clock: Clock;
  log: Logger;
  codec?: Codec;
  onMessages(msgs: Message[]): void;
  onOpen(): void;
  onClose(reason: string): void;
  /** the socket drained below the high-water mark */
  onDrain(): void;
}

export const HIGH_WATER_BYTES = 256 * 1024;

export class Connection {
  private ws: WebSocket | undefined;
  private lastSeen = 0;
  private pingTimer: Timer | undefined;
  private checkTimer: Timer | undefined;
  private closed = false;
  private opened = false;
  private pingSentAt = 0;
  readonly codec: Codec;
  badFrames = 0;
  framesIn = 0;
  private readonly warnRefused: (msg: string) => void;
  /** the last ping's round trip, in ms (undefined until a pong came) */
  rttMs: number | undefined;

  constructor(private readonly o: ConnectionOptions) {
    this.warnRefused = throttled((m) => o.log.warn(m));
    this.codec = o.codec ?? cborCodec;
  }

  open(): void {
    const { o } = this;
    const ws = new WebSocket(o.url, {
      ca: o.tls.ca,
      cert: o.tls.cert,
      key: o.tls.key,
      headers: o.headers,
      handshakeTimeout: o.handshakeTimeoutMs,
      maxPayload: o.maxFrameBytes,
      perMessageDeflate: false,
      minVersion: 'TLSv1.2',
    });
    this.ws = ws;
    ws.on('open', () => {
      this.opened = true;
      this.lastSeen = o.clock.now();
      this.pingTimer = o.clock.setInterval(() => this.ping(), o.heartbeatMs / 2);
      this.checkTimer = o.clock.setInterval(() => this.check(), Math.max(10, o.heartbeatMs / 4));
      o.onOpen();
    });
    ws.on('message', (data, isBinary) => {
      this.lastSeen = o.clock.now();
      this.framesIn++;
      let msgs: Message[];
      try {
        msgs = decodeFrame(data as Buffer, isBinary, o.maxFrameBytes);
      } catch (err) {
        this.badFrames++;
        this.warnRefused(`refused a frame from the cloud: ${errorText(err)}`);
        return;
      }
      o.onMessages(msgs);
    });
    ws.on('pong', () => {
      this.lastSeen = o.clock.now();
      if (this.pingSentAt > 0) this.rttMs = performance.now() - this.pingSentAt;
      this.pingSentAt = 0;
    });
    ws.on('ping', () => (this.lastSeen = o.clock.now()));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8').slice(0, 300)));
      res.on('end', () => this.finish(`cloud refused the connection: HTTP ${res.statusCode ?? '?'} ${body.trim()}`));
    });
    ws.on('error', (err) => this.finish(err.message));
    ws.on('close', (code, reason) => this.finish(`closed (${code}${reason.length ? ' ' + reason.toString() : ''})`));
  }

  get isOpen(): boolean {
    return this.opened && !this.closed && this.ws?.readyState === WebSocket.OPEN;
  }

  get bufferedAmount(): number {
    return this.ws?.bufferedAmount ?? 0;
  }

  /** Sends messages as one frame; false when the socket is above its high-water mark after this frame. */
  send(msgs: readonly Message[]): boolean {
    const ws = this.ws;
    if (!ws || !this.isOpen) return false;
    const frames = this.codec.binary ? [encodeFrame(this.codec, msgs)] : msgs.map((m) => this.codec.encode(m));
    for (const f of frames) {
      ws.send(f, (err) => {
        if (err) this.finish(`write failed: ${err.message}`);
        else if (ws.bufferedAmount < HIGH_WATER_BYTES) this.o.onDrain();
      });
    }
    return ws.bufferedAmount < HIGH_WATER_BYTES;
  }

  private ping(): void {
    try {
      this.pingSentAt = performance.now();
      this.ws?.ping();
    } catch {
      /* the close handler reports it */
    }
  }

  private check(): void {
    const idle = this.o.clock.now() - this.lastSeen;
    if (idle > this.o.heartbeatMs * 1.25) this.close(`no answer from the cloud for ${Math.round(idle)} ms: link is dead`);
  }

  close(reason: string): void {
    if (this.closed) return;
    this.ws?.terminate();
    this.finish(reason);
  }

  private finish(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.o.clock.clear(this.pingTimer);
    this.o.clock.clear(this.checkTimer);
    this.ws?.removeAllListeners('message');
    this.ws?.on('error', () => undefined);
    if (this.ws && this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
    this.o.onClose(reason);
  }
}
