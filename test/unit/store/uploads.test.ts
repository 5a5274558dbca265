import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openJournal } from '../../../core/journal.js';
import { createLogger } from '../../../core/log.js';
import { ObjectStore } from '../../../cloud-stub/store/objects.js';

const log = createLogger({ sink: { write: () => undefined } });
const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

async function storeAt(path: string): Promise<ObjectStore> {
  return new ObjectStore(await openJournal(path, log));
}

describe("the cloud's record of an edge's uploads", () => {
  it('takes each upload once, and one whose taking failed while a later one was taken is still taken when it comes again, after a restart too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ke-uploads-'));
    dirs.push(dir);
    const path = join(dir, 'cloudcore.db');
    const store = await storeAt(path);
    const taken: string[] = [];
    const take = (s: ObjectStore, v: string, fail = false) =>
      s.takeUpload('edge-1', v, async () => {
        if (fail) throw new Error('router queue unwritable');
        taken.push(v);
      });
    expect(await take(store, 'st/1')).toBe(true);
    // 2 and 3 are taken at once; 2's taking fails, 3's succeeds and moves the mark past 2
    const [two, three] = await Promise.allSettled([take(store, 'st/2', true), take(store, 'st/3')]);
    expect(two.status).toBe('rejected');
    expect(three).toEqual({ status: 'fulfilled', value: true });
    expect(await take(store, 'st/3')).toBe(false); // a resend of what was taken
    expect(await take(store, 'st/1')).toBe(false);

    // cloudcore restarts: the place kept open for 2 is on disk with the mark
    const again = await storeAt(path);
    expect(await take(again, 'st/3')).toBe(false);
    expect(await take(again, 'st/2')).toBe(true);
    expect(await take(again, 'st/2')).toBe(false); // and once only
    expect(await take(again, 'st/4')).toBe(true);
    // another store of the same node (the edge started afresh) numbers from 1 again
    expect(await take(again, 'other/1')).toBe(true);
    expect(taken).toEqual(['st/1', 'st/3', 'st/2', 'st/4', 'other/1']);
  });
});
