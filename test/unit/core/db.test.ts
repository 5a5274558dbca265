import { appendFileSync, copyFileSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDb } from '../../../core/db.js';
import { createLogger } from '../../../core/log.js';

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

  it('persists a change by appending it, not by saving the whole store, and replays it after a crash', async () => {
    const path = join(tmp(), 'c.db');
    const db = await openDb({ path, schema, log });
    db.tx(() => {
      for (let i = 0; i < 2000; i++) db.run('INSERT INTO kv VALUES (?, ?)', [`k${i}`, 'x'.repeat(100)]);
    });
    await db.commit();
    const snapshot = statSync(path);
    db.run('INSERT OR REPLACE INTO kv VALUES (?, ?)', ['k1', 'changed']);
    db.tx(() => {
      db.run('DELETE FROM kv WHERE k = ?', ['k2']);
      db.run('INSERT INTO kv VALUES (?, ?)', ['blob', new Uint8Array([0, 1, 255]) as unknown as string]);
    });
    await db.commit();
    // the snapshot was not written again: the change is in the changes file
    expect(statSync(path).mtimeMs).toBe(snapshot.mtimeMs);
    expect(readFileSync(`${path}.changes`, 'utf8')).toContain('changed');
    expect(db.snapshots()).toBe(1);
    // a crash: the process ends without close()
    copyFileSync(path, `${path}.crashed`);
    copyFileSync(`${path}.changes`, `${path}.crashed.changes`);
    await db.close();
    const again = await openDb({ path: `${path}.crashed`, schema, log });
    expect(again.get('SELECT v FROM kv WHERE k = ?', ['k1'])?.v).toBe('changed');
    expect(again.get('SELECT v FROM kv WHERE k = ?', ['k2'])).toBeUndefined();
    expect([...(again.get('SELECT v FROM kv WHERE k = ?', ['blob'])?.v as Uint8Array)]).toEqual([0, 1, 255]);
    expect(again.get('SELECT COUNT(*) AS n FROM kv')?.n).toBe(2000);
    await again.close();
  });

  it('drops a torn last change, and keeps a rolled-back transaction out', async () => {
    const path = join(tmp(), 'd.db');
    const db = await openDb({ path, schema, log });
    db.run('INSERT INTO kv VALUES (?, ?)', ['a', '1']);
    expect(() =>
      db.tx(() => {
        db.run('INSERT INTO kv VALUES (?, ?)', ['b', '2']);
        throw new Error('changed my mind');
      }),
    ).toThrow('changed my mind');
    await db.commit();
    db.run('INSERT INTO kv VALUES (?, ?)', ['c', '3']);
    await db.commit();
    copyFileSync(path, `${path}.crashed`);
    copyFileSync(`${path}.changes`, `${path}.crashed.changes`);
    appendFileSync(`${path}.crashed.changes`, '[["INSERT INTO kv VALUES (?, ?)",["d","'); // a crash mid-append
    await db.close();
    const again = await openDb({ path: `${path}.crashed`, schema, log });
    expect(again.all('SELECT k FROM kv ORDER BY k').map((r) => r.k)).toEqual(['a', 'c']);
    expect(lines.some((l) => l.includes('dropped the unfinished end of the last write'))).toBe(true);
    // what comes after is not glued to the torn entry: a crash after it loses nothing either
    again.run('INSERT INTO kv VALUES (?, ?)', ['e', '5']);
    await again.commit();
    copyFileSync(`${path}.crashed`, `${path}.again`);
    copyFileSync(`${path}.crashed.changes`, `${path}.again.changes`);
    await again.close();
    const third = await openDb({ path: `${path}.again`, schema, log });
    expect(third.all('SELECT k FROM kv ORDER BY k').map((r) => r.k)).toEqual(['a', 'c', 'e']);
    await third.close();
  });

  it('a power cut mid-append that wrote a later page but not an earlier one: the unfinished write is dropped from the damage on, nothing is moved aside', async () => {
    const path = join(tmp(), 'p.db');
    const db = await openDb({ path, schema, log });
    db.run('INSERT INTO kv VALUES (?, ?)', ['a', '1']);
    await db.commit();
    copyFileSync(path, `${path}.cut`);
    copyFileSync(`${path}.changes`, `${path}.cut.changes`);
    await db.close();
    // the last write: half a transaction, zeros where a page never reached the disk, then lines that did
    appendFileSync(`${path}.cut.changes`, '[["INSERT INTO kv VALUES (?, ?)",["b"' + '\0'.repeat(300) + '"2"]]]\n[["INSERT INTO kv VALUES (?, ?)",["c","3"]]]\n');
    const after = await openDb({ path: `${path}.cut`, schema, log });
    expect(after.all('SELECT k FROM kv ORDER BY k').map((r) => r.k)).toEqual(['a']);
    expect(readdirSync(join(path, '..')).filter((f) => f.includes('corrupt'))).toEqual([]);
    after.run('INSERT INTO kv VALUES (?, ?)', ['d', '4']);
    await after.commit();
    copyFileSync(`${path}.cut`, `${path}.cut2`);
    copyFileSync(`${path}.cut.changes`, `${path}.cut2.changes`);
    await after.close();
    const third = await openDb({ path: `${path}.cut2`, schema, log });
    expect(third.all('SELECT k FROM kv ORDER BY k').map((r) => r.k)).toEqual(['a', 'd']);
    await third.close();
  });

  it('never applies a change twice: a crash between a save and the new changes file', async () => {
    const path = join(tmp(), 'e.db');
    const db = await openDb({ path, schema, log, changesLimit: 1 });
    db.run('INSERT INTO kv VALUES (?, ?)', ['n', '0']);
    await db.commit();
    // increments are what a replay onto the wrong snapshot would get wrong
    const old = `${path}.old-changes`;
    let increments = 0;
    while (db.snapshots() === 1) {
      db.run("UPDATE kv SET v = CAST(v AS INTEGER) + 1 WHERE k = 'n'");
      increments++;
      await db.commit();
      if (increments === 3) copyFileSync(`${path}.changes`, old);
    }
    // the changes outgrew an eighth of the snapshot, and the store was saved whole with every increment
    expect(increments).toBeGreaterThan(3);
    copyFileSync(path, `${path}.crashed`);
    copyFileSync(old, `${path}.crashed.changes`); // the last save landed, the new changes file did not
    await db.close();
    const again = await openDb({ path: `${path}.crashed`, schema, log });
    expect(again.get("SELECT v FROM kv WHERE k = 'n'")?.v).toBe(String(increments));
    await again.close();
  });

  it('a clean close leaves one complete SQLite file, as sqlite3 reads it', async () => {
    const path = join(tmp(), 'f.db');
    const db = await openDb({ path, schema, log });
    db.run('INSERT INTO kv VALUES (?, ?)', ['a', '1']);
    await db.commit();
    db.run('INSERT INTO kv VALUES (?, ?)', ['b', '2']);
    await db.commit();
    await db.close();
    expect(execFileSync('sqlite3', [path, 'SELECT k, v FROM kv ORDER BY k'], { encoding: 'utf8' })).toBe('a|1\nb|2\n');
    const again = await openDb({ path, schema, log });
    expect(again.get('SELECT COUNT(*) AS n FROM kv')?.n).toBe(2);
    await again.close();
  });

  it('takes a database file written before changes files existed, and keeps what changes after', async () => {
    const path = join(tmp(), 'g.db');
    const db = await openDb({ path, schema, log });
    db.run('INSERT INTO kv VALUES (?, ?)', ['old', '1']);
    await db.close();
    // as an older edgecore left it: the file alone, generation 0
    rmSync(`${path}.changes`);
    execFileSync('sqlite3', [path, 'PRAGMA user_version = 0']);
    const upgraded = await openDb({ path, schema, log });
    upgraded.run('INSERT INTO kv VALUES (?, ?)', ['new', '2']);
    await upgraded.commit();
    upgraded.run('INSERT INTO kv VALUES (?, ?)', ['newer', '3']);
    await upgraded.commit();
    copyFileSync(path, `${path}.crashed`);
    copyFileSync(`${path}.changes`, `${path}.crashed.changes`);
    await upgraded.close();
    const again = await openDb({ path: `${path}.crashed`, schema, log });
    expect(again.all('SELECT k FROM kv ORDER BY k').map((r) => r.k)).toEqual(['new', 'newer', 'old']);
    await again.close();
  });
});
