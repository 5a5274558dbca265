/**
 * A pod's volumes on disk, under <root>/pods/<uid>/volumes/<name>. ConfigMap and Secret volumes are
 * written as kubelet's atomic writer does: the files go into a fresh `..<time>` folder, `..data` is
 * switched to it by one rename, and each visible name is a symlink through `..data`; so an app in a
 * running pod sees a changed ConfigMap all at once, never half written. Secret files are 0400 unless
 * the pod says otherwise; ConfigMap files 0644. emptyDir is a plain folder; hostPath is the host's.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { KeyToPath, Pod, Volume } from '../../api/pods/types.js';
import type { ConfigLookup } from './env.js';
import { RuntimeError } from '../../containers/runtime.js';

const DATA = '..data';

interface FileSet {
  files: { path: string; content: Buffer; mode: number }[];
  digest: string;
}

function fileSet(values: Record<string, Buffer>, items: KeyToPath[] | undefined, defaultMode: number, what: string, optional: boolean): FileSet {
  const files: FileSet['files'] = [];
  if (items?.length) {
    for (const it of items) {
      const content = values[it.key];
      if (content === undefined) {
        if (optional) continue;
        throw new RuntimeError('CreateContainerConfigError', `configmap references non-existent config key: ${it.key} (${what})`);
      }
      files.push({ path: it.path, content, mode: it.mode ?? defaultMode });
    }
  } else {
    for (const [k, content] of Object.entries(values)) files.push({ path: k, content, mode: defaultMode });
  }
  const h = createHash('sha256');
  for (const f of files) h.update(`${f.path}\0${f.mode}\0`).update(f.content).update('\0');
  return { files, digest: h.digest('hex') };
}

/** Writes the files of one ConfigMap or Secret volume, unless they are already there as they are. */
function writeAtomically(dir: string, set: FileSet): void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const stamp = join(dir, '..digest');
  try {
    if (readFileSync(stamp, 'utf8') === set.digest && statSync(join(dir, DATA)).isDirectory()) return;
  } catch {
    /* not written yet, or damaged: write it */
  }
  const ts = `..${new Date().toISOString().replace(/[:.]/g, '_')}_${process.hrtime.bigint()}`;
  const target = join(dir, ts);
  mkdirSync(target, { mode: 0o755 });
  for (const f of set.files) {
    mkdirSync(dirname(join(target, f.path)), { recursive: true, mode: 0o755 });
    writeFileSync(join(target, f.path), f.content, { mode: f.mode });
  }
  const tmp = join(dir, '..data_tmp');
  rmSync(tmp, { force: true });
  symlinkSync(ts, tmp);
  renameSync(tmp, join(dir, DATA)); // the switch: one rename
  const visible = new Set(set.files.map((f) => f.path.split('/')[0] as string));
  for (const name of visible) {
    const link = join(dir, name);
    if (!existsSync(link)) symlinkSync(join(DATA, name), link);
  }
  for (const name of readdirSync(dir)) {
    if (name === DATA || name === ts || name === '..digest') continue;
    if (name.startsWith('..') || !visible.has(name)) rmSync(join(dir, name), { recursive: true, force: true });
  }
  writeFileSync(stamp, set.digest, { mode: 0o600 });
}

export interface PreparedVolume {
  name: string;
  hostPath: string;
  readOnly: boolean;
}

export function volumesDir(root: string, podUid: string): string {
  return join(root, 'pods', podUid, 'volumes');
}

/**
 * Makes every volume of the pod ready and returns where each is on the host; a missing ConfigMap or
 * Secret (not optional) is kubelet's CreateContainerConfigError.
 */
export function prepareVolumes(root: string, pod: Pod, lookup: ConfigLookup): Map<string, PreparedVolume> {
  const uid = pod.metadata.uid as string;
  const base = volumesDir(root, uid);
  const out = new Map<string, PreparedVolume>();
  for (const v of (pod.spec.volumes ?? []) as Volume[]) {
    const dir = join(base, v.name);
    if (v.configMap) {
      const cm = lookup.configMap(v.configMap.name);
      if (!cm && !v.configMap.optional) throw new RuntimeError('CreateContainerConfigError', `configmap "${v.configMap.name}" not found (volume ${v.name})`);
      const values: Record<string, Buffer> = {};
      for (const [k, s] of Object.entries(cm?.data ?? {})) values[k] = Buffer.from(s);
      for (const [k, s] of Object.entries(cm?.binaryData ?? {})) values[k] = Buffer.from(s, 'base64');
      writeAtomically(dir, fileSet(values, v.configMap.items, v.configMap.defaultMode ?? 0o644, `volume ${v.name}`, v.configMap.optional === true));
      out.set(v.name, { name: v.name, hostPath: dir, readOnly: true });
    } else if (v.secret) {
      const s = lookup.secret(v.secret.secretName);
      if (!s && !v.secret.optional) throw new RuntimeError('CreateContainerConfigError', `secret "${v.secret.secretName}" not found (volume ${v.name})`);
      const values: Record<string, Buffer> = {};
      for (const [k, b64] of Object.entries(s?.data ?? {})) values[k] = Buffer.from(b64, 'base64');
      writeAtomically(dir, fileSet(values, v.secret.items, v.secret.defaultMode ?? 0o400, `volume ${v.name}`, v.secret.optional === true));
      out.set(v.name, { name: v.name, hostPath: dir, readOnly: true });
    } else if (v.emptyDir) {
      mkdirSync(dir, { recursive: true, mode: 0o777 });
      out.set(v.name, { name: v.name, hostPath: dir, readOnly: false });
    } else if (v.hostPath) {
      const p = v.hostPath.path;
      const type = v.hostPath.type ?? '';
      let st: ReturnType<typeof statSync> | undefined;
      try {
        st = statSync(p);
      } catch {
        st = undefined;
      }
      if (!st && type === 'DirectoryOrCreate') mkdirSync(p, { recursive: true, mode: 0o755 });
      else if (!st && type === 'FileOrCreate') {
        mkdirSync(dirname(p), { recursive: true });
        writeFileSync(p, '', { mode: 0o644 });
      } else if (type !== '' && !st) throw new RuntimeError('CreateContainerConfigError', `hostPath type check failed: ${p} does not exist (volume ${v.name})`);
      else if ((type === 'Directory' && !st?.isDirectory()) || (type === 'File' && !st?.isFile()) || (type === 'Socket' && !st?.isSocket())) {
        throw new RuntimeError('CreateContainerConfigError', `hostPath type check failed: ${p} is not a ${type} (volume ${v.name})`);
      }
      out.set(v.name, { name: v.name, hostPath: p, readOnly: false });
    }
  }
  return out;
}

/** Takes away a pod's volume folders (never a hostPath: those are the host's). */
export function removeVolumes(root: string, podUid: string): void {
  rmSync(join(root, 'pods', podUid), { recursive: true, force: true });
}
