import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openJournal } from '../../../core/journal.js';
import { createLogger } from '../../../core/log.js';

const lines: string[] = [];
const log = createLogger({ sink: { write: (_l, line) => lines.push(line) } });
const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'ke-journal-'));
  dirs.push(d);
  return d;
};
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('cloud journal', () => {
  it('replays committed changes after a reopen and drops a torn last record', async () => {
    const path = join(tmp(), 'cloud.db');
    const j = await openJournal(path, log);
    j.set('objects', 'a', { n: 1 });
    j.set('objects', 'b', { n: 2 });
    j.delete('objects', 'a');
    await j.commit();
    const whole = statSync(path).size;
    j.set('objects', 'c', { n: 3 });
    await j.commit();
    await j.close();
    truncateSync(path, statSync(path).size - 3); // a crash mid-write: the last record cut short
    const again = await openJournal(path, log);
    expect(again.get('objects', 'a')).toBeUndefined();
    expect(again.get('objects', 'b')).toEqual({ n: 2 });
    expect(again.get('objects', 'c')).toBeUndefined();
    expect(lines.some((l) => l.includes('dropped 1 unreadable record at the end of an unfinished write'))).toBe(true);
    expect(statSync(path).size).toBeLessThanOrEqual(whole); // rewritten without the damage
    await again.close();
  });

  it('a record whose bytes changed (the CRC does not match) is dropped with what follows, not read as other values', async () => {
    const path = join(tmp(), 'outbox');
    const j = await openJournal(path, log);
    j.set('m', '1', 'one');
    await j.commit();
    j.set('m', '2', 'two-two-two');
    await j.commit();
    await j.close();
    const data = readFileSync(path);
    const at = data.lastIndexOf(Buffer.from('two-two-two'));
    data[at + 4] = 'X'.charCodeAt(0); // the disk wrote part of a page: still CBOR, the wrong value
    writeFileSync(path, data);
    const again = await openJournal(path, log);
    expect([...again.entries('m')]).toEqual([['1', 'one']]);
    await again.close();
  });

  it('after a power cut mid-write (a torn record, or zeros), what comes next is not glued to the damage: nothing is lost at the next start, nothing moved aside', async () => {
    const path = join(tmp(), 'outbox');
    const j = await openJournal(path, log);
    j.set('m', '1', 'one');
    await j.commit();
    j.set('m', '2', 'two');
    await j.commit();
    await j.close();
    const data = readFileSync(path);
    writeFileSync(path, Buffer.concat([data.subarray(0, data.length - 2), Buffer.alloc(300)])); // record 2 torn, then zeros
    const after = await openJournal(path, log);
    expect([...after.entries('m')].map(([k]) => k)).toEqual(['1']);
    after.set('m', '5', 'five'); // acknowledged once this commit resolves
    await after.commit();
    // another cut: the file as it is now, reopened
    const again = await openJournal(path, log);
    expect([...again.entries('m')].map(([k]) => k)).toEqual(['1', '5']);
    expect(readdirSync(join(path, '..')).filter((f) => f.includes('corrupt'))).toEqual([]);
    await again.close();
    await after.close();
  });

  it('a journal of the old format (JSON lines, its last line torn) is read and rewritten as binary records when opened', async () => {
    const path = join(tmp(), 'edgecore.db.outbox');
    const old = ['{"t":"outbox","k":"1","v":{"key":"$hw/events/upload/a","msg":{"content":"x"}}}', '{"t":"outbox","k":"2","v":{"key":"b","msg":{}}}', '{"t":"outbox","k":"1"}', '{"t":"outbox-meta","k":"seq","v":2}', '{"t":"outbox","k":"3","v":{"ke'];
    writeFileSync(path, old.join('\n'));
    const j = await openJournal(path, log);
    expect([...j.entries('outbox')]).toEqual([['2', { key: 'b', msg: {} }]]);
    expect(j.get('outbox-meta', 'seq')).toBe(2);
    expect(readFileSync(path).subarray(0, 6).toString()).toBe('KEJRNL'); // migrated at start, before any change
    expect(lines.some((l) => l.includes('written as JSON lines (an older version); rewriting it as binary records'))).toBe(true);
    j.set('outbox', '4', { key: 'c', msg: { n: 4 } });
    await j.commit();
    await j.close();
    const again = await openJournal(path, log);
    expect([...again.entries('outbox')].map(([k]) => k)).toEqual(['2', '4']);
    expect(again.get('outbox', '4')).toEqual({ key: 'c', msg: { n: 4 } });
    await again.close();
  });

  it('compacts a file that grew far past its live data', async () => {
    const path = join(tmp(), 'cloud.db');
    const j = await openJournal(path, log);
    const big = 'x'.repeat(1000);
    for (let round = 0; round < 12; round++) {
      for (let i = 0; i < 500; i++) j.set('t', `k${i}`, { big, round });
      await j.commit();
    }
    await j.close();
    expect(statSync(path).size).toBeLessThan(4 * 1024 * 1024);
    const again = await openJournal(path, log);
    expect(again.get('t', 'k7')).toEqual({ big, round: 11 });
    expect([...again.entries('t')]).toHaveLength(500);
    await again.close();
    expect(readdirSync(join(path, '..')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
