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
  const entries = new Map<string, Entry>(); // kind/namespace/name
  const files = new Map<string, { stamp: string; entries: Entry[] }>();
  const listeners: ((c: ObjectChange) => void)[] = [];
  let rv = 0;
  let watcher: FSWatcher | undefined;
  let missingLogged = false;
  let debounce: NodeJS.Timeout | undefined;
  const nextRv = (): number => (rv = Math.max(rv + 1, Date.now()));

  const emit = (c: ObjectChange): void => {
    for (const l of listeners) l(c);
  };

  const scan = (): ObjectChange[] => {
    let names: string[];
    try {
      names = readdirSync(dir).filter((n) => MANIFEST_FILE.test(n)).sort();
      missingLogged = false;
    } catch (err) {
      if (!missingLogged) log.warn(`manifest folder ${dir} cannot be read (${errorText(err)}); devices come when it can`);
      missingLogged = true;
      names = [];
    }
    // models of the whole folder first, so a device is checked against its model in any file
    const models = new Map<string, Set<string>>();
    for (const e of entries.values()) if (e.kind === 'devicemodel') models.set(`${e.namespace}/${e.name}`, new Set(((e.object.spec?.properties ?? []) as { name: string }[]).map((p) => p.name)));
    for (const path of [...files.keys()]) if (!names.includes(path.slice(dir.length + 1))) files.delete(path);
    for (const n of names) {
      const path = join(dir, n);
      let stamp: string;
      let text: string;
      try {
        const st = statSync(path);
        stamp = `${st.mtimeMs}:${st.size}`;
        if (files.get(path)?.stamp === stamp) continue;
        text = readFileSync(path, 'utf8');
      } catch (err) {
        log.warn(`${path}: cannot be read: ${errorText(err)}`);
        continue;
      }
      try {
        files.set(path, { stamp, entries: readManifests(path, text, models) });
        log.info(`${path}: read`);
      } catch (err) {
        // the file's last good objects stay; it is read again when it changes
        const prev = files.get(path);
        files.set(path, { stamp, entries: prev?.entries ?? [] });
        log.error(`${errorText(err)}${prev ? ' (keeping what it said before)' : ''}`);
      }
    }
    const next = new Map<string, Entry>();
    for (const { entries: es } of files.values()) {
      for (const e of es) {
        const key = `${e.kind}/${e.namespace}/${e.name}`;
        const other = next.get(key);
        if (other) log.error(`${e.file}: ${e.kind} ${e.namespace}/${e.name} is also in ${other.file}; using ${other.file}`);
        else next.set(key, e);
      }
    }
    const changes: ObjectChange[] = [];
    for (const [key, e] of next) {
      const prev = entries.get(key);
      if (prev?.text === e.text) continue;
      changes.push({ operation: prev ? 'update' : 'insert', kind: e.kind, namespace: e.namespace, name: e.name, rv: nextRv(), object: e.object });
    }
    for (const [key, e] of entries) if (!next.has(key)) changes.push({ operation: 'delete', kind: e.kind, namespace: e.namespace, name: e.name, rv: nextRv() });
    entries.clear();
    for (const [k, v] of next) entries.set(k, v);
    return changes.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'devicemodel' ? -1 : 1));
  };

  const rescan = (): void => {
    for (const c of scan()) emit(c);
  };

  const startWatching = (): void => {
    try {
      watcher = watch(dir, () => {
        clearTimeout(debounce);
        debounce = setTimeout(rescan, DEBOUNCE_MS);
      });
      watcher.on('error', () => {
        watcher?.close();
        watcher = undefined;
      });
    } catch {
      watcher = undefined; // the folder is missing: the rescan finds it later
    }
  };
  let timer: NodeJS.Timeout | undefined;

  return {
    /** the folder as it is now; from here on it is watched, and changes go to the subscribers */
    replay() {
      const changes = scan();
      startWatching();
      timer ??= setInterval(() => {
        if (!watcher) startWatching();
        rescan();
      }, RESCAN_MS);
      timer.unref();
      return changes;
    },
    subscribe: (l) => void listeners.push(l),
    close() {
      clearInterval(timer);
      clearTimeout(debounce);
      watcher?.close();
    },
  };
}
