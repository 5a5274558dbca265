import { mkdtempSync, readdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDb } from '../../../runtime/core/db.js';
import { createLogger } from '../../../runtime/core/log.js';

const lines: string[] = [];
const log = createLogger({ sink: { write: (_l, line) => lines.push(line) } });
const schema = 'CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT);';
const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'ke-db-'));
  dirs.push(d);
  return d;
};
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('db', () => {
  it('persists a burst of writes in one file write, and reopens with them', async () => {
    const path = join(tmp(), 'a.db');
    const db = await openDb({ path, schema, log });
    const commits: Promise<void>[] = [];
    for (let i = 0; i < 100; i++) {
      db.run('INSERT INTO kv VALUES (?, ?)', [`k${i}`, `v${i}`]);
      commits.push(db.commit());
    }
    await Promise.all(commits);
    await db.close();
    const again = await openDb({ path, schema, log });
    expect(again.get('SELECT COUNT(*) AS n FROM kv')?.n).toBe(100);
    await again.close();
  });

  it('moves a corrupt file aside with a log line and starts empty', async () => {
    const dir = tmp();
    const path = join(dir, 'b.db');
    writeFileSync(path, Buffer.from('this is not sqlite at all, just garbage bytes'.repeat(100)));
    const db = await openDb({ path, schema, log });
    expect(db.get('SELECT COUNT(*) AS n FROM kv')?.n).toBe(0);
    expect(lines.some((l) => l.includes('cannot be opened') && l.includes('moved it to'))).toBe(true);
    expect(readdirSync(dir).some((f) => f.startsWith('b.db.corrupt-'))).toBe(true);
    await db.close();
  });
});
