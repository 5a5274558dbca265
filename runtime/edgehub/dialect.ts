/**
 * What the link speaks. Our cloudcore takes our messages as they are, in batched CBOR frames; a
 * KubeEdge cloudcore wants JSON text frames and its own messages (runtime/edgehub/kubeedge/). A
 * dialect turns a module's message into what goes on the wire, and a cloud message into what the
 * modules understand, so no module knows which cloud it talks to.
 */
import { cborCodec, type Codec } from '../../core/codec.js';
import { Group, Operation, newMessage, type Message } from '../../core/message.js';

export const EDGEHUB = 'edgehub';

/** What becomes of a module's message on this link. */
export interface Outgoing {
  /** the messages written for it (none: it does not go to this cloud) */
  wire: Message[];
  /**
   * `written`: this cloud answers nothing to it, so its sender is answered "OK" once it is handed to
   * the socket; `now`: answered at once (taken here); undefined: the cloud's own answer comes back
   */
  answer?: 'written' | 'now';
}

export interface Dialect {
  readonly name: 'cbor' | 'kubeedge';
  readonly codec: Codec;
  /** extra WebSocket handshake headers */
  readonly headers: Record<string, string>;
  /** `live`: what the edge says of itself each heartbeat (our cloud shows it on the Node; KubeEdge's takes only "ping") */
  keepalive(live: EdgeLiveStatus): Message;
  up(msg: Message): Outgoing;
  /** a cloud message as the modules take it; undefined when the dialect handled it itself */
  down(msg: Message): Message | undefined;
  /** the link is up: `send` writes at once, past the queue */
  opened(send: (msgs: Message[]) => void): void;
  closed(): void;
}

/** the edge's figures for people to look at, carried by each keepalive: not stored, never acknowledged */
export interface EdgeLiveStatus {
  rttMs?: number;
  outbox: number;
  rssBytes: number;
}

/** Our own cloudcore: everything as it is. */
export const cborDialect: Dialect = {
  name: 'cbor',
  codec: cborCodec,
  headers: {},
  keepalive: (live) => newMessage({ source: EDGEHUB, group: Group.resource, operation: Operation.keepalive, resource: 'node' }, live),
  up: (msg) => ({ wire: [msg] }),
  down: (msg) => msg,
  opened: () => undefined,
  closed: () => undefined,
};
