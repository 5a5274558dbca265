/**
 * What crosses the link from a pod only when the cloud asks: a container's log (kubectl logs, -f,
 * --previous), a command run in it (kubectl exec) and its output followed (kubectl attach). Each
 * request is answered in reply parts; a cancel, or the link going, stops what it started. At most
 * MAX_STREAMS run at once on a node.
 */
import { errorText } from '../../core/errors.js';
import { isObj } from '../../core/guards.js';
import type { Message, ReplyPart } from '../../core/message.js';
import type { ExecSession } from '../../containers/runtime.js';
import type { Observed, PodWorker } from './worker.js';

const MAX_STREAMS = 8;
/** a followed log leaves in parts of at most this size, at most every FLUSH_MS */
const PART_BYTES = 64 * 1024;
const FLUSH_MS = 100;
/** an exec's output is gathered this long before it leaves (a person types at it) */
const EXEC_FLUSH_MS = 10;
/** inputs kept for a command that has not started yet (each at most the cloud's 64 KiB message) */
const MAX_EARLY_INPUTS = 64;

export interface PodStreamsDeps {
  nodeName: string;
  /** the worker of `<namespace>/<name>`, when this node runs that pod */
  worker(namespace: string, name: string): PodWorker | undefined;
  /** sends one part of the answer to `msg` (a lost link drops it: the cloud ends the request itself) */
  reply(msg: Message, part: ReplyPart): void;
}

/** the log readers and exec sessions running, by the msg_id of the request that started each */
interface Streams {
  deps: PodStreamsDeps;
  logs: Map<string, AbortController>;
  sessions: Map<string, ExecSession>;
}

export interface PodStreams {
  serveLog(msg: Message): void;
  serveExec(msg: Message, attach: boolean): void;
  /** more for a running exec: input, its end, a terminal's new size */
  input(msg: Message): void;
  /** the cloud cancelled the request `id` */
  cancel(id: string): void;
  /** stops everything (the link went, or edged stops) */
  closeAll(): void;
}

export function createPodStreams(deps: PodStreamsDeps): PodStreams {
  const s: Streams = { deps, logs: new Map(), sessions: new Map() };
  return {
    serveLog: (msg) => serveLog(s, msg),
    serveExec: (msg, attach) => (attach ? serveAttach(s, msg) : serveExec(s, msg)),
    input: (msg) => execInput(s, msg),
    cancel(id) {
      s.logs.get(id)?.abort();
      s.sessions.get(id)?.kill();
    },
    closeAll() {
      for (const a of s.logs.values()) a.abort(); // nobody reads them any more
      s.logs.clear();
      for (const session of s.sessions.values()) session.kill();
      s.sessions.clear();
    },
  };
}

/** a request's pod, or the answer that refuses it */
function podOf(s: Streams, msg: Message, what: 'podlog' | 'podexec' | 'podattach', malformed: string): { worker: PodWorker; pod: string } | ReplyPart {
  const m = new RegExp(`^([^/]+)/${what}/([^/]+)$`).exec(msg.route.resource);
  if (!m) return { error: malformed, code: 400 };
  const worker = s.deps.worker(m[1] as string, m[2] as string);
  if (!worker) return { error: `pods "${m[2] as string}" not found on node ${s.deps.nodeName}`, code: 404 };
  return { worker, pod: m[2] as string };
}

function serveLog(s: Streams, msg: Message): void {
  const reply = (part: ReplyPart): void => s.deps.reply(msg, part);
  const req = msg.content as { container?: unknown; tailLines?: unknown; follow?: unknown; limitBytes?: unknown; previous?: unknown };
  const malformed = 'a log request names <namespace>/podlog/<pod> and a container';
  if (!isObj(req) || typeof req.container !== 'string') return reply({ error: malformed, code: 400 });
  const found = podOf(s, msg, 'podlog', malformed);
  if (!('worker' in found)) return reply(found);
  const previous = req.previous === true;
  const cur = previous ? found.worker.previous(req.container) : found.worker.current(req.container);
  if (!cur && previous) return reply({ error: `previous terminated container "${req.container}" in pod "${found.pod}" not found`, code: 400 });
  if (!cur) return reply({ error: `container "${req.container}" in pod "${found.pod}" is waiting to start: ContainerCreating`, code: 400 });
  if (s.logs.size >= MAX_STREAMS) return reply({ error: `node ${s.deps.nodeName} already streams ${MAX_STREAMS} logs`, code: 429 });
  const abort = new AbortController();
  s.logs.set(msg.header.msg_id, abort);
  const out = batchedText(reply);
  const opts = {
    // an ended container's log has an end: nothing to follow
    follow: req.follow === true && !previous,
    ...(typeof req.tailLines === 'number' ? { tailLines: req.tailLines } : {}),
    ...(typeof req.limitBytes === 'number' ? { limitBytes: req.limitBytes } : {}),
  };
  cur.runtime
    .logs(cur.container, opts, out.write, abort.signal)
    .then(
      () => {
        out.flush();
        if (!abort.signal.aborted) reply({ end: true });
      },
      (err: unknown) => reply({ error: `cannot read the log: ${errorText(err)}`, code: 500 }),
    )
    .finally(() => s.logs.delete(msg.header.msg_id));
}

/** log text gathered into parts of at most PART_BYTES, sent when full or FLUSH_MS after the first byte */
function batchedText(reply: (part: ReplyPart) => void): { write(chunk: string): void; flush(): void } {
  let buffered = '';
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    while (buffered.length > 0) {
      reply({ data: buffered.slice(0, PART_BYTES) });
      buffered = buffered.slice(PART_BYTES);
    }
  };
  const write = (chunk: string): void => {
    buffered += chunk;
    if (buffered.length >= PART_BYTES) flush();
    else timer ??= setTimeout(flush, FLUSH_MS);
  };
  return { write, flush };
}

