/**
 * The dashboard, under /ui/ on the API port: static files (built by build.mjs into dist/ui, beside
 * cloudcore.js), and one stream of server-sent events per open page at /ui/api/stream that starts
 * with a snapshot of nodes, devices, pods, rules and events and then carries what changed, taken
 * from the store's changes and the nodes' live status and sent at most once a second, in one
 * message. With no page open it costs nothing but a check of an empty set per change.
 * The page sends its token in the Authorization header (fetch, not EventSource: a token in a URL
 * ends up in logs); writes (a desired value) go through the resource API, so a read-only token
 * sees everything and changes nothing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CLUSTER_NAMESPACE, type ObjectStore, type StoredObject } from '../store/objects.js';
import type { KubeObject } from '../../api/object.js';
import type { EventLog, ClusterEvent, EventChange } from '../events.js';
import { TOKEN_NEEDED, type Role } from '../apiserver/index.js';
import { ApiError } from '../apiserver/status.js';
import { deviceRow, eventRow, nodeRow, podRow, ruleRow, type Rows } from './rows.js';

export interface DashboardDeps {
  store: ObjectStore;
  /** the object as the API shows it (status and live readiness included) */
  present: (o: StoredObject) => KubeObject;
  events: EventLog;
  /** the folder of index.html and app.js */
  files: string;
}

export interface Dashboard {
  handle(req: IncomingMessage, res: ServerResponse, url: URL, role: Role | undefined): Promise<boolean>;
  /** a node's live status changed (EdgeController) */
  nodeChanged(node: string): void;
  close(): void;
}

const SHOWN = ['node', 'device', 'pod', 'rule'] as const;
type Shown = (typeof SHOWN)[number];
const FLUSH_MS = 1000;
const PING_MS = 15_000;
/** a page that cannot keep up is dropped (it reconnects and gets a snapshot) */
const MAX_BUFFERED = 1024 * 1024;
const MAX_PAGES = 64;

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };

export function createDashboard(deps: DashboardDeps): Dashboard {
  return new LiveDashboard(deps);
}

class LiveDashboard implements Dashboard {
  private readonly pages = new Set<{ res: ServerResponse; role: Role }>();
  private readonly dirty = new Map<string, { kind: Shown; namespace: string; name: string }>();
  private newEvents: ClusterEvent[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private readonly fileCache = new Map<string, Buffer>();
  private readonly onChange = (ev: { kind: string; object: KubeObject }): void => this.mark(ev.kind, ev.object.metadata.namespace ?? 'null', ev.object.metadata.name);
  private readonly onStatus = (ev: { kind: string; namespace: string; name: string }): void => this.mark(ev.kind, ev.namespace, ev.name);
  private readonly onEvent = ({ event: e }: EventChange): void => {
    if (this.pages.size === 0) return;
    this.newEvents.push(e);
    if (this.newEvents.length > 100) this.newEvents.shift();
    this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_MS);
  };

  constructor(private readonly deps: DashboardDeps) {
    deps.store.events.on('change', this.onChange);
    deps.store.events.on('status', this.onStatus);
    deps.events.events.on('event', this.onEvent);
  }

  private row(kind: Shown, o: KubeObject): unknown {
    if (kind === 'node') return nodeRow(o);
    if (kind === 'pod') return podRow(o);
    if (kind === 'rule') return ruleRow(o);
    const ref = (o.spec as { deviceModelRef?: { name?: unknown } } | undefined)?.deviceModelRef?.name;
    return deviceRow(o, typeof ref === 'string' ? this.deps.store.get('devicemodel', o.metadata.namespace ?? 'default', ref)?.object : undefined);
  }

  private rowsOf(kind: Shown): unknown[] {
    return this.deps.store.list(kind).map((o) => this.row(kind, this.deps.present(o)));
  }

  private send(event: string, data: unknown): void {
    const text = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const p of this.pages) {
      if (p.res.writableLength > MAX_BUFFERED) p.res.destroy();
      else p.res.write(text);
    }
  }

  private flush(): void {
    this.flushTimer = undefined;
    if (this.pages.size === 0) {
      this.dirty.clear();
      this.newEvents = [];
      return;
    }
    const update: Rows & { removed: { kind: string; key: string }[] } = { nodes: [], devices: [], pods: [], rules: [], events: this.newEvents.map(eventRow), removed: [] };
    for (const d of this.dirty.values()) {
      const o = this.deps.store.get(d.kind, d.namespace, d.name);
      const key = d.kind === 'node' ? d.name : `${d.namespace}/${d.name}`;
      if (!o) update.removed.push({ kind: d.kind, key });
      else (update[`${d.kind}s`] as unknown[]).push(this.row(d.kind, this.deps.present(o)));
    }
    this.dirty.clear();
    this.newEvents = [];
    this.send('update', update);
  }

  private mark(kind: string, namespace: string, name: string): void {
    if (this.pages.size === 0 || !(SHOWN as readonly string[]).includes(kind)) return;
    this.dirty.set(`${kind}/${namespace}/${name}`, { kind: kind as Shown, namespace, name });
    this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  private file(name: string): Buffer | undefined {
    let b = this.fileCache.get(name);
    if (b) return b;
    const path = join(this.deps.files, name);
    if (!existsSync(path)) return undefined;
    this.fileCache.set(name, (b = readFileSync(path)));
    return b;
  }

  private stream(res: ServerResponse, role: Role): void {
    const { pages } = this;
    if (pages.size >= MAX_PAGES) throw new ApiError('TooManyRequests', `${MAX_PAGES} dashboards are open; close one`);
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    const page = { res, role };
    pages.add(page);
    res.on('close', () => {
      pages.delete(page);
      if (pages.size > 0) return;
      clearInterval(this.pingTimer);
      this.pingTimer = undefined;
    });
    const snapshot: Rows & { role: Role } = { role, nodes: this.rowsOf('node'), devices: this.rowsOf('device'), pods: this.rowsOf('pod'), rules: this.rowsOf('rule'), events: this.deps.events.list().slice(-100).map(eventRow) };
    res.write(`event: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`);
    this.pingTimer ??= setInterval(() => {
      for (const p of pages) p.res.write(': ping\n\n');
    }, PING_MS);
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL, role: Role | undefined): Promise<boolean> {
    const path = url.pathname;
    if (path === '/ui') {
      res.writeHead(301, { location: '/ui/' }).end();
      return true;
    }
    if (path === '/ui/api/stream') {
      if (req.method !== 'GET') throw new ApiError('MethodNotAllowed', `${req.method ?? ''} is not supported on ${path}`);
      if (!role) throw new ApiError('Unauthorized', TOKEN_NEEDED);
      this.stream(res, role);
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const name = path === '/ui/' ? 'index.html' : path.slice('/ui/'.length);
    if (!/^[a-z0-9-]+\.(html|js|css|svg)$/.test(name)) return false;
    const body = this.file(name);
    if (!body) throw new ApiError('NotFound', `the dashboard's ${name} is not in ${this.deps.files} (run "npm run build")`);
    res.writeHead(200, { 'content-type': TYPES[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream', 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff', 'content-security-policy': "default-src 'self'" });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  }

  nodeChanged(node: string): void {
    this.mark('node', CLUSTER_NAMESPACE, node);
  }

  close(): void {
    this.deps.store.events.off('change', this.onChange);
    this.deps.store.events.off('status', this.onStatus);
    this.deps.events.events.off('event', this.onEvent);
    clearTimeout(this.flushTimer);
    clearInterval(this.pingTimer);
    for (const p of this.pages) p.res.destroy();
    this.pages.clear();
  }
}
