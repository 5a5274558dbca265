/**
 * rest → eventbus and rest → servicebus: a request to http://<cloud>:9443/<node>/<namespace>/<path>
 * goes to the node by the rule whose rest source matches the path best, published on its broker or
 * made to the edge app, whose answer comes back. Off loopback it needs the admin bearer token.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { errorText } from '../../core/errors.js';
import { Group, newMessage } from '../../core/message.js';
import { passOnHeaders } from '../../core/http.js';
import type { ObjectStore } from '../store/objects.js';
import { bestRule, loadRules, type RouteRule } from './rules.js';
import type { RuleStatus } from './rule-status.js';
import type { CallEdge } from './edge-call.js';
import { HttpError, readBody } from './http.js';

export interface IngressContext {
  store: ObjectStore;
  status: RuleStatus;
  callEdge: CallEdge;
  /** the admin token, when the router is off loopback */
  token?: () => string;
  /** the module's name, the messages' source */
  source: string;
}

function authorized(req: IncomingMessage, token: (() => string) | undefined): boolean {
  if (!token) return true;
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!m) return false;
  const given = Buffer.from(m[1] as string);
  const want = Buffer.from(token());
  return given.length === want.length && timingSafeEqual(given, want);
}

export async function ingress(c: IngressContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!authorized(req, c.token)) throw new HttpError(401, 'a valid "Authorization: Bearer <admin token>" header is required');
  const url = new URL(req.url ?? '/', 'http://localhost');
  const m = /^\/([a-z0-9][-a-z0-9.]*)\/([a-z0-9][-a-z0-9]*)(\/.*)?$/.exec(url.pathname);
  if (!m) throw new HttpError(404, 'the router takes /<node>/<namespace>/<path>');
  const [, node, namespace, path = '/'] = m as unknown as [string, string, string, string?];
  const found = bestRule(loadRules(c.store, namespace), 'rest', path);
  if (!found) throw new HttpError(404, `no rule in namespace ${namespace} has a rest source matching ${path}`);
  const { rule, remainder } = found;
  if (rule.problem) {
    c.status.noteProblem(rule);
    throw new HttpError(404, `rule ${rule.key} cannot run: ${rule.problem}`);
  }
  const body = await readBody(req);
  try {
    if (rule.target?.type === 'eventbus') return await publish(c, rule, node, body, res);
    await request(c, rule, { node, namespace, remainder, url, body }, req, res);
  } catch (err) {
    c.status.record(rule, false, errorText(err));
    throw err;
  }
}

/** rest → eventbus: the body published on the node's broker at the rule's topic */
async function publish(c: IngressContext, rule: RouteRule, node: string, body: Buffer, res: ServerResponse): Promise<void> {
  const topic = rule.targetResource.topic as string;
  await c.callEdge(node, newMessage({ source: c.source, group: Group.user, operation: 'publish', resource: topic }, { payload: body.toString('base64') }));
  c.status.record(rule, true);
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'published', node, topic }));
}

/** rest → servicebus: the request made to the edge app on the node, and its answer */
async function request(c: IngressContext, rule: RouteRule, at: { node: string; namespace: string; remainder: string; url: URL; body: Buffer }, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const base = rule.targetResource.path === '/' ? '' : (rule.targetResource.path as string).replace(/\/$/, '');
  const content = {
    method: req.method ?? 'GET',
    path: `${base}${at.remainder}` || '/',
    query: at.url.search.slice(1),
    headers: passOnHeaders(req.headers, ['authorization']),
    port: Number(rule.target?.properties.service_port),
    ...(at.body.length ? { body: at.body.toString('base64') } : {}),
  };
  const answer = await c.callEdge(at.node, newMessage({ source: c.source, group: Group.servicebus, operation: 'request', resource: `${at.namespace}/servicebus/${rule.target?.name ?? ''}` }, content));
  c.status.record(rule, answer.status < 500);
  res.writeHead(answer.status, answer.headers).end(answer.body);
}
