/**
 * `npm run images` on a machine without the cross compilers: it names what is missing and the
 * Debian packages to install in one line, before it builds or writes anything.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('npm run images checks its tools first', () => {
  it('with the cross compilers hidden from PATH, prints one line naming their packages and writes nothing', () => {
    // this machine's PATH, less every aarch64 and armhf tool
    const bin = mkdtempSync(join(tmpdir(), 'ke-nocross-'));
    for (const dir of (process.env.PATH ?? '').split(':').filter((d) => d && existsSync(d))) {
      for (const f of readdirSync(dir)) {
        if (/^(aarch64|arm)-linux-gnu/.test(f) || existsSync(join(bin, f))) continue;
        symlinkSync(join(dir, f), join(bin, basename(f)));
      }
    }
    const out = join(mkdtempSync(join(tmpdir(), 'ke-images-')), 'out');
    const r = spawnSync('npm', ['run', 'images'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, PATH: bin, KUBEEDGE_PACKAGE_OUT: out } });
    expect(r.status).toBe(1);
    // npm's own two lines name the script; what the script says is one line
    const said = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() && !l.startsWith('> '));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/^npm run images: aarch64-linux-gnu-gcc, .*arm-linux-gnueabihf-g\+\+.* not found: apt-get install g\+\+-aarch64-linux-gnu g\+\+-arm-linux-gnueabihf \(or build one architecture: npm run images -- amd64\)$/);
    expect(existsSync(out)).toBe(false);
    // one architecture asked for names only what it needs
    const one = spawnSync('npm', ['run', 'images', '--', 'armhf'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, PATH: bin, KUBEEDGE_PACKAGE_OUT: out } });
    expect(one.stderr.trim()).toBe('npm run images: arm-linux-gnueabihf-gcc, arm-linux-gnueabihf-g++, arm-linux-gnueabihf-strip not found: apt-get install g++-arm-linux-gnueabihf');
  });
});
