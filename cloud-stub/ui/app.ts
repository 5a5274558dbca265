/**
 * The dashboard page: signs in with a token (kept in this browser's localStorage), reads one
 * server-sent event stream (/ui/api/stream) that starts with a snapshot and then carries what
 * changed, and redraws only the rows that changed. A desired value is set through the resource
 * API (a JSON patch of the Device), as keadm or kubectl would. No library, no CDN: what the
 * build bundles is all it needs. Text goes in with textContent only (nothing from the cloud is HTML).
 */
import type { DeviceRow, EventRow, NodeRow, PodRow, RuleRow } from '../dashboard/rows.js';

const TOKEN_KEY = 'kubeedge-lite-token';
const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

let token = localStorage.getItem(TOKEN_KEY) ?? '';
let role: 'admin' | 'read' = 'read';
let abort: AbortController | undefined;
const nodes = new Map<string, NodeRow>();
const devices = new Map<string, DeviceRow>();
const pods = new Map<string, PodRow>();
const rules = new Map<string, RuleRow>();

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<Record<'className' | 'textContent' | 'title', string>> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  Object.assign(e, props);
  e.append(...children);
  return e;
}

const badge = (text: string, kind: 'ok' | 'bad' | 'warn' | ''): HTMLElement => el('span', { className: `badge ${kind}`, textContent: text });

function ago(iso: string | undefined): string {
  if (!iso) return '—';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.floor(s / 60)}m ago` : `${Math.floor(s / 3600)}h ago`;
}

const mib = (bytes: number | undefined): string => (bytes === undefined ? '—' : `${(bytes / 1048576).toFixed(1)} MiB`);
/** a Kubernetes quantity of memory (`24683620Ki`) in GiB */
const gib = (q: string): string => {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(q);
  if (!m) return q;
  const bytes = Number(m[1]) * (m[2] === 'Ki' ? 1024 : m[2] === 'Mi' ? 1048576 : m[2] === 'Gi' ? 1073741824 : 1);
  return `${(bytes / 1073741824).toFixed(1)} GiB`;
};

function facts(pairs: [string, string][]): HTMLElement {
  const dl = el('dl');
  for (const [k, v] of pairs) dl.append(el('dt', { textContent: k }), el('dd', { textContent: v }));
  return dl;
}

function nodeCard(n: NodeRow): HTMLElement {
  const card = el('article', { className: 'card row' }, el('h3', {}, el('span', { textContent: n.name }), badge(n.ready ? 'Ready' : 'NotReady', n.ready ? 'ok' : 'bad')));
  card.dataset.key = n.name;
  card.append(
    facts([
      ['heartbeat', ago(n.lastHeartbeat)],
      ['version', n.version ?? '—'],
      ['arch', n.arch ?? '—'],
      ['edgecore memory', `${mib(n.rssBytes)}${n.memory ? ` (machine ${gib(n.memory)})` : ''}`],
      ['round trip', n.rttMs === undefined ? '—' : `${n.rttMs} ms`],
      ['outbox', n.outbox === undefined ? '—' : String(n.outbox)],
      ['uploads', String(n.uploads ?? 0)],
      ...(n.pods !== undefined ? ([['pods', String(n.pods)]] as [string, string][]) : []),
    ]),
  );
  return card;
}

async function setDesired(d: DeviceRow, index: number, property: string, value: string, out: HTMLElement): Promise<void> {
  out.textContent = 'setting…';
  const r = await fetch(`/apis/devices.kubeedge.io/v1beta1/namespaces/${encodeURIComponent(d.namespace)}/devices/${encodeURIComponent(d.name)}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json-patch+json' },
    body: JSON.stringify([
      { op: 'test', path: `/spec/properties/${index}/name`, value: property },
      { op: 'add', path: `/spec/properties/${index}/desired`, value: { value } },
    ]),
  });
  out.textContent = r.ok ? 'sent' : ((await r.json().catch(() => ({}))) as { message?: string }).message ?? `HTTP ${r.status}`;
}

