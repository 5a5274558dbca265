import { describe, expect, it } from 'vitest';
import { createLogger, redact, throttled } from '../../../core/log.js';
import { makeJoinToken } from '../../../core/pki/tokens.js';
import { newRsaKeyPem } from '../../../core/pki/pki.js';

describe('logs never carry a secret', () => {
  it('masks join tokens, bare JWTs, bearer tokens and private keys, one line per event', () => {
    const token = makeJoinToken(Buffer.alloc(32, 1), Buffer.from('ca'), Date.now());
    const jwt = token.slice(65);
    const key = newRsaKeyPem(1024);
    const lines: string[] = [];
    const log = createLogger({ sink: { write: (_l, line) => lines.push(line) } });
    log.warn(`join failed with token ${token}`);
    log.info(`jwt ${jwt} and Authorization: Bearer abc.def-123`);
    log.error(`bad key\n${key}`);
    const all = lines.join('\n');
    expect(lines).toHaveLength(3);
    expect(all).not.toContain(jwt.split('.')[2]);
    expect(all).not.toContain('abc.def-123');
    expect(all).not.toMatch(/BEGIN RSA PRIVATE KEY|MII/);
    expect(redact('Bearer secret-value')).toBe('Bearer ***');
  });

  it('logs what a peer can repeat without end only in bursts, and says how much it held back', () => {
    const out: string[] = [];
    let now = 0;
    const warn = throttled((m) => out.push(m), 3, 60_000, () => now);
    for (let i = 0; i < 1000; i++) warn(`refused frame ${i}`);
    expect(out).toEqual(['refused frame 0', 'refused frame 1', 'refused frame 2']);
    now = 61_000;
    warn('refused frame 1000');
    expect(out.slice(3)).toEqual(['(997 more like the lines before were not logged in the last 61 s)', 'refused frame 1000']);
  });
});
