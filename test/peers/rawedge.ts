/** A hand-driven edge connection, for sending what a well-behaved edgecore never would. */
import WebSocket from 'ws';
import { cborCodec, jsonCodec } from '../../core/codec.js';
import { newMessage, type Message } from '../../core/message.js';

export interface RawEdge {
  ws: WebSocket;
  frames: { data: Buffer; binary: boolean }[];
  sendRaw(data: Buffer | string, binary?: boolean): void;
  keepalive(json?: boolean): void;
  closed: Promise<{ code: number; reason: string }>;
}

export function openRawEdge(opts: { port: number; node: string; ca: string; cert?: string; key?: string; pathNode?: string }): Promise<RawEdge> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`wss://127.0.0.1:${opts.port}/e632aba927ea4ac2b575ec1603d56f10/${opts.pathNode ?? opts.node}/events`, {
      ca: opts.ca,
      cert: opts.cert,
      key: opts.key,
      headers: { node_id: opts.pathNode ?? opts.node, project_id: 'e632aba927ea4ac2b575ec1603d56f10' },
      maxPayload: 64 * 1024 * 1024,
    });
    const frames: RawEdge['frames'] = [];
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
    ws.on('message', (data, binary) => frames.push({ data: data as Buffer, binary }));
    ws.on('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.on('error', reject);
    ws.on('open', () =>
      resolve({
        ws,
        frames,
        closed,
        sendRaw: (data, binary = true) => ws.send(data, { binary }),
        keepalive(json = false) {
          const msg: Message = newMessage({ source: 'edgehub', group: 'resource', operation: 'keepalive', resource: 'node' }, 'ping');
          ws.send((json ? jsonCodec : cborCodec).encode(msg), { binary: !json });
        },
      }),
    );
  });
}
