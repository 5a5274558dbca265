import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openJournal } from '../../../core/journal.js';
import { createLogger } from '../../../core/log.js';
import { newMessage } from '../../../core/message.js';
import { Outbox } from '../../../runtime/metamanager/outbox.js';

const log = createLogger({ sink: { write: () => undefined } });
const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const upload = (n: number) => newMessage({ source: 'metamanager', group: 'user', operation: 'upload', resource: '$hw/events/upload/m' }, String(n));
const report = (device: string) => newMessage({ source: 'metamanager', group: 'twin', operation: 'update', resource: `default/device/${device}` }, { twins: {} });

async function reopened(path: string, limit = 100): Promise<Outbox> {
  return new Outbox(await openJournal(path, log), 'store', limit, log);
}

describe('the outbox', () => {
  it('numbers messages on from where it was after every message was acknowledged and the edge restarted (the cloud takes each number once)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ke-outbox-'));
    dirs.push(dir);
    const path = join(dir, 'edgecore.db.outbox');
    const j = await openJournal(path, log);
    const box = new Outbox(j, 'store', 100, log);
    for (let n = 1; n <= 5; n++) box.add('m', upload(n));
    await box.commit();
    for (const { seq } of box.next(0, 10)) box.remove(seq);
    await j.close();
    const again = await reopened(path);
    expect(again.stats().queued).toBe(0);
    expect(again.add('m', upload(6))).toBe(6);
  });

  it('numbers on past the newest message when it was acknowledged before older ones (the urgent lane first) and the edge restarted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ke-outbox-'));
    dirs.push(dir);
    const path = join(dir, 'edgecore.db.outbox');
    const j = await openJournal(path, log);
    const box = new Outbox(j, 'store', 100, log);
    for (let n = 1; n <= 3; n++) box.add('$hw/events/upload/m', upload(n));
    box.add('default/device/a', report('a')); // 4, sent first
    await box.commit();
    box.remove(4);
    box.remove(1);
    await j.close();
    const again = await reopened(path);
    expect(again.next(0, 10).map((e) => e.seq)).toEqual([2, 3]);
    expect(again.add('m', upload(5))).toBe(5);
  });

  it('sends in order from after what is in flight, across collapsed and dropped messages', async () => {
    const box = new Outbox(await openJournal(':memory:', log), 'store', 4, log);
    for (let n = 1; n <= 4; n++) box.add(`k${n}`, upload(n));
    box.add('k2', upload(5)); // full: k2's message is replaced
    box.add('k9', upload(6)); // full, no k9: the oldest (k1) goes
    expect(box.next(0, 10).map((e) => e.seq)).toEqual([3, 4, 5, 6]);
    expect(box.next(3, 2).map((e) => [e.seq, e.msg.header.resourceversion])).toEqual([[4, 'store/4'], [5, 'store/5']]);
    for (let n = 0; n < 1000; n++) box.add('k2', upload(n)); // a long run of collapses leaves the numbers sparse
    expect(box.next(0, 10).map((e) => e.seq)).toEqual([3, 4, 6, 1006]);
    expect(box.stats()).toMatchObject({ queued: 4, dropped: 1, collapsed: 1001 });
  });

  it('keeps twin reports and status in a lane of their own, each lane in order, both numbered from one sequence', async () => {
    const box = new Outbox(await openJournal(':memory:', log), 'store', 100, log);
    for (let n = 1; n <= 5; n++) box.add('$hw/events/upload/m', upload(n));
    box.add('default/device/a', report('a')); // 6
    box.add('$hw/events/upload/m', upload(7));
    box.add('default/device/b', report('b')); // 8
    expect(box.next(0, 10, 'urgent').map((e) => e.seq)).toEqual([6, 8]);
    expect(box.next(0, 10, 'bulk').map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 7]);
    expect(box.next(2, 2, 'bulk', 4).map((e) => e.seq)).toEqual([3, 4]);
    expect(box.next(0, 10, 'bulk', 4).map((e) => e.seq)).toEqual([1, 2, 3, 4]); // not past what is on disk
    expect(box.next(0, 100).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    box.remove(6);
    expect(box.next(0, 10, 'urgent').map((e) => e.msg.header.resourceversion)).toEqual(['store/8']);
  });
});