function deviceCard(d: DeviceRow): HTMLElement {
  // a device's state is what its edge last said: with the edge gone it is not news any more
  const stale = d.node !== undefined && nodes.get(d.node)?.ready === false;
  const kind = stale ? 'warn' : d.state === 'online' ? 'ok' : d.state === 'unknown' ? '' : 'bad';
  const card = el('article', { className: 'card row' }, el('h3', {}, el('span', { textContent: d.key }), badge(stale ? `${d.state}? node NotReady` : d.state, kind)));
  card.dataset.key = d.key;
  card.append(facts([['node', d.node ?? '—'], ['model', d.model], ['last online', d.lastOnline ? ago(d.lastOnline) : '—']]));
  if (d.problem) card.append(el('p', { className: 'problem', textContent: d.problem }));
  const table = el('table', { className: 'twins' }, el('tr', {}, el('th', { textContent: 'property' }), el('th', { textContent: 'reported' }), el('th', { textContent: 'desired' })));
  d.twins.forEach((t, i) => {
    const desired = el('td', { textContent: t.desired ?? '' });
    if (role === 'admin' && t.writable) {
      const input = el('input');
      input.value = t.desired ?? '';
      input.setAttribute('aria-label', `desired ${t.name}`);
      input.name = `desired-${t.name}`;
      const out = el('small');
      const set = el('button', { textContent: 'Set' });
      set.type = 'button';
      set.addEventListener('click', () => void setDesired(d, i, t.name, input.value, out).catch((err: unknown) => (out.textContent = String(err))));
      desired.replaceChildren(input, set, out);
    }
    const reported = el('td', { textContent: t.reported ?? '—', title: t.at ? new Date(t.at).toLocaleString() : '' });
    reported.className = 'reported';
    reported.dataset.property = t.name;
    table.append(el('tr', {}, el('td', { textContent: t.name }), reported, desired));
  });
  if (d.twins.length > 0) card.append(table);
  return card;
}

const podCard = (p: PodRow): HTMLElement => {
  const card = el('article', { className: 'card row' }, el('h3', {}, el('span', { textContent: p.key }), badge(p.phase, p.phase === 'Running' ? 'ok' : p.phase === 'Failed' ? 'bad' : 'warn')));
  card.dataset.key = p.key;
  card.append(facts([['node', p.node ?? '—'], ['ready', p.ready], ['restarts', String(p.restarts)]]));
  return card;
};

const ruleCard = (r: RuleRow): HTMLElement => {
  const card = el('article', { className: 'card row' }, el('h3', {}, el('span', { textContent: r.key }), badge(r.fail > 0 ? `${r.fail} failed` : 'ok', r.fail > 0 ? 'warn' : 'ok')));
  card.dataset.key = r.key;
  card.append(facts([['from', r.source], ['to', r.target], ['delivered', String(r.success)]]));
  return card;
};

/** puts a row's card in place of its old one (or in order), or removes it */
function place<T>(container: HTMLElement, map: Map<string, T>, key: string, row: T | undefined, card: (r: T) => HTMLElement): void {
  const old = [...container.children].find((c) => (c as HTMLElement).dataset.key === key);
  if (row === undefined) {
    map.delete(key);
    old?.remove();
    return;
  }
  map.set(key, row);
  // a card being edited (its input focused) is not replaced under the user's fingers
  if (old && old.contains(document.activeElement) && document.activeElement instanceof HTMLInputElement) {
    const fresh = card(row);
    old.querySelectorAll('td.reported').forEach((td, i) => (td.textContent = fresh.querySelectorAll('td.reported')[i]?.textContent ?? td.textContent));
    return;
  }
  const fresh = card(row);
  if (old) return old.replaceWith(fresh);
  const after = [...container.children].find((c) => ((c as HTMLElement).dataset.key ?? '') > key);
  container.insertBefore(fresh, after ?? null);
}

function counts(): void {
  const ready = [...nodes.values()].filter((n) => n.ready).length;
  $('node-count').textContent = `${ready} of ${nodes.size} Ready`;
  const online = [...devices.values()].filter((d) => d.state === 'online').length;
  $('device-count').textContent = `${online} of ${devices.size} online`;
  $('pods-section').hidden = pods.size === 0;
  $('rules-section').hidden = rules.size === 0;
}

