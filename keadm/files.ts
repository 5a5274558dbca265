/** Writing keadm's files so that a failure leaves nothing half-written behind. */
import { accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, rmdirSync, readdirSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Reads a file keadm needs, or throws one line: missing (with `missing`, what to do) or not
 * readable by this user (run as root), never a bare EACCES.
 */
export function readNeeded(path: string, what: string, missing: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`no ${what} at ${path}; ${missing}`);
    if (code === 'EACCES' || code === 'EPERM') throw new Error(`cannot read ${what} ${path}: permission denied; run keadm as root (sudo)`);
    throw new Error(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}

/** Throws a clear error when `path` could not be created (its nearest existing folder is not writable). */
export function checkWritable(path: string): void {
  let dir = dirname(path);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  if (!statSync(dir).isDirectory()) throw new Error(`cannot write ${path}: ${dir} is not a folder (choose another --config-dir/--data-dir)`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new Error(`cannot write ${path}: ${dir} is not writable (run as root, or choose --config-dir/--data-dir)`);
  }
}

/** Collects writes; `commit()` puts them all in place (temp file and rename each), `rollback()` removes them. */
/** the first line of the edgecore.yaml a package installs (a standalone edge): `keadm join` may replace that file */
export const PACKAGED_CONFIG_MARK = '# kubeedge-lite packaged default';

export class FileSet {
  private readonly files: { path: string; data: string; mode: number; replaces?: (text: string) => boolean }[] = [];
  private readonly written: { path: string; before?: string }[] = [];
  private readonly madeDirs: string[] = [];

  /** `replaces`: an existing file for which it says true is replaced (and put back on rollback), not refused */
  add(path: string, data: string, mode = 0o644, replaces?: (text: string) => boolean): this {
    this.files.push({ path, data, mode, ...(replaces ? { replaces } : {}) });
    return this;
  }

  check(): void {
    for (const f of this.files) {
      if (existsSync(f.path) && !f.replaces?.(readFileSync(f.path, 'utf8'))) throw new Error(`${f.path} already exists; run "keadm reset" first`);
      checkWritable(f.path);
    }
  }

  commit(): void {
    try {
      for (const f of this.files) {
        this.mkdirs(dirname(f.path));
        const before = existsSync(f.path) ? readFileSync(f.path, 'utf8') : undefined;
        const tmp = `${f.path}.tmp`;
        writeFileSync(tmp, f.data, { mode: f.mode });
        renameSync(tmp, f.path);
        this.written.push({ path: f.path, ...(before !== undefined ? { before } : {}) });
      }
    } catch (err) {
      this.rollback();
      throw err;
    }
  }

  rollback(): void {
    for (const w of this.written.splice(0).reverse()) {
      if (w.before !== undefined) writeFileSync(w.path, w.before);
      else rmSync(w.path, { force: true });
    }
    for (const d of this.madeDirs.splice(0).reverse()) removeIfEmpty(d);
  }

  private mkdirs(dir: string): void {
    if (existsSync(dir)) return;
    this.mkdirs(dirname(dir));
    mkdirSync(dir, { mode: 0o755 });
    this.madeDirs.push(dir);
  }
}

export function removeIfEmpty(dir: string): void {
  try {
    if (readdirSync(dir).length === 0) rmdirSync(dir);
  } catch {
    /* gone already, or not ours to remove */
  }
}
