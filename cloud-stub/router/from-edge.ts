/**
 * servicebus → rest (ours): a local app's request to its edge's ServiceBus, made to the REST endpoint
 * of the rule whose servicebus source matches its path best; the answer goes back to the edge.
 */
import { errorText } from '../../core/errors.js';
import { isObj } from '../../core/guards.js';
import type { Message, ReplyPart } from '../../core/message.js';
import { MAX_HTTP_BODY_BYTES } from '../../core/http.js';
import type { ObjectStore } from '../store/objects.js';
import { splitNodeResource } from '../routes.js';
import { bestRule, loadRules } from './rules.js';
import type { RuleStatus } from './rule-status.js';
import { restCall } from './http.js';

export interface FromEdgeContext {
  store: ObjectStore;
  status: RuleStatus;
  timeoutMs: number;
  /** sends a part of the answer to the edge */
  answer(msg: Message, part: ReplyPart): void;
}

export function requestFromEdge(c: FromEdgeContext, msg: Message): void {
  const target = splitNodeResource(msg.route.resource);
  if (!target) return;
  const answer = (part: ReplyPart): void => c.answer(msg, part);
  const r = msg.content as { method?: unknown; path?: unknown; query?: unknown; headers?: unknown; body?: unknown };
  const namespace = target.resource.split('/')[0] ?? '';
  if (!isObj(r) || typeof r.method !== 'string' || typeof r.path !== 'string') return answer({ error: 'a servicebus request needs method and path', code: 400 });
  const found = bestRule(loadRules(c.store, namespace), 'servicebus', r.path, target.node);
  if (!found) return answer({ error: `no rule in namespace ${namespace} has a servicebus source matching ${r.path}`, code: 404 });
  const { rule, remainder } = found;
  if (rule.problem) {
    c.status.noteProblem(rule);
    return answer({ error: `rule ${rule.key} cannot run: ${rule.problem}`, code: 404 });
  }
  const url = `${(rule.targetResource.resource as string).replace(/\/$/, '')}${remainder}${typeof r.query === 'string' && r.query ? `?${r.query}` : ''}`;
  const body = typeof r.body === 'string' ? Buffer.from(r.body, 'base64') : undefined;
  restCall(url, r.method, isObj(r.headers) ? (r.headers as Record<string, string | string[]>) : {}, body, c.timeoutMs).then(
    (res) => {
      c.status.record(rule, res.status < 500);
      if (res.body.length > MAX_HTTP_BODY_BYTES) return answer({ error: `the answer of ${url} is over ${MAX_HTTP_BODY_BYTES} bytes`, code: 502 });
      answer({ status: res.status, headers: res.headers, body: res.body.toString('base64'), end: true });
    },
    (err: unknown) => {
      c.status.record(rule, false, `${url}: ${errorText(err)}`);
      answer({ error: `${url}: ${errorText(err)}`, code: (err as Error).name === 'TimeoutError' ? 504 : 502 });
    },
  );
}
