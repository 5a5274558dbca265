import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
const OUT = join(ROOT, 'images', 'out');
const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');
const debs = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith(`_${VERSION}_amd64.deb`) || f.endsWith(`_${VERSION}_all.deb`)).sort();

// setup.sh built this commit a second time, from scratch, into images/out/again
describe('reproducible packages', () => {
  it('two builds of one commit give byte-identical .debs: the native add-ons from the locked versions, every time the commit\'s', () => {
    const first = debs(OUT);
    expect(first).toEqual([`kubeedge-lite-cloud_${VERSION}_all.deb`, `kubeedge-lite-edge_${VERSION}_amd64.deb`, `kubeedge-lite-keadm_${VERSION}_all.deb`, `kubeedge-lite-mapper-opcua_${VERSION}_all.deb`]);
    expect(debs(join(OUT, 'again'))).toEqual(first);
    for (const deb of first) expect(`${deb} ${sha256(join(OUT, 'again', deb))}`).toBe(`${deb} ${sha256(join(OUT, deb))}`);
  });
});