/** the running container an exec or attach request names, or the answer that refuses it */
function runningContainer(s: Streams, msg: Message, attach: boolean): { cur: Observed; container: string; command: string[] } | ReplyPart {
  const req = msg.content as { container?: unknown; command?: unknown };
  const command = Array.isArray(req?.command) && req.command.every((a) => typeof a === 'string') ? (req.command as string[]) : [];
  const malformed = 'an exec request names <namespace>/podexec/<pod>, a container and a command';
  if (!isObj(req) || typeof req.container !== 'string' || (!attach && command.length === 0)) return { error: malformed, code: 400 };
  const found = podOf(s, msg, attach ? 'podattach' : 'podexec', malformed);
  if (!('worker' in found)) return found;
  const cur = found.worker.current(req.container);
  if (!cur || cur.container.state !== 'running') return { error: `container ${req.container} is not running in pod ${found.pod}`, code: 400 };
  if (s.sessions.size + s.logs.size >= MAX_STREAMS) return { error: `node ${s.deps.nodeName} already streams ${MAX_STREAMS} logs and execs`, code: 429 };
  return { cur, container: req.container, command };
}

/**
 * A session's output, as reply parts (base64, with its stream: 1 stdout, 2 stderr) gathered for
 * EXEC_FLUSH_MS; `exit` ends the session with its exit code (or the error that ended it).
 */
function sessionOutput(s: Streams, msg: Message): { output(stream: 1 | 2, data: Buffer): void; exit(code: number | Error): void } {
  const id = msg.header.msg_id;
  const out: { stream: 1 | 2; data: Buffer }[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    timer = undefined;
    for (const o of out.splice(0)) {
      for (let i = 0; i < o.data.length; i += PART_BYTES) s.deps.reply(msg, { stream: o.stream, body: o.data.subarray(i, i + PART_BYTES).toString('base64') });
    }
  };
  return {
    output(stream, data) {
      const last = out.at(-1);
      if (last?.stream === stream) last.data = Buffer.concat([last.data, data]);
      else out.push({ stream, data });
      timer ??= setTimeout(flush, EXEC_FLUSH_MS);
    },
    exit(code) {
      if (!s.sessions.delete(id)) return;
      if (timer) clearTimeout(timer);
      flush();
      s.deps.reply(msg, code instanceof Error ? { error: code.message, code: 500 } : { end: true, exitCode: code });
    },
  };
}

/** kubectl attach: what the container writes from now on (its input is not kept open by either runtime) */
function serveAttach(s: Streams, msg: Message): void {
  const found = runningContainer(s, msg, true);
  if (!('cur' in found)) return s.deps.reply(msg, found);
  const { output, exit } = sessionOutput(s, msg);
  const abort = new AbortController();
  s.sessions.set(msg.header.msg_id, { write: () => undefined, end: () => undefined, resize: () => undefined, kill: () => abort.abort() });
  s.deps.reply(msg, { status: 200 });
  found.cur.runtime.logs(found.cur.container, { follow: true, tailLines: 0 }, (chunk) => output(1, Buffer.from(chunk)), abort.signal).then(
    () => exit(0),
    (err: unknown) => exit(new Error(`cannot attach: ${errorText(err)}`)),
  );
}

/** kubectl exec: input and a terminal's size come as `input` messages; the end carries the exit code */
function serveExec(s: Streams, msg: Message): void {
  const found = runningContainer(s, msg, false);
  if (!('cur' in found)) return s.deps.reply(msg, found);
  const id = msg.header.msg_id;
  const req = msg.content as { stdin?: unknown; tty?: unknown };
  const { output, exit } = sessionOutput(s, msg);
  // what comes while the command starts is kept for it
  const early: ((session: ExecSession) => void)[] = [];
  let killed = false;
  const later = (f: (session: ExecSession) => void): void => {
    if (early.length < MAX_EARLY_INPUTS) early.push(f);
  };
  const pending: ExecSession = {
    write: (d) => later((session) => session.write(d)),
    end: () => later((session) => session.end()),
    resize: (w, h) => later((session) => session.resize(w, h)),
    kill: () => void (killed = true),
  };
  s.sessions.set(id, pending);
  found.cur.runtime.interactive(found.cur.container, { command: found.command, stdin: req.stdin === true, tty: req.tty === true }, { output, exit }).then(
    (session) => {
      if (killed || s.sessions.get(id) !== pending) return session.kill(); // cancelled while it started
      s.sessions.set(id, session);
      for (const f of early.splice(0)) f(session);
      s.deps.reply(msg, { status: 200 }); // started: the cloud stops waiting for a first answer (a quiet command may say nothing for long)
    },
    (err: unknown) => exit(new Error(`cannot exec in ${found.container}: ${errorText(err)}`)),
  );
}

function execInput(s: Streams, msg: Message): void {
  const c = msg.content as { id?: unknown; data?: unknown; close?: unknown; resize?: { width?: unknown; height?: unknown } } | null;
  const session = typeof c?.id === 'string' ? s.sessions.get(c.id) : undefined;
  if (!session || !c) return;
  if (typeof c.data === 'string') session.write(Buffer.from(c.data, 'base64'));
  if (c.close === true) session.end();
  const { width, height } = isObj(c.resize) ? c.resize : {};
  if (typeof width === 'number' && typeof height === 'number') session.resize(width, height);
}
