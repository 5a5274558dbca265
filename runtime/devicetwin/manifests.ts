/**
 * The standalone edge's devices: Device and DeviceModel YAML (or JSON) files in a folder
 * (`modules.deviceTwin.manifestDir`), read at start and again whenever a file is added, changed or
 * removed (fs.watch, with a slow rescan as a safety net where watching is unreliable). A file that
 * does not parse or check is reported by name and its last good objects stay; the others go on.
 */
import { readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { Logger } from '../../core/log.js';
import { errorText } from '../../core/errors.js';
import { checkManifest, describeProblems, manifestKind } from '../../api/manifest.js';
import type { KubeObject } from '../../api/object.js';
import type { DeviceSource } from './index.js';
import type { ObjectChange } from '../metamanager/source.js';

interface Entry {
  kind: string;
  namespace: string;
  name: string;
  file: string;
  text: string;
  object: KubeObject;
}

const MANIFEST_FILE = /\.(ya?ml|json)$/i;
const RESCAN_MS = 5000;
const DEBOUNCE_MS = 150;

export interface ManifestFolder extends DeviceSource {
  close(): void;
}

/** Parses one file into checked objects; throws with the file's name and the first problem. */
function readManifests(path: string, text: string, models: ReadonlyMap<string, ReadonlySet<string>>): Entry[] {
  const out: Entry[] = [];
  for (const [i, doc] of parseAllDocuments(text).entries()) {
    const where = `${path}: document ${i + 1}`;
    if (doc.errors.length > 0) throw new Error(`${where} is not valid YAML: ${doc.errors[0]?.message.split('\n')[0] ?? ''}`);
    const body = doc.toJS() as unknown;
    if (body === null || body === undefined) continue;
    const kind = manifestKind((body as { kind?: unknown }).kind);
    if (kind !== 'device' && kind !== 'devicemodel') throw new Error(`${where}: kind must be Device or DeviceModel`);
    const meta = (body as { metadata?: { namespace?: unknown } }).metadata;
    const namespace = typeof meta?.namespace === 'string' ? meta.namespace : 'default';
    const { object, problems } = checkManifest(kind, body, {
      modelProperties: (spec) => models.get(`${namespace}/${String((spec.deviceModelRef as { name?: unknown } | undefined)?.name)}`),
    });
    if (!object) throw new Error(`${where}: ${describeProblems(kind, body, problems)}`);
    out.push({ kind, namespace, name: object.metadata.name, file: path, text: JSON.stringify(object), object });
  }
  return out;
}

export function openManifestFolder(dir: string, log: Logger): ManifestFolder {
  return new WatchedFolder(dir, log);
}

/** the objects of every file, one per kind/namespace/name (the first file in name order wins a clash) */
function mergeFiles(files: ReadonlyMap<string, { entries: Entry[] }>, log: Logger): Map<string, Entry> {
  const next = new Map<string, Entry>();
  for (const { entries } of files.values()) {
    for (const e of entries) {
      const key = `${e.kind}/${e.namespace}/${e.name}`;
      const other = next.get(key);
      if (other) log.error(`${e.file}: ${e.kind} ${e.namespace}/${e.name} is also in ${other.file}; using ${other.file}`);
      else next.set(key, e);
    }
  }
  return next;
}

/** what changed between two readings of the folder, models first (a device finds its model) */
function folderChanges(before: ReadonlyMap<string, Entry>, after: ReadonlyMap<string, Entry>, nextRv: () => number): ObjectChange[] {
  const changes: ObjectChange[] = [];
  for (const [key, e] of after) {
    const prev = before.get(key);
    if (prev?.text === e.text) continue;
    changes.push({ operation: prev ? 'update' : 'insert', kind: e.kind, namespace: e.namespace, name: e.name, rv: nextRv(), object: e.object });
  }
  for (const [key, e] of before) if (!after.has(key)) changes.push({ operation: 'delete', kind: e.kind, namespace: e.namespace, name: e.name, rv: nextRv() });
  return changes.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'devicemodel' ? -1 : 1));
}

class WatchedFolder implements ManifestFolder {
  private entries = new Map<string, Entry>(); // kind/namespace/name
  private readonly files = new Map<string, { stamp: string; entries: Entry[] }>();
  private readonly listeners: ((c: ObjectChange) => void)[] = [];
  private rv = 0;
  private watcher: FSWatcher | undefined;
  private missingLogged = false;
  private debounce: NodeJS.Timeout | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly dir: string,
    private readonly log: Logger,
  ) {}

  private names(): string[] {
    try {
      const names = readdirSync(this.dir).filter((n) => MANIFEST_FILE.test(n)).sort();
      this.missingLogged = false;
      return names;
    } catch (err) {
      if (!this.missingLogged) this.log.warn(`manifest folder ${this.dir} cannot be read (${errorText(err)}); devices come when it can`);
      this.missingLogged = true;
      return [];
    }
  }

  /** reads a file again when it changed; its last good objects stay when it no longer reads */
  private readFile(path: string, models: ReadonlyMap<string, Set<string>>): void {
    let stamp: string;
    let text: string;
    try {
      const st = statSync(path);
      stamp = `${st.mtimeMs}:${st.size}`;
      if (this.files.get(path)?.stamp === stamp) return;
      text = readFileSync(path, 'utf8');
    } catch (err) {
      return void this.log.warn(`${path}: cannot be read: ${errorText(err)}`);
    }
    try {
      this.files.set(path, { stamp, entries: readManifests(path, text, models) });
      this.log.info(`${path}: read`);
    } catch (err) {
      const prev = this.files.get(path);
      this.files.set(path, { stamp, entries: prev?.entries ?? [] });
      this.log.error(`${errorText(err)}${prev ? ' (keeping what it said before)' : ''}`);
    }
  }

  private scan(): ObjectChange[] {
    const names = this.names();
    // models of the whole folder first, so a device is checked against its model in any file
    const models = new Map<string, Set<string>>();
    for (const e of this.entries.values()) if (e.kind === 'devicemodel') models.set(`${e.namespace}/${e.name}`, new Set(((e.object.spec?.properties ?? []) as { name: string }[]).map((p) => p.name)));
    for (const path of [...this.files.keys()]) if (!names.includes(path.slice(this.dir.length + 1))) this.files.delete(path);
    for (const n of names) this.readFile(join(this.dir, n), models);
    const next = mergeFiles(this.files, this.log);
    const changes = folderChanges(this.entries, next, () => (this.rv = Math.max(this.rv + 1, Date.now())));
    this.entries = next;
    return changes;
  }

  private rescan(): void {
    for (const c of this.scan()) for (const l of this.listeners) l(c);
  }

  private startWatching(): void {
    try {
      this.watcher = watch(this.dir, () => {
        clearTimeout(this.debounce);
        this.debounce = setTimeout(() => this.rescan(), DEBOUNCE_MS);
      });
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch {
      this.watcher = undefined; // the folder is missing: the rescan finds it later
    }
  }

  /** the folder as it is now; from here on it is watched, and changes go to the subscribers */
  replay(): ObjectChange[] {
    const changes = this.scan();
    this.startWatching();
    this.timer ??= setInterval(() => {
      if (!this.watcher) this.startWatching();
      this.rescan();
    }, RESCAN_MS);
    this.timer.unref();
    return changes;
  }

  subscribe(l: (c: ObjectChange) => void): void {
    this.listeners.push(l);
  }

  close(): void {
    clearInterval(this.timer);
    clearTimeout(this.debounce);
    this.watcher?.close();
  }
}
