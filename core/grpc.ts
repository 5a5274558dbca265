/**
 * Unary gRPC over HTTP/2 on a unix socket, with Node's own http2: what KubeEdge's DMI needs (a
 * request, an answer, a status), without @grpc/grpc-js (413 KiB minified, and its own
 * timers and channel state per target). The wire is gRPC's: POST /<package>.<Service>/<Method>,
 * `application/grpc`, each message behind a 5-byte prefix (compressed flag, u32 length), the
 * outcome in the `grpc-status` and `grpc-message` trailers. No compression, no streaming calls.
 */
import type * as Http2 from 'node:http2';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import { chmodSync, existsSync, lstatSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';

const nodeRequire = createRequire(import.meta.url);
/**
 * Node's http2, loaded at the first connection: an edge with no mapper never loads it (measured on
 * a bare node: +5.8 MiB RSS, 2.7 MiB of it anonymous, for the module alone).
 */
const http2 = (): typeof Http2 => nodeRequire('node:http2') as typeof Http2;

/** gRPC status codes used here */
export const Status = { ok: 0, cancelled: 1, unknown: 2, invalidArgument: 3, deadlineExceeded: 4, notFound: 5, resourceExhausted: 8, unimplemented: 12, internal: 13, unavailable: 14 } as const;

/** the largest message either side takes (gRPC's default is 4 MiB) */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

export class GrpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export type UnaryHandler = (request: Buffer) => Promise<Buffer>;

function frame(msg: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(msg.length, 1);
  return Buffer.concat([head, msg]);
}

/** the one message of a unary call's body */
function unframe(body: Buffer): Buffer {
  if (body.length < 5) throw new GrpcError(Status.internal, `a gRPC message needs a 5-byte prefix; got ${body.length} bytes`);
  if (body[0] !== 0) throw new GrpcError(Status.unimplemented, 'compressed gRPC messages are not taken');
  const len = body.readUInt32BE(1);
  if (body.length !== 5 + len) throw new GrpcError(Status.internal, `the gRPC message says ${len} bytes; the body holds ${body.length - 5}`);
  return body.subarray(5);
}

/** collects a stream's body, refusing one larger than a message may be */
function collect(stream: Http2.Http2Stream, done: (err: GrpcError | undefined, body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  stream.on('data', (c: Buffer) => {
    size += c.length;
    if (size > MAX_MESSAGE_BYTES + 5) over = true;
    else chunks.push(c);
  });
  stream.on('end', () => done(over ? new GrpcError(Status.resourceExhausted, `message larger than ${MAX_MESSAGE_BYTES} bytes`) : undefined, Buffer.concat(chunks)));
}

const grpcMessage = (m: string): string => encodeURIComponent(m.slice(0, 1000));

function answerError(stream: Http2.ServerHttp2Stream, err: unknown): void {
  if (stream.destroyed || stream.closed) return;
  const e = err instanceof GrpcError ? err : new GrpcError(Status.internal, err instanceof Error ? err.message : String(err));
  if (stream.headersSent) return void stream.close(http2().constants.NGHTTP2_INTERNAL_ERROR);
  stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(e.code), 'grpc-message': grpcMessage(e.message) }, { endStream: true });
}

function serveStream(stream: Http2.ServerHttp2Stream, headers: Http2.IncomingHttpHeaders, handlers: ReadonlyMap<string, UnaryHandler>): void {
  stream.on('error', () => undefined); // a client that goes away mid-call: nothing to answer
  const handler = handlers.get(String(headers[':path']));
  if (headers[':method'] !== 'POST' || !String(headers['content-type'] ?? '').startsWith('application/grpc')) {
    stream.respond({ ':status': 415 }, { endStream: true });
    return;
  }
  if (!handler) return answerError(stream, new GrpcError(Status.unimplemented, `no method ${String(headers[':path'])}`));
  collect(stream, (err, body) => {
    if (err) return answerError(stream, err);
    let request: Buffer;
    try {
      request = unframe(body);
    } catch (e) {
      return answerError(stream, e);
    }
    handler(request).then(
      (reply) => {
        if (stream.destroyed || stream.closed) return;
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(frame(reply));
      },
      (e: unknown) => answerError(stream, e),
    );
  });
}

/** does something accept connections on the unix socket `path`? */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(path);
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

export interface GrpcServer {
  close(): Promise<void>;
}

