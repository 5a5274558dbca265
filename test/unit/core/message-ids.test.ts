import { describe, expect, it } from 'vitest';
import { idSequence } from '../../../core/message.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('message ids of the outbox', () => {
  it('are UUID-shaped (KubeEdge reads msg_id as one), distinct within a process and between two', () => {
    const a = idSequence();
    const b = idSequence();
    const ids = [...Array.from({ length: 5000 }, a), ...Array.from({ length: 5000 }, b)];
    for (const id of ids) expect(id).toMatch(UUID);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
