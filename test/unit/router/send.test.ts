import { describe, expect, it } from 'vitest';
import { afterPost, contentTypeOf, nextSend, type RuleNow, type SendStep } from '../../../cloud-stub/router/send.js';

const rest: RuleNow = { targetIsRest: true };

describe("which rule queue sends next, and when", () => {
  it.each<[string, { busy: boolean; waiting: boolean }, boolean, RuleNow | undefined, SendStep]>([
    ['a queue with a message, its rule ready: POST the oldest', { busy: false, waiting: false }, true, rest, { step: 'post' }],
    ['one POST at a time: nothing while one is on its way', { busy: true, waiting: false }, true, rest, { step: 'idle' }],
    ['nothing during a back-off', { busy: false, waiting: true }, true, rest, { step: 'idle' }],
    ['nothing to send: nothing', { busy: false, waiting: false }, false, rest, { step: 'idle' }],
    ['the rule was deleted: its queue goes', { busy: false, waiting: false }, true, undefined, { step: 'drop' }],
    ['the rule has a problem (an endpoint missing): look again in 5 s', { busy: false, waiting: false }, true, { problem: 'ruleendpoint "x" not found', targetIsRest: true }, { step: 'retry', inMs: 5000 }],
    ['the target is not rest any more: look again in 5 s', { busy: false, waiting: false }, true, { targetIsRest: false }, { step: 'retry', inMs: 5000 }],
  ])('%s', (_, worker, hasMessage, rule, want) => {
    expect(nextSend(worker, hasMessage, () => rule)).toEqual(want);
  });

  it('looks the rule up only when there is something to send', () => {
    let looked = 0;
    nextSend({ busy: true, waiting: false }, true, () => (looked++, rest));
    nextSend({ busy: false, waiting: false }, false, () => (looked++, rest));
    expect(looked).toBe(0);
  });

  it('backs off 1 s doubling to 60 s while the target fails, says so once per run, and sends the next at once after a success', () => {
    const waits: number[] = [];
    const said: boolean[] = [];
    let backoff = 0;
    for (let i = 0; i < 9; i++) {
      const next = afterPost(backoff, false);
      waits.push(next.nextInMs);
      said.push(next.firstFailure);
      backoff = next.backoffMs;
    }
    expect(waits).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
    expect(said).toEqual([true, false, false, false, false, false, false, false, false]);
    expect(afterPost(backoff, true)).toEqual({ backoffMs: 0, nextInMs: 0, firstFailure: false });
    expect(afterPost(0, false).firstFailure).toBe(true);
  });

  it.each([
    ['{"t": 21.5}', 'application/json'],
    ['42', 'application/json'],
    ['21.5 C', 'application/octet-stream'],
    ['', 'application/octet-stream'],
  ])('POSTs %j as %s', (payload, type) => {
    expect(contentTypeOf(Buffer.from(payload))).toBe(type);
  });
});
