import { describe, expect, it } from 'vitest';
import { Delivery } from '../../../cloud-stub/cloudhub/delivery.js';
import { newMessage, type Message } from '../../../core/message.js';
import type { Clock } from '../../../core/clock.js';

function setup(window = 2, limit = 100) {
  let t = 0;
  const clock: Clock = { now: () => t, setTimeout: () => 0 as never, setInterval: () => 0 as never, clear: () => undefined };
  const sent: Message[][] = [];
  const acked: Message[] = [];
  const overflow: Message[] = [];
  const d = new Delivery({ window, limit, firstResendMs: 1000, maxResendMs: 4000, clock }, { sendBatch: (b) => (sent.push(b), true), acked: (m) => acked.push(m), overflow: (m) => overflow.push(m) });
  return { d, sent, acked, overflow, advance: (ms: number) => (t += ms) };
}
const obj = (name: string, rv: number): Message => newMessage({ source: 's', group: 'resource', operation: 'update', resource: `default/device/${name}` }, { rv }, { resourceVersion: String(rv) });

describe('per-node delivery', () => {
  it('keeps only the newest version of an object and ignores an ack for a replaced one', () => {
    const { d, sent, acked } = setup();
    const v1 = obj('a', 1);
    d.enqueue(v1);
    d.pump();
    const v2 = obj('a', 2);
    d.enqueue(v2);
    d.enqueue(obj('a', 1)); // older: ignored
    expect(d.size).toBe(1);
    expect(d.ack(v1.header.msg_id)).toBe(false);
    d.pump();
    expect(sent.flat().map((m) => m.header.resourceversion)).toEqual(['1', '2']);
    expect(d.ack(v2.header.msg_id)).toBe(true);
    expect(acked).toEqual([v2]);
    expect(d.size).toBe(0);
  });

  it('keeps at most `window` in flight and resends with a doubling delay', () => {
    const { d, sent, advance } = setup(2);
    const [a, b, c] = [obj('a', 1), obj('b', 2), obj('c', 3)];
    d.enqueue(a);
    d.enqueue(b);
    d.enqueue(c);
    d.pump();
    expect(sent.flat()).toEqual([a, b]);
    d.ack(a.header.msg_id);
    d.pump();
    expect(sent.flat()).toEqual([a, b, c]);
    advance(999);
    d.pump({ resend: true });
    expect(sent.flat()).toHaveLength(3);
    advance(1);
    d.pump(); // resends wait for the timer's pump
    expect(sent.flat()).toHaveLength(3);
    d.pump({ resend: true });
    expect(sent.flat().slice(3)).toEqual([b, c]);
    advance(1500);
    d.pump({ resend: true }); // the next resend waits 2000 ms
    expect(sent.flat()).toHaveLength(5);
    advance(500);
    d.pump({ resend: true });
    expect(sent.flat()).toHaveLength(7);
  });

  it('once all is acknowledged it keeps nothing, and starts again with the next object', () => {
    const { d, sent, acked, advance } = setup(2);
    const [a, b] = [obj('a', 1), obj('b', 2)];
    d.enqueue(a);
    d.enqueue(b);
    d.pump();
    d.ack(a.header.msg_id);
    d.ack(b.header.msg_id);
    expect(d.size).toBe(0);
    advance(60_000);
    d.pump({ resend: true }); // nothing left to send again
    expect(sent.flat()).toEqual([a, b]);
    expect(d.ack(a.header.msg_id)).toBe(false); // a late second ack
    const c = obj('a', 3);
    d.enqueue(c);
    d.pump();
    expect(sent.flat()).toEqual([a, b, c]);
    expect(d.ack(c.header.msg_id)).toBe(true);
    expect(acked).toEqual([a, b, c]);
  });

  it('refuses beyond its limit and says so', () => {
    const { d, overflow } = setup(2, 2);
    d.enqueue(obj('a', 1));
    d.enqueue(obj('b', 1));
    d.enqueue(obj('c', 1));
    expect(overflow.map((m) => m.route.resource)).toEqual(['default/device/c']);
  });
});
