/**
 * KubeEdge's message envelope (beehive `model.Message`), with its wire field names.
 * The same shape travels on the internal bus and on the link.
 */
import { randomUUID } from 'node:crypto';
import { FrameError } from './errors.js';
import { isObj } from './guards.js';

export interface MessageHeader {
  msg_id: string;
  parent_msg_id?: string;
  timestamp: number;
  resourceversion?: string;
  sync?: boolean;
  /**
   * Edge-internal, never on the wire: the link (EdgeHub's connection number) its sender meant it
   * for. EdgeHub refuses it on any other link: a message meant for a link that is gone must not
   * overtake, on the next one, what its sender sends again from the start.
   */
  link?: number;
}

export interface MessageRoute {
  source: string;
  destination?: string;
  group: string;
  operation: string;
  resource: string;
}

export interface Message<C = unknown> {
  header: MessageHeader;
  route: MessageRoute;
  content: C;
}

/** Groups that route messages to modules, as KubeEdge names them. */
export const Group = {
  resource: 'resource',
  twin: 'twin',
  user: 'user',
  meta: 'meta',
  hub: 'hub',
  bus: 'bus',
  /** cloud → edge requests for Edged (a pod's log) */
  edged: 'edged',
  /** cloud → edge HTTP requests for ServiceBus */
  servicebus: 'servicebus',
} as const;

/** Operations used on the link (KubeEdge's `model.*Operation`). */
export const Operation = {
  insert: 'insert',
  update: 'update',
  delete: 'delete',
  query: 'query',
  /** KubeEdge's edged: a strategic merge patch (node and pod status) */
  patch: 'patch',
  response: 'response',
  keepalive: 'keepalive',
  upload: 'upload',
  error: 'error',
  /** edge → cloud on connect: `{storeId}` of the edge's database */
  sync: 'sync',
  /** cloud → edge: stop answering the request whose msg_id is `content.id` (a log follow, an HTTP call) */
  cancel: 'cancel',
  /** cloud → edge: more for the request whose msg_id is `content.id` (an exec's input, its terminal's size) */
  input: 'input',
} as const;

/**
 * One part of an answer that may take several messages (a followed log, a large HTTP body): each is a
 * `response` to the request, in order; the last has `end`. An `error` ends it too.
 */
export interface ReplyPart {
  /** text (a log) */
  data?: string;
  /** bytes, base64 (an HTTP body, an exec's output) */
  body?: string;
  /** an exec's output: 1 stdout, 2 stderr */
  stream?: 1 | 2;
  /** an exec's end: the command's exit code (with `end`) */
  exitCode?: number;
  /** an HTTP answer's status and headers, in its first part */
  status?: number;
  headers?: Record<string, string | string[]>;
  end?: boolean;
  error?: string;
  /** an HTTP status for the error */
  code?: number;
}

export const ACK_CONTENT = 'OK';

export interface NewMessageOptions {
  parentId?: string;
  resourceVersion?: string;
  sync?: boolean;
  id?: string;
  now?: number;
}

export function newMessage<C>(route: MessageRoute, content: C, opts: NewMessageOptions = {}): Message<C> {
  const header: MessageHeader = { msg_id: opts.id ?? randomUUID(), timestamp: opts.now ?? Date.now() };
  if (opts.parentId !== undefined) header.parent_msg_id = opts.parentId;
  if (opts.resourceVersion !== undefined) header.resourceversion = opts.resourceVersion;
  if (opts.sync !== undefined) header.sync = opts.sync;
  const r: MessageRoute = { source: route.source, group: route.group, operation: route.operation, resource: route.resource };
  if (route.destination !== undefined) r.destination = route.destination;
  return { header, route: r, content };
}

/**
 * Message ids for a stream of messages from one process: a random epoch and a counter, shaped as a
 * UUID (KubeEdge's cloud reads msg_id as one). Unique as randomUUID's are, without drawing 122 random
 * bits and formatting them for each message of a hot path.
 */
export function idSequence(): () => string {
  const epoch = randomUUID().slice(0, 24); // "xxxxxxxx-xxxx-4xxx-yxxx-": 74 random bits
  let n = 0;
  return () => epoch + (n++).toString(16).padStart(12, '0');
}

/** A reply tied to `to` by `parent_msg_id`, keeping its group and resource (KubeEdge's NewRespByMessage). */
export function responseTo<C>(to: Message, source: string, content: C): Message<C> {
  return newMessage(
    { source, group: to.route.group, operation: Operation.response, resource: to.route.resource },
    content,
    { parentId: to.header.msg_id },
  );
}

/** The acknowledgement KubeEdge sends: a `response` with content "OK". */
export function ackOf(to: Message, source: string): Message<string> {
  return responseTo(to, source, ACK_CONTENT);
}

export function isResponse(msg: Message): boolean {
  return msg.route.operation === Operation.response && msg.header.parent_msg_id !== undefined;
}

/** `<namespace>/<kind>/<name>`, with `null` as the namespace of cluster objects. */
export interface ResourceKey {
  namespace: string;
  kind: string;
  name: string;
}

export function parseResource(resource: string): ResourceKey | undefined {
  const parts = resource.split('/');
  if (parts.length < 3) return undefined;
  const [namespace, kind, ...rest] = parts;
  if (!namespace || !kind || rest.length === 0 || rest.some((p) => p === '')) return undefined;
  return { namespace, kind, name: rest.join('/') };
}


/** Checks a decoded value is a well-formed envelope and returns it typed; throws a FrameError naming the field. */
export function validateMessage(value: unknown): Message {
  if (!isObj(value)) throw new FrameError('message_invalid', 'message is not a map');
  const { header, route } = value;
  if (!isObj(header)) throw new FrameError('message_invalid', 'header is not a map');
  if (!isObj(route)) throw new FrameError('message_invalid', 'route is not a map');
  if (typeof header.msg_id !== 'string' || header.msg_id === '') throw new FrameError('message_invalid', 'header.msg_id must be a non-empty string');
  if (typeof header.timestamp !== 'number' || !Number.isFinite(header.timestamp)) throw new FrameError('message_invalid', 'header.timestamp must be a number');
  for (const f of ['parent_msg_id', 'resourceversion'] as const) {
    if (header[f] !== undefined && typeof header[f] !== 'string') throw new FrameError('message_invalid', `header.${f} must be a string`);
  }
  if (header.sync !== undefined && typeof header.sync !== 'boolean') throw new FrameError('message_invalid', 'header.sync must be a boolean');
  for (const f of ['source', 'group', 'operation', 'resource'] as const) {
    if (typeof route[f] !== 'string') throw new FrameError('message_invalid', `route.${f} must be a string`);
  }
  if (route.destination !== undefined && typeof route.destination !== 'string') throw new FrameError('message_invalid', 'route.destination must be a string');
  if (!('content' in value)) throw new FrameError('message_invalid', 'content is missing');
  return value as unknown as Message;
}
