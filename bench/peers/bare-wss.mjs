// The memory peer: the least a Node process can do to hold mutual-TLS WebSocket sessions
// (https + ws, client certificates required, every frame read and dropped). Prints its port, and
// on SIGUSR2 a GC'd memory line in the same format as cloudcore's. With a 4th argument `no-tickets`,
// it sends no TLS 1.3 session tickets, as CloudHub does (Node sends two by default).
import { constants } from 'node:crypto';
import { createServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { WebSocketServer } from 'ws';

const [ca, cert, key] = process.argv.slice(2, 5).map((f) => readFileSync(f));
const noTickets = process.argv[5] === 'no-tickets' ? { secureOptions: constants.SSL_OP_NO_TICKET } : {};
const server = createServer({ ca, cert, key, requestCert: true, rejectUnauthorized: true, ...noTickets });
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', () => undefined)));
server.listen(0, '127.0.0.1', () => console.log(`listening on port ${server.address().port}`));
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  const m = process.memoryUsage();
  console.log(`memory rssKiB=${Math.round(m.rss / 1024)} heapUsedKiB=${Math.round(m.heapUsed / 1024)}`);
});