function addEvents(list: EventRow[]): void {
  const ol = $('events');
  for (const e of list) {
    const li = el('li', { className: e.type }, el('time', { textContent: new Date(e.time).toLocaleTimeString() }), el('b', { textContent: `${e.reason} ` }), `${e.object}: ${e.message}`);
    ol.prepend(li);
  }
  while (ol.children.length > 200) ol.lastElementChild?.remove();
}

interface Update {
  role?: 'admin' | 'read';
  nodes: NodeRow[];
  devices: DeviceRow[];
  pods: PodRow[];
  rules: RuleRow[];
  events: EventRow[];
  removed?: { kind: string; key: string }[];
}

function apply(u: Update, snapshot: boolean): void {
  if (snapshot) {
    for (const id of ['nodes', 'devices', 'pods', 'rules', 'events']) $(id).replaceChildren();
    for (const m of [nodes, devices, pods, rules] as Map<string, unknown>[]) m.clear();
    if (u.role) role = u.role;
    $('status').textContent = `live · ${role === 'admin' ? 'admin' : 'read-only'}`;
  }
  for (const n of u.nodes) {
    const was = nodes.get(n.name)?.ready;
    place($('nodes'), nodes, n.name, n, nodeCard);
    // its devices' badges say whether their state is current
    if (was !== undefined && was !== n.ready) for (const d of devices.values()) if (d.node === n.name && !u.devices.some((x) => x.key === d.key)) place($('devices'), devices, d.key, d, deviceCard);
  }
  for (const d of u.devices) place($('devices'), devices, d.key, d, deviceCard);
  for (const p of u.pods) place($('pods'), pods, p.key, p, podCard);
  for (const r of u.rules) place($('rules'), rules, r.key, r, ruleCard);
  for (const r of u.removed ?? []) {
    if (r.kind === 'node') place($('nodes'), nodes, r.key, undefined, nodeCard);
    if (r.kind === 'device') place($('devices'), devices, r.key, undefined, deviceCard);
    if (r.kind === 'pod') place($('pods'), pods, r.key, undefined, podCard);
    if (r.kind === 'rule') place($('rules'), rules, r.key, undefined, ruleCard);
  }
  addEvents(u.events);
  counts();
}

function showSignIn(message: string): void {
  abort?.abort();
  $('board').hidden = true;
  $('signout').hidden = true;
  $('signin').hidden = false;
  $('signin-error').textContent = message;
  $('status').textContent = 'signed out';
}

/** reads the stream until it ends; comes back after a pause when the connection drops */
async function connect(): Promise<void> {
  abort?.abort();
  const ac = (abort = new AbortController());
  let res: Response;
  try {
    res = await fetch('/ui/api/stream', { headers: { authorization: `Bearer ${token}` }, signal: ac.signal });
  } catch {
    if (!ac.signal.aborted) retry(ac);
    return;
  }
  if (res.status === 401 || res.status === 403) {
    const body = (await res.json().catch(() => ({}))) as { message?: string };
    localStorage.removeItem(TOKEN_KEY);
    return showSignIn(`token refused: ${body.message ?? res.status}`);
  }
  if (!res.ok || !res.body) return retry(ac);
  $('signin').hidden = true;
  $('board').hidden = false;
  $('signout').hidden = false;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
        if (event === 'snapshot' || event === 'update') apply(JSON.parse(data) as Update, event === 'snapshot');
      }
    }
  } catch {
    /* dropped: try again below */
  }
  if (!ac.signal.aborted) retry(ac);
}

function retry(ac: AbortController): void {
  $('status').textContent = 'reconnecting…';
  setTimeout(() => {
    if (!ac.signal.aborted) void connect();
  }, 2000);
}

$('signin').addEventListener('submit', (e) => {
  e.preventDefault();
  token = ($('token') as HTMLInputElement).value.trim();
  localStorage.setItem(TOKEN_KEY, token);
  $('signin-error').textContent = '';
  void connect();
});
$('signout').addEventListener('click', () => {
  localStorage.removeItem(TOKEN_KEY);
  token = '';
  showSignIn('');
});
// the "ago" columns age without a message: redraw the node cards' text every 5 s from what we have
setInterval(() => {
  for (const n of nodes.values()) place($('nodes'), nodes, n.name, n, nodeCard);
}, 5000);
if (token) void connect();
