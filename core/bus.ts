/**
 * The in-process message bus (KubeEdge's beehive context), as an object passed to modules:
 * send, sendSync (send and wait for the reply, with a timeout), sendResp (a reply matched by
 * parent_msg_id) and sendToGroup. Each module has one bounded inbox drained in order; a handler
 * that throws is logged and contained, and the next message is processed.
 */
import { KubeEdgeError, errorText } from './errors.js';
import type { Logger } from './log.js';
import type { Clock, Timer } from './clock.js';
import { systemClock } from './clock.js';
import type { Message } from './message.js';

export type Handler = (msg: Message) => void | Promise<void>;

export interface Bus {
  register(name: string, group: string, handler: Handler, opts?: { queueLimit?: number }): void;
  unregister(name: string): void;
  send(module: string, msg: Message): void;
  sendToGroup(group: string, msg: Message): void;
  sendSync(module: string, msg: Message, timeoutMs: number): Promise<Message>;
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
  resolve(msg: Message): void;
  reject(err: Error): void;
  timer: Timer;
}

export const DEFAULT_QUEUE_LIMIT = 1024;

export function createBus(log: Logger, clock: Clock = systemClock): Bus {
  const inboxes = new Map<string, Inbox>();
  const waiters = new Map<string, Waiter>();

  const drain = async (box: Inbox): Promise<void> => {
    if (box.running) return;
    box.running = true;
    try {
      for (let msg = box.queue.shift(); msg !== undefined; msg = box.queue.shift()) {
        try {
          await box.handler(msg);
        } catch (err) {
          log.error(`${box.name}: handler failed on ${msg.route.operation} ${msg.route.resource}: ${errorText(err)}`);
        }
      }
    } finally {
      box.running = false;
    }
  };

  const enqueue = (box: Inbox, msg: Message): void => {
    if (box.queue.length >= box.limit) {
      throw new KubeEdgeError('queue_full', `inbox of ${box.name} is full (${box.limit} messages)`);
    }
    box.queue.push(msg);
    if (!box.running) void drain(box);
  };

  return {
    register(name, group, handler, opts = {}) {
      inboxes.set(name, { name, group, handler, queue: [], limit: opts.queueLimit ?? DEFAULT_QUEUE_LIMIT, running: false });
    },
    unregister(name) {
      inboxes.delete(name);
    },
    send(module, msg) {
      const box = inboxes.get(module);
      if (!box) throw new KubeEdgeError('no_route', `no module named ${module}`);
      enqueue(box, msg);
    },
    sendToGroup(group, msg) {
      let found = false;
      for (const box of inboxes.values()) {
        if (box.group !== group) continue;
        found = true;
        enqueue(box, msg);
      }
      if (!found) throw new KubeEdgeError('no_route', `no module in group ${group}`);
    },
    sendSync(module, msg, timeoutMs) {
      return new Promise<Message>((resolve, reject) => {
        const id = msg.header.msg_id;
        const timer = clock.setTimeout(() => {
          waiters.delete(id);
          reject(new KubeEdgeError('timeout', `no reply to ${msg.route.operation} ${msg.route.resource} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.set(id, { resolve, reject, timer });
        try {
          this.send(module, msg);
        } catch (err) {
          clock.clear(timer);
          waiters.delete(id);
          reject(err as Error);
        }
      });
    },
    sendResp(resp) {
      const parent = resp.header.parent_msg_id;
      const waiter = parent === undefined ? undefined : waiters.get(parent);
      if (!waiter || parent === undefined) {
        log.debug(`bus: reply to ${parent ?? '(none)'} has no waiter, dropped`);
        return;
      }
      waiters.delete(parent);
      clock.clear(waiter.timer);
      waiter.resolve(resp);
    },
    depth(module) {
      return inboxes.get(module)?.queue.length ?? 0;
    },
  };
}
