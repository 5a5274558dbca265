/**
 * The outbox's way to the cloud: while the link is up, what is on disk is sent in order, the urgent
 * lane (reports, status) ahead of the bulk one (uploads), at most OUTBOX_WINDOW messages awaiting
 * their acknowledgement at once; an acknowledged one leaves the outbox. A new link starts again from
 * the oldest message of each lane (the cloud takes a resent one once).
 */
import type { ModuleContext } from '../../core/module.js';
import { ACK_CONTENT, type Message } from '../../core/message.js';
import { EDGEHUB } from '../edgehub/dialect.js';
import type { Lane, Outbox } from './outbox.js';

/** messages of the outbox in flight to the cloud at once */
const OUTBOX_WINDOW = 128;

export class OutboxSender {
  private connected = false;
  /** the link's generation: answers to a link that is gone change no count */
  private generation = 0;
  /** EdgeHub's number of the link, put on each message: EdgeHub sends it on that link or refuses it */
  private link: number | undefined;
  private inFlight = 0;
  private draining = false;
  private drainAgain = false;
  /** the newest message sent on this link, per lane */
  private sent: Record<Lane, number> = { urgent: 0, bulk: 0 };
  /** the outbox sends only what is on disk: else a crash could deliver an upload its app never saw acknowledged */
  private durableUpTo: number;
  /** when the outbox last moved: an acknowledgement, a new link, or a message into an empty outbox */
  private progressAt = Date.now();

  constructor(
    private readonly outbox: Outbox,
    private readonly ctx: ModuleContext,
  ) {
    this.durableUpTo = outbox.lastSeq();
  }

  linkUp(link: number | undefined): void {
    this.connected = true;
    this.link = link;
    this.progressAt = Date.now();
    this.generation++;
    this.inFlight = 0;
    this.sent = { urgent: 0, bulk: 0 };
    this.drain();
  }

  linkDown(): void {
    this.connected = false;
  }

  /** a message is about to go into the outbox */
  adding(): void {
    if (this.outbox.stats().queued === 0) this.progressAt = Date.now();
  }

  /** the messages up to `seq` are on disk: they may go */
  durable(seq: number): void {
    this.durableUpTo = Math.max(this.durableUpTo, seq);
    this.drain();
  }

  /** ms the outbox has waited with the link up and nothing acknowledged (0: empty, draining, or no link) */
  stalledMs(): number {
    return this.connected && this.outbox.stats().queued > 0 ? Date.now() - this.progressAt : 0;
  }

  /** sends what is on disk and not yet sent on this link, the urgent lane first */
  private drain(): void {
    if (!this.connected) return;
    // an answer can come back within a send (a refusal, an ack on write), and asks for a drain:
    // the loop below runs again instead, so no batch is taken twice
    if (this.draining) {
      this.drainAgain = true;
      return;
    }
    this.draining = true;
    try {
      do {
        this.drainAgain = false;
        this.drainOnce();
      } while (this.drainAgain && this.connected);
    } finally {
      this.draining = false;
    }
  }

  private drainOnce(): void {
    for (const lane of ['urgent', 'bulk'] as const) {
      while (this.inFlight < OUTBOX_WINDOW) {
        const batch = this.outbox.next(this.sent[lane], OUTBOX_WINDOW - this.inFlight, lane, this.durableUpTo);
        if (batch.length === 0) break;
        for (const { seq, msg } of batch) this.send(lane, seq, msg);
      }
    }
  }

  private send(lane: Lane, seq: number, msg: Message): void {
    const gen = this.generation;
    if (this.link !== undefined) msg.header.link = this.link; // a header of its own (Outbox.next copies it)
    this.sent[lane] = seq;
    this.inFlight++;
    // a callback, not a promise: up to a window of these are in flight, one per upload
    this.ctx.bus.request(EDGEHUB, msg, 30_000, (_err, reply) => {
      const taken = reply?.content === ACK_CONTENT;
      if (taken) {
        this.outbox.remove(seq);
        this.progressAt = Date.now();
      }
      if (gen !== this.generation) return;
      this.inFlight--;
      // refilled a quarter of the window at a time, in one frame, not one message per acknowledgement
      if (taken && this.inFlight <= (OUTBOX_WINDOW * 3) / 4) this.drain();
      if (taken) return;
      if (reply) this.ctx.log.debug(`${msg.route.resource} #${seq} not taken (${JSON.stringify(reply.content).slice(0, 200)}); sent again in 1 s`);
      this.again(lane, seq); // refused, or no answer in time on a link still up
    });
  }

  /**
   * A message of this link went unacknowledged while later ones may be taken: after a pause (a
   * refusal that repeats must not spin), its lane goes back to it, so it is sent again on this link
   * instead of waiting for the next (the cloud keeps a place open for it). Each answer holds at most
   * one such timer, and answers come only for messages sent, so the window bounds how many wait.
   */
  private again(lane: Lane, seq: number): void {
    const gen = this.generation;
    const timer = setTimeout(() => {
      if (gen !== this.generation) return; // a new link starts from the oldest anyway
      this.sent[lane] = Math.min(this.sent[lane], seq - 1);
      this.drain();
    }, 1000);
    timer.unref?.();
  }
}
