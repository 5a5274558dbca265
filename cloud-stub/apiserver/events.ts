/**
 * Events at Kubernetes' paths, for `kubectl get events [-w]` and `describe`: core/v1
 * (`/api/v1[/namespaces/{ns}]/events[/{name}]`) and events.k8s.io/v1, listed (with field selectors,
 * as `describe` asks by involvedObject), as a Table with kubectl's columns, or watched.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { eventsV1, type ClusterEvent, type EventChange, type EventLog } from '../events.js';
import type { KubeObject } from '../store/objects.js';
import { fieldSelector } from './selectors.js';
import { ApiError } from './status.js';
import { wantsTable } from './table.js';

const PATH = /^\/(?:api\/v1|apis\/events\.k8s\.io\/v1)(?:\/namespaces\/([^/]+))?\/events(?:\/([^/]+))?\/?$/;

/** "5s", "3m", "2h", "4d", as kubectl shows an age */
function age(since: string, now: number): string {
  const s = Math.max(0, Math.floor((now - Date.parse(since)) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.floor(s / 60)}m` : s < 172_800 ? `${Math.floor(s / 3600)}h` : `${Math.floor(s / 86_400)}d`;
}

function tableOf(events: ClusterEvent[], rv: string, now: number): unknown {
  const cols: [string, number][] = [['Last Seen', 0], ['Type', 0], ['Reason', 0], ['Object', 0], ['Subobject', 1], ['Source', 1], ['Message', 0], ['First Seen', 1], ['Count', 1], ['Name', 1]];
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion: rv },
    columnDefinitions: cols.map(([name, priority]) => ({ name, type: name === 'Count' ? 'integer' : 'string', format: name === 'Name' ? 'name' : '', description: '', priority })),
    rows: events.map((e) => ({
      cells: [age(e.lastTimestamp, now), e.type, e.reason, `${e.involvedObject.kind.toLowerCase()}/${e.involvedObject.name}`, '', e.source.component, e.message, age(e.firstTimestamp, now), e.count, e.metadata.name],
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: e.metadata },
    })),
  };
}

/** answers an events request; false when `url` is not one */
export function serveEvents(log: EventLog | undefined, req: IncomingMessage, res: ServerResponse, url: URL): boolean {
  const m = PATH.exec(url.pathname);
  if (!m || req.method !== 'GET') return false;
  const [, namespace, name] = m;
  const v1 = url.pathname.startsWith('/apis/');
  const shape = (e: ClusterEvent): unknown => (v1 ? eventsV1(e) : e);
  const fields = fieldSelector(url.searchParams.get('fieldSelector'));
  // selectors on either shape's field names (describe asks core/v1 by involvedObject.*)
  const matches = (e: ClusterEvent): boolean => (namespace === undefined || e.metadata.namespace === namespace) && (name === undefined || e.metadata.name === name) && fields((v1 ? eventsV1(e) : e) as unknown as KubeObject);
  const rv = String(log?.version() ?? 0);
  const watch = url.searchParams.get('watch');
  if (watch === 'true' || watch === '1') {
    const from = Number(url.searchParams.get('resourceVersion') ?? 0) || 0;
    const asTable = wantsTable(req.headers.accept);
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const send = (type: EventChange['type'], e: ClusterEvent): void => {
      if (!matches(e)) return;
      res.write(JSON.stringify({ type, object: asTable ? tableOf([e], e.metadata.resourceVersion, Date.now()) : shape(e) }) + '\n');
    };
    for (const e of log?.list() ?? []) if (Number(e.metadata.resourceVersion) > from) send(from === 0 ? 'ADDED' : e.count > 1 ? 'MODIFIED' : 'ADDED', e);
    const listener = (c: EventChange): void => send(c.type, c.event);
    log?.events.on('event', listener);
    const timeout = Number(url.searchParams.get('timeoutSeconds') ?? 0);
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    res.on('close', () => {
      clearTimeout(timer);
      log?.events.off('event', listener);
    });
    return true;
  }
  const items = (log?.list() ?? []).filter(matches);
  if (name !== undefined) {
    const e = items[0];
    if (!e) throw new ApiError('NotFound', `events "${name}" not found`);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(shape(e)));
    return true;
  }
  const body = wantsTable(req.headers.accept) ? tableOf(items, rv, Date.now()) : { kind: 'EventList', apiVersion: v1 ? 'events.k8s.io/v1' : 'v1', metadata: { resourceVersion: rv }, items: items.map(shape) };
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  return true;
}