/**
 * Serves `handlers` (by path, `/<package>.<Service>/<Method>`) on the unix socket `path`, made
 * readable and writable by its owner only. A socket file left by a process that died is replaced;
 * one another process serves on is not.
 */
export async function serveUnix(path: string, handlers: ReadonlyMap<string, UnaryHandler>): Promise<GrpcServer> {
  mkdirSync(dirname(path), { recursive: true });
  if (existsSync(path)) {
    if (!lstatSync(path).isSocket()) throw new Error(`${path} exists and is not a socket`);
    if (await answers(path)) throw new Error(`another process serves on ${path}`);
    rmSync(path); // left by a process that died
  }
  // a plain socket server: the HTTP/2 one is made when the first mapper connects, and handed each socket
  let h2: Http2.Http2Server | undefined;
  const sessions = new Set<Http2.ServerHttp2Session>();
  const http2Server = (): Http2.Http2Server => {
    const server = http2().createServer({ maxSessionMemory: 1 });
    server.on('stream', (stream, headers) => serveStream(stream, headers, handlers));
    server.on('sessionError', () => undefined);
    server.on('session', (session) => {
      sessions.add(session);
      session.on('close', () => sessions.delete(session));
    });
    return server;
  };
  const server = net.createServer((socket) => void (h2 ??= http2Server()).emit('connection', socket));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // the socket is made with the umask's mode (connecting needs write permission: 0755 lets only
    // its owner in), then owner-only
    server.listen(path, () => {
      server.off('error', reject);
      chmodSync(path, 0o600);
      resolve({
        close: () =>
          new Promise((done) => {
            server.close(() => done());
            for (const session of sessions) session.destroy(); // clients keep their sessions open
          }),
      });
    });
  });
}

/**
 * A client of one unix socket: one HTTP/2 session, opened on the first call and again after it is
 * lost. Each call has a deadline; one that passes cancels the call.
 */
export class UnixClient {
  private session: Http2.ClientHttp2Session | undefined;

  constructor(readonly path: string) {}

  private connect(): Http2.ClientHttp2Session {
    const live = this.session;
    if (live && !live.closed && !live.destroyed) return live;
    const s = http2().connect('http://localhost', { createConnection: () => net.connect(this.path) });
    s.on('error', () => undefined); // each call sees its own error
    s.on('close', () => {
      if (this.session === s) this.session = undefined;
    });
    s.unref();
    this.session = s;
    return s;
  }

  call(method: string, request: Buffer, timeoutMs: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      let req: Http2.ClientHttp2Stream;
      try {
        req = this.connect().request({ ':method': 'POST', ':path': method, 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': `${timeoutMs}m` });
      } catch (err) {
        return reject(new GrpcError(Status.unavailable, err instanceof Error ? err.message : String(err)));
      }
      let status: string | undefined;
      let message = '';
      const note = (h: Http2.IncomingHttpHeaders): void => {
        if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
        if (h['grpc-message'] !== undefined) message = decodeURIComponent(String(h['grpc-message']));
      };
      const timer = setTimeout(() => {
        req.close(http2().constants.NGHTTP2_CANCEL);
        reject(new GrpcError(Status.deadlineExceeded, `no answer to ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      req.on('response', note);
      req.on('trailers', note);
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(new GrpcError(Status.unavailable, `${this.path}: ${err.message}`));
      });
      collect(req, (err, body) => {
        clearTimeout(timer);
        if (err) return reject(err);
        if (status === undefined) return reject(new GrpcError(Status.internal, `${method} ended without a grpc-status`));
        if (status !== '0') return reject(new GrpcError(Number(status), message || `status ${status}`));
        try {
          resolve(unframe(body));
        } catch (e) {
          reject(e);
        }
      });
      req.end(frame(request));
    });
  }

  /** true when the other end answers an HTTP/2 ping within `timeoutMs` */
  ping(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const s = this.connect();
      const timer = setTimeout(() => answer(false), timeoutMs);
      const fail = (): void => answer(false);
      const answer = (ok: boolean): void => {
        clearTimeout(timer);
        s.off('error', fail).off('close', fail).off('connect', send);
        resolve(ok);
      };
      const send = (): void => {
        if (!s.ping((err) => answer(!err))) answer(false);
      };
      s.once('error', fail).once('close', fail);
      if (s.connecting) s.once('connect', send);
      else send();
    });
  }

  close(): void {
    this.session?.close();
    this.session = undefined;
  }
}
