import { describe, expect, it } from 'vitest';
import { createBus } from '../../../core/bus.js';
import { createLogger } from '../../../core/log.js';
import { newMessage, responseTo, type Message } from '../../../core/message.js';

const log = createLogger({ level: 'error', sink: { write: () => undefined } });
const m = (op = 'query'): Message => newMessage({ source: 't', group: 'g', operation: op, resource: 'r' }, null);

describe('bus', () => {
  it('delivers in order, one at a time, and contains a failing handler', async () => {
    const bus = createBus(log);
    const seen: string[] = [];
    bus.register('a', 'g', async (msg) => {
      await new Promise((r) => setTimeout(r, 1));
      if (msg.route.operation === 'boom') throw new Error('boom');
      seen.push(msg.route.operation);
    });
    bus.send('a', m('1'));
    bus.send('a', m('boom'));
    bus.send('a', m('2'));
    await new Promise((r) => setTimeout(r, 30));
    expect(seen).toEqual(['1', '2']);
  });

  it('sendSync resolves with the reply matched by parent_msg_id, or times out', async () => {
    const bus = createBus(log);
    bus.register('echo', 'g', (msg) => bus.sendResp(responseTo(msg, 'echo', 'pong')));
    const reply = await bus.sendSync('echo', m(), 1000);
    expect(reply.content).toBe('pong');
    bus.register('silent', 'g', () => undefined);
    await expect(bus.sendSync('silent', m(), 20)).rejects.toMatchObject({ code: 'timeout' });
  });

  it('request calls back once: with the reply, with a timeout, or with why it could not be sent', async () => {
    const bus = createBus(log);
    bus.register('echo', 'g', (msg) => bus.sendResp(responseTo(msg, 'echo', 'pong')));
    bus.register('silent', 'g', () => undefined);
    const calls = (module: string, timeoutMs: number): Promise<{ err?: string; reply?: unknown }[]> =>
      new Promise((resolve) => {
        const seen: { err?: string; reply?: unknown }[] = [];
        bus.request(module, m(), timeoutMs, (err, reply) => seen.push({ err: (err as { code?: string } | undefined)?.code, reply: reply?.content }));
        setTimeout(() => resolve(seen), timeoutMs + 50); // anything after the first call would show here
      });
    expect(await calls('echo', 20)).toEqual([{ err: undefined, reply: 'pong' }]);
    expect(await calls('silent', 20)).toEqual([{ err: 'timeout', reply: undefined }]);
    expect(await calls('nobody', 20)).toEqual([{ err: 'no_route', reply: undefined }]);
  });

  it('bounds every inbox and refuses unknown routes', () => {
    const bus = createBus(log);
    bus.register('slow', 'g', () => new Promise(() => undefined), { queueLimit: 2 });
    bus.send('slow', m()); // taken by the handler
    bus.send('slow', m());
    bus.send('slow', m());
    expect(() => bus.send('slow', m())).toThrow(expect.objectContaining({ code: 'queue_full' }));
    expect(() => bus.send('nobody', m())).toThrow(expect.objectContaining({ code: 'no_route' }));
    expect(() => bus.sendToGroup('nogroup', m())).toThrow(expect.objectContaining({ code: 'no_route' }));
  });
});
