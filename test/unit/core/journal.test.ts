import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
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
  it('replays committed changes after a reopen and drops a torn last line', async () => {
    const path = join(tmp(), 'cloud.db');
    const j = await openJournal(path, log);
    j.set('objects', 'a', { n: 1 });
    j.set('objects', 'b', { n: 2 });
    j.delete('objects', 'a');
    await j.commit();
    await j.close();
    appendFileSync(path, '{"t":"objects","k":"c","v":{"n"'); // a crash mid-write
    const again = await openJournal(path, log);
    expect(again.get('objects', 'a')).toBeUndefined();
    expect(again.get('objects', 'b')).toEqual({ n: 2 });
    expect(again.get('objects', 'c')).toBeUndefined();
    expect(lines.some((l) => l.includes('dropped 1 unreadable line(s) at the end of an unfinished write'))).toBe(true);
    await again.close();
  });

  it('after a power cut mid-write (a torn line, or zeros before lines that made it), what comes next is not glued to the damage: nothing is lost at the next start, nothing moved aside', async () => {
    const path = join(tmp(), 'outbox');
    const j = await openJournal(path, log);
    j.set('m', '1', 'one');
    await j.commit();
    await j.close();
    appendFileSync(path, '{"t":"m","k":"2","v":"tw' + '\0'.repeat(200) + 'o"}\n{"t":"m","k":"3","v":"three"}\n{"t":"m","k":"4","v":"fo');
    const after = await openJournal(path, log);
    expect([...after.entries('m')].map(([k]) => k)).toEqual(['1', '3']);
    after.set('m', '5', 'five'); // acknowledged once this commit resolves
    await after.commit();
    // another cut: the file as it is now, reopened
    const again = await openJournal(path, log);
    expect([...again.entries('m')].map(([k]) => k)).toEqual(['1', '3', '5']);
    expect(readdirSync(join(path, '..')).filter((f) => f.includes('corrupt'))).toEqual([]);
    await again.close();
    await after.close();
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
