/**
 * The in-process message bus (KubeEdge's beehive context), as an object passed to modules:
 * send, sendSync (send and wait for the reply, with a timeout), request (the same, with a
 * callback), sendResp (a reply matched by parent_msg_id) and sendToGroup. Each module has one
 * bounded inbox drained in order; a handler that throws is logged and contained, and the next
 * message is processed.
 */
import { KubeEdgeError, errorText } from './errors.js';
import type { Logger } from './log.js';
import type { Clock, Timer } from './clock.js';
import { systemClock } from './clock.js';
import type { Message } from './message.js';

export type Handler = (msg: Message) => void | Promise<void>;
export type ReplyCallback = (err: Error | undefined, reply?: Message) => void;

export interface Bus {
  register(name: string, group: string, handler: Handler, opts?: { queueLimit?: number }): void;
  unregister(name: string): void;
  send(module: string, msg: Message): void;
  sendToGroup(group: string, msg: Message): void;
  sendSync(module: string, msg: Message, timeoutMs: number): Promise<Message>;
  /**
   * sendSync without a promise: `done` is called once, with the reply or the error. For a sender
   * with many messages in flight (the outbox), where a promise chain per message shows in the profile.
   */
  request(module: string, msg: Message, timeoutMs: number, done: ReplyCallback): void;
  sendResp(resp: Message): void;
  /** number of messages waiting in a module's inbox */
  depth(module: string): number;
}

interface Inbox {
  name: string;
  group: string;
  handler: Handler;
  queue: Message[];
  limit: number;
  running: boolean;
}

interface Waiter {
  done: ReplyCallback;
  timer: Timer;
}

export const DEFAULT_QUEUE_LIMIT = 1024;

export function createBus(log: Logger, clock: Clock = systemClock): Bus {
  return new LocalBus(log, clock);
}

class LocalBus implements Bus {
  private readonly inboxes = new Map<string, Inbox>();
  private readonly waiters = new Map<string, Waiter>();

  constructor(
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {}

  private async drain(box: Inbox): Promise<void> {
    if (box.running) return;
    box.running = true;
    try {
      for (let msg = box.queue.shift(); msg !== undefined; msg = box.queue.shift()) {
        try {
          await box.handler(msg);
        } catch (err) {
          this.log.error(`${box.name}: handler failed on ${msg.route.operation} ${msg.route.resource}: ${errorText(err)}`);
        }
      }
    } finally {
      box.running = false;
    }
  }

  private enqueue(box: Inbox, msg: Message): void {
    if (box.queue.length >= box.limit) throw new KubeEdgeError('queue_full', `inbox of ${box.name} is full (${box.limit} messages)`);
    box.queue.push(msg);
    if (!box.running) void this.drain(box);
  }

  register(name: string, group: string, handler: Inbox['handler'], opts: { queueLimit?: number } = {}): void {
    this.inboxes.set(name, { name, group, handler, queue: [], limit: opts.queueLimit ?? DEFAULT_QUEUE_LIMIT, running: false });
  }

  unregister(name: string): void {
    this.inboxes.delete(name);
  }

  send(module: string, msg: Message): void {
    const box = this.inboxes.get(module);
    if (!box) throw new KubeEdgeError('no_route', `no module named ${module}`);
    this.enqueue(box, msg);
  }

  sendToGroup(group: string, msg: Message): void {
    let found = false;
    for (const box of this.inboxes.values()) {
      if (box.group !== group) continue;
      found = true;
      this.enqueue(box, msg);
    }
    if (!found) throw new KubeEdgeError('no_route', `no module in group ${group}`);
  }

  sendSync(module: string, msg: Message, timeoutMs: number): Promise<Message> {
    return new Promise<Message>((resolve, reject) => {
      this.request(module, msg, timeoutMs, (err, reply) => (err ? reject(err) : resolve(reply as Message)));
    });
  }

  request(module: string, msg: Message, timeoutMs: number, done: ReplyCallback): void {
    const id = msg.header.msg_id;
    const timer = this.clock.setTimeout(() => {
      this.waiters.delete(id);
      done(new KubeEdgeError('timeout', `no reply to ${msg.route.operation} ${msg.route.resource} within ${timeoutMs} ms`));
    }, timeoutMs);
    this.waiters.set(id, { done, timer });
    try {
      this.send(module, msg);
    } catch (err) {
      this.clock.clear(timer);
      this.waiters.delete(id);
      done(err as Error);
    }
  }

  sendResp(resp: Message): void {
    const parent = resp.header.parent_msg_id;
    const waiter = parent === undefined ? undefined : this.waiters.get(parent);
    if (!waiter || parent === undefined) return void this.log.debug(`bus: reply to ${parent ?? '(none)'} has no waiter, dropped`);
    this.waiters.delete(parent);
    this.clock.clear(waiter.timer);
    waiter.done(undefined, resp);
  }

  depth(module: string): number {
    return this.inboxes.get(module)?.queue.length ?? 0;
  }
}
