/**
 * The router (KubeEdge's `modules.router`): moves messages between REST endpoints in the cloud and
 * edges' EventBus and ServiceBus, by the Rules users declare.
 *   rest → eventbus     POST http://<cloud>:9443/<node>/<namespace>/<path>: the body is published on
 *                       that node's broker at targetResource.topic (200 once it is)
 *   eventbus → rest     what an edge app publishes on <namespace>/<sourceResource.topic> is POSTed to
 *                       targetResource.resource, in order, retried while it fails (queue.ts)
 *   rest → servicebus   the request crosses the link and is made to the edge app on
 *                       127.0.0.1:<service_port><targetResource.path>; its answer comes back
 *   servicebus → rest   (ours) a local app's request to its edge's ServiceBus, to a REST endpoint
 * KubeEdge serves the router as plain HTTP on every address; this one listens on loopback unless
 * told otherwise, and on any other address requires TLS (the cloud's server certificate) and the
 * admin bearer token. An offline node is a 503 at once; no answer within restTimeout is a 504.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Module, ModuleContext } from '../../core/module.js';
import { errorText } from '../../core/errors.js';
import { responseTo, type Message, type ReplyPart } from '../../core/message.js';
import { boundPort, closeServer, isLoopback, listen } from '../../core/net.js';
import { openJournal, type Journal } from '../../core/journal.js';
import type { CloudCoreConfig } from '../../api/config/cloudcore.js';
import type { ChangeEvent, ObjectStore } from '../store/objects.js';
import type { EdgeCalls } from '../cloudhub/index.js';
import { toEdge } from '../routes.js';
import { loadRules } from './rules.js';
import { RuleQueues } from './queue.js';
import { RuleStatus } from './rule-status.js';
import { edgeCaller } from './edge-call.js';
import { HttpError } from './http.js';
import { ingress, type IngressContext } from './ingress.js';
import { requestFromEdge } from './from-edge.js';
import { QueueDelivery } from './delivery.js';

export { MAX_IN_FLIGHT_PER_NODE } from './edge-call.js';

export type RouterConfig = CloudCoreConfig['modules']['router'];

export const ROUTER = 'router';
/** messages waiting for one rule's REST target */
const QUEUE_LIMIT = 10_000;

export interface RouterDeps {
  config: RouterConfig;
  store: ObjectStore;
  edges: EdgeCalls;
  /** the router's queue journal: `<cloudcore dataSource>.router` */
  dataSource: string;
  tls: () => { cert: Buffer; key: Buffer };
  token: () => string;
}

export interface Router extends Module {
  port(): number;
  /**
   * An upload from an edge's outbox (`version`: its `<storeId>/<seq>`): queued for the rules whose
   * eventbus source it is, once each however often it is resent; resolves once on disk.
   */
  fromEdge(node: string, topic: string, payload: unknown, version: string): Promise<void>;
}

export function createRouter(deps: RouterDeps): Router {
  const cfg = deps.config;
  const loopback = isLoopback(cfg.address);
  const status = new RuleStatus(deps.store);
  const entry: IngressContext = { store: deps.store, status, callEdge: edgeCaller(deps.edges, cfg.restTimeout), source: ROUTER, ...(loopback ? {} : { token: deps.token }) };
  let ctx: ModuleContext | undefined;
  let server: Server | undefined;
  let journal: Journal | undefined;
  let queues: RuleQueues | undefined;
  let delivery: QueueDelivery | undefined;
  const onChange = (ev: ChangeEvent): void => {
    if (ev.kind === 'rule' || ev.kind === 'ruleendpoint') delivery?.kickAll();
  };

  return {
    name: ROUTER,
    group: ROUTER,
    port: () => boundPort(server),
    async fromEdge(node, topic, payload, version) {
      // not taken (and so not acknowledged) before the queues are open: the edge sends it again
      if (!queues) throw new Error('the router is starting: its queues are not open yet');
      const slash = topic.indexOf('/');
      if (slash <= 0) return;
      for (const rule of loadRules(deps.store, topic.slice(0, slash))) {
        if (rule.source?.type !== 'eventbus' || rule.sourceResource.topic !== topic.slice(slash + 1) || rule.sourceResource.node_name !== node) continue;
        const bytes = Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
        const dropped = await queues.add(rule.key, { node, topic, payload: bytes.toString('base64'), at: Date.now() }, version);
        if (dropped) status.record(rule, false, `queue full (${QUEUE_LIMIT}): dropped the oldest message, from ${new Date(dropped.at).toISOString()}`);
        delivery?.kick(rule.key);
      }
    },
    async start(c) {
      ctx = c;
      journal = await openJournal(deps.dataSource === ':memory:' ? ':memory:' : `${deps.dataSource}.router`, c.log.child('queue'));
      queues = new RuleQueues(journal, QUEUE_LIMIT);
      delivery = new QueueDelivery({ store: deps.store, queues, status, timeoutMs: cfg.restTimeout * 1000, log: c.log });
      const fromEdge = { store: deps.store, status, timeoutMs: cfg.restTimeout * 1000, answer: (msg: Message, part: ReplyPart) => toEdge(ctx, responseTo(msg, ROUTER, part)) };
      c.bus.register(ROUTER, ROUTER, (msg) => {
        if (msg.route.operation === 'request') requestFromEdge(fromEdge, msg);
      }, { queueLimit: 10_000 });
      deps.store.events.on('change', onChange);
      const handler = (req: IncomingMessage, res: ServerResponse): void => void ingress(entry, req, res).catch((err: unknown) => refuse(c, req, res, err));
      server = loopback ? createHttpServer(handler) : createHttpsServer({ ...deps.tls(), minVersion: 'TLSv1.2' }, handler);
      await listen(server, cfg.port, cfg.address);
      c.log.info(`router on ${loopback ? 'http' : 'https'}://${cfg.address}:${boundPort(server)}/<node>/<namespace>/<path>${loopback ? '' : ' (bearer token required)'}`);
      delivery.kickAll();
    },
    async stop() {
      delivery?.stop();
      deps.store.events.off('change', onChange);
      ctx?.bus.unregister(ROUTER);
      await closeServer(server);
      await journal?.close();
      server = undefined;
    },
  } satisfies Router;
}

/** a request the router cannot take: its code and why, as JSON */
function refuse(c: ModuleContext, req: IncomingMessage, res: ServerResponse, err: unknown): void {
  const code = err instanceof HttpError ? err.code : 500;
  if (code >= 500 && code !== 503 && code !== 504) c.log.error(`${req.method ?? ''} ${req.url ?? ''}: ${errorText(err)}`);
  if (!res.headersSent) res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify({ code, message: errorText(err) }));
  req.resume();
}
