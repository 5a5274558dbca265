/**
 * The router and ServiceBus end to end, with real processes: RuleEndpoints and Rules applied with
 * keadm; rest → eventbus seen by mosquitto_sub on the edge's broker; eventbus → rest from
 * mosquitto_pub to an HTTP server in the test, through the target being down and the cloud being
 * killed, nothing lost and in order; rest → servicebus to an HTTP app at the edge (status, headers,
 * body, query, 1 MiB, a slow app, the edge killed); servicebus → rest from a local app; refusals.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { eventually, makeCluster, type Cluster, type Edge } from './cluster.js';
import { apply, keadm } from '../peers/pods.js';
import { freePort } from '../peers/proxy.js';

const NODE = 'edge-r';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function call(port: number, method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('the router: rest ↔ eventbus, rest ↔ servicebus', () => {
  let c: Cluster;
  let edge: Edge;
  let routerPort: number;
  let busPort: number;
  let app: Server;
  let appPort: number;
  let slowMs = 0;
  const received: { body: string; headers: Record<string, unknown> }[] = [];
  let target: Server | undefined;
  let targetPort: number;

  const startTarget = async (): Promise<void> => {
    target = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.url === '/ingest') received.push({ body: Buffer.concat(chunks).toString(), headers: req.headers });
        if (req.url?.startsWith('/cloud-api')) return void res.writeHead(202, { 'x-cloud': 'yes' }).end(`cloud saw ${req.method} ${req.url} ${Buffer.concat(chunks).toString()}`);
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => target?.listen(targetPort, '127.0.0.1', r));
  };

  beforeAll(async () => {
    routerPort = await freePort();
    busPort = await freePort();
    targetPort = await freePort();
    appPort = await freePort();
    // the edge app ServiceBus calls: it echoes what it was sent
    app = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        setTimeout(() => {
          res.writeHead(201, { 'x-app': 'edge-app', 'content-type': 'application/octet-stream', 'x-seen-url': req.url ?? '', 'x-seen-method': req.method ?? '', 'x-seen-caller': String(req.headers['x-caller'] ?? '') });
          res.end(body);
        }, slowMs);
      });
    });
    await new Promise<void>((r) => app.listen(appPort, '127.0.0.1', r));
    c = await makeCluster({ cloudModules: { router: { enable: true, port: routerPort, restTimeout: 3 } } });
    await c.startCloud();
    edge = await c.startEdge(NODE, { modules: { serviceBus: { enable: true, port: busPort, timeout: 10 } } });
  });
  afterAll(async () => {
    await c?.stop();
    app?.close();
    target?.close();
  });

  it('applies RuleEndpoints and Rules with keadm, checked as KubeEdge’s CRDs describe them', async () => {
    const out = await apply(
      c,
      { apiVersion: 'rules.kubeedge.io/v1', kind: 'RuleEndpoint', metadata: { name: 'my-rest' }, spec: { ruleEndpointType: 'rest', properties: {} } },
      { apiVersion: 'rules.kubeedge.io/v1', kind: 'RuleEndpoint', metadata: { name: 'my-eventbus' }, spec: { ruleEndpointType: 'eventbus', properties: {} } },
      { apiVersion: 'rules.kubeedge.io/v1', kind: 'RuleEndpoint', metadata: { name: 'my-servicebus' }, spec: { ruleEndpointType: 'servicebus', properties: { service_port: String(appPort) } } },
      { apiVersion: 'rules.kubeedge.io/v1', kind: 'Rule', metadata: { name: 'rest-eventbus' }, spec: { source: 'my-rest', sourceResource: { path: '/a' }, target: 'my-eventbus', targetResource: { topic: 'test' } } },
      { apiVersion: 'rules.kubeedge.io/v1', kind: 'Rule', metadata: { name: 'eventbus-rest' }, spec: { source: 'my-eventbus', sourceResource: { topic: 'test2', node_name: NODE }, target: 'my-rest', targetResource: { resource: `http://127.0.0.1:${targetPort}/ingest` } } },
      { apiVersion: 'rules.kubeedge.io/v1', kind: 'Rule', metadata: { name: 'rest-servicebus' }, spec: { source: 'my-rest', sourceResource: { path: '/svc/{id}' }, target: 'my-servicebus', targetResource: { path: '/api' } } },
      { apiVersion: 'rules.kubeedge.io/v1', kind: 'Rule', metadata: { name: 'rest-servicebus-deeper' }, spec: { source: 'my-rest', sourceResource: { path: '/svc/{id}/special' }, target: 'my-servicebus', targetResource: { path: '/special' } } },
      { apiVersion: 'rules.kubeedge.io/v1', kind: 'RuleEndpoint', metadata: { name: 'local-sb' }, spec: { ruleEndpointType: 'servicebus', properties: { service_port: '1' } } },
      { apiVersion: 'rules.kubeedge.io/v1', kind: 'Rule', metadata: { name: 'servicebus-rest' }, spec: { source: 'local-sb', sourceResource: { path: '/ext' }, target: 'my-rest', targetResource: { resource: `http://127.0.0.1:${targetPort}/cloud-api` } } },
    );
    expect(out).toContain('rule.rules.kubeedge.io/eventbus-rest created');
    expect(out).toContain('ruleendpoint.rules.kubeedge.io/my-servicebus created');
    const table = (await keadm(c, ['get', 'ruleendpoints'])).out;
    expect(table).toMatch(/^my-servicebus\s+servicebus\s/m);
  });

  it('rest → eventbus: a POST to the router is published on the node’s broker', async () => {
    const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(edge.mqttPort), '-t', 'test', '-C', '1', '-W', '20']);
    let exited = false;
    sub.on('exit', () => (exited = true));
    let got = '';
    sub.stdout.on('data', (b: Buffer) => (got += b.toString()));
    // mosquitto_sub says nothing when it has subscribed: POST until it has the message (-C 1: then it exits)
    for (let i = 0; i < 50 && !exited; i++) {
      const r = await call(routerPort, 'POST', `/${NODE}/default/a`, '{"message":"123"}');
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body.toString())).toMatchObject({ status: 'published', node: NODE, topic: 'test' });
      await new Promise((res) => setTimeout(res, 200));
    }
    await eventually(async () => exited, 5000, 'mosquitto_sub done');
    expect(got.trim()).toBe('{"message":"123"}');
  });

  it('eventbus → rest: edge publishes reach the HTTP target in order, through the target down and the cloud killed', async () => {
    await edge.proc.waitFor(/rule default\/eventbus-rest: messages on default\/test2 go to the cloud/);
    const pub = (n: number): void => {
      const r = spawnSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(edge.mqttPort), '-q', '1', '-t', 'default/test2', '-m', JSON.stringify({ n })], { encoding: 'utf8' });
      expect(r.status).toBe(0);
    };
    // the target is down: messages wait in the cloud's queue, retried
    for (let n = 0; n < 5; n++) pub(n);
    await c.cloud?.waitFor(/rule default\/eventbus-rest: POST .* failed/, 10_000);
    // the rule's counters are kept lazily (a crash may lose the last second of them): read them before the SIGKILL
    const ruleStatus = async (): Promise<any> => (await c.api.call('GET', '/apis/rules.kubeedge.io/v1/namespaces/default/rules/eventbus-rest')).body.status;
    const failed = await eventually(async () => ((await ruleStatus())?.failMessages > 0 ? ruleStatus() : undefined), 10_000, 'the failure counted in the rule status');
    expect(failed.errors.at(-1)).toMatch(/POST http:\/\/127\.0\.0\.1:\d+\/ingest: /);
    // the cloud goes away: the edge's outbox keeps what comes meanwhile
    await c.cloud?.kill('SIGKILL');
    for (let n = 5; n < 10; n++) pub(n);
    await c.startCloud();
    await startTarget();
    for (let n = 10; n < 15; n++) pub(n);
    await eventually(async () => received.length >= 15, 30_000, 'fifteen POSTs at the target');
    expect(received.map((x) => JSON.parse(x.body).n)).toEqual(Array.from({ length: 15 }, (_, i) => i));
    expect(received[0]?.headers).toMatchObject({ 'content-type': 'application/json', 'x-kubeedge-node': NODE, 'x-kubeedge-topic': 'default/test2' });
    // the key a backend takes each message once by (a POST repeated after a crash carries the same)
    expect(received[0]?.headers['x-kubeedge-message-id']).toMatch(/^\d+$/);
    await eventually(async () => (await ruleStatus())?.successMessages >= 15, 10_000, 'fifteen successes counted');
  });

  it('rest → servicebus: status, headers, body, query and a 1 MiB body cross both ways', async () => {
    await eventually(async () => c.api.call('GET', `/api/v1/nodes/${NODE}`).then((r) => r.body?.status?.conditions?.[0]?.status === 'True'), 15_000, 'edge Ready again');
    const r = await call(routerPort, 'PUT', `/${NODE}/default/svc/42/more?x=1&y=two`, 'hello app', { 'x-caller': 'cloud-test', 'content-type': 'text/plain' });
    expect(r.status).toBe(201);
    expect(r.headers['x-app']).toBe('edge-app');
    expect(r.headers['x-seen-method']).toBe('PUT');
    expect(r.headers['x-seen-url']).toBe('/api/more?x=1&y=two');
    expect(r.headers['x-seen-caller']).toBe('cloud-test');
    expect(r.body.toString()).toBe('hello app');
    // the longest pattern wins
    expect((await call(routerPort, 'POST', `/${NODE}/default/svc/7/special`, 'x')).headers['x-seen-url']).toBe('/special');
    const big = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    const echoed = await call(routerPort, 'POST', `/${NODE}/default/svc/1`, big);
    expect(echoed.status).toBe(201);
    expect(echoed.body.equals(big)).toBe(true);
  });

  it('servicebus → rest: a local app’s request through its edge reaches a cloud endpoint', async () => {
    const r = await call(busPort, 'POST', '/default/ext/hello?q=1', 'from the edge');
    expect(r.status).toBe(202);
    expect(r.headers['x-cloud']).toBe('yes');
    expect(r.body.toString()).toBe('cloud saw POST /cloud-api/hello?q=1 from the edge');
  });

  it('refuses bad input clearly, answers 413, 429, 504 and 503, and stays up', async () => {
    const refused = async (body: unknown, field: RegExp): Promise<void> => {
      const kind = (body as { kind: string }).kind.toLowerCase();
      const r = await c.api.call('POST', `/apis/rules.kubeedge.io/v1/namespaces/default/${kind}s`, body);
      expect(r.status).toBe(422);
      expect(r.body.message).toMatch(field);
    };
    await refused({ apiVersion: 'rules.kubeedge.io/v1', kind: 'RuleEndpoint', metadata: { name: 'kafka' }, spec: { ruleEndpointType: 'kafka' } }, /spec.ruleEndpointType: must be one of rest, eventbus, servicebus/);
    await refused({ apiVersion: 'rules.kubeedge.io/v1', kind: 'RuleEndpoint', metadata: { name: 'sb' }, spec: { ruleEndpointType: 'servicebus' } }, /spec.properties.service_port: is required/);
    await refused({ apiVersion: 'rules.kubeedge.io/v1', kind: 'Rule', metadata: { name: 'r1' }, spec: { source: 'my-rest', sourceResource: { topic: 'x' }, target: 'my-eventbus', targetResource: { topic: 't' } } }, /spec.sourceResource.path: is required for a rest source/);
    await refused({ apiVersion: 'rules.kubeedge.io/v1', kind: 'Rule', metadata: { name: 'r2' }, spec: { source: 'my-eventbus', sourceResource: { topic: 'x', node_name: NODE }, target: 'my-rest', targetResource: { resource: 'ftp://example.com/x' } } }, /spec.targetResource.resource: "ftp:\/\/example.com\/x" is not an http\(s\) URL/);
    await refused({ apiVersion: 'rules.kubeedge.io/v1', kind: 'Rule', metadata: { name: 'r3' }, spec: { source: 'my-eventbus', sourceResource: { topic: 'x', node_name: NODE }, target: 'my-servicebus', targetResource: { path: '/x' } } }, /a eventbus source cannot go to a servicebus target/);
    await refused({ apiVersion: 'rules.kubeedge.io/v1', kind: 'Rule', metadata: { name: 'r4' }, spec: { source: 'my-rest', sourceResource: 'nope', target: 'my-eventbus', targetResource: { topic: 't' } } }, /spec.sourceResource: must be an object/);
    // a rule naming an endpoint that does not exist is taken, and says why it cannot run
    await apply(c, { apiVersion: 'rules.kubeedge.io/v1', kind: 'Rule', metadata: { name: 'dangling' }, spec: { source: 'my-rest', sourceResource: { path: '/dangling' }, target: 'nowhere', targetResource: { topic: 't' } } });
    const dangling = await call(routerPort, 'POST', `/${NODE}/default/dangling`, 'x');
    expect(dangling.status).toBe(404);
    expect(JSON.parse(dangling.body.toString()).message).toBe('rule default/dangling cannot run: ruleendpoint "nowhere" not found in namespace default');
    const shown = parse((await keadm(c, ['get', 'rules', 'dangling', '-o', 'yaml'])).out);
    expect(shown.status.errors.at(-1)).toMatch(/^\S+ rule cannot run: ruleendpoint "nowhere" not found in namespace default$/);
    // too big, too many, too slow
    expect((await call(routerPort, 'POST', `/${NODE}/default/svc/1`, Buffer.alloc(1024 * 1024 + 1))).status).toBe(413);
    slowMs = 5000;
    const flood = await Promise.all(Array.from({ length: 24 }, () => call(routerPort, 'GET', `/${NODE}/default/svc/1`)));
    const codes = flood.map((r) => r.status);
    expect(codes.filter((s) => s === 429).length).toBe(24 - 16);
    expect(codes.filter((s) => s === 504).length).toBe(16);
    expect(JSON.parse((flood.find((r) => r.status === 504) as Reply).body.toString()).message).toBe(`node ${NODE} did not answer within restTimeout (3 s)`);
    slowMs = 0;
    // no such node, and then the edge killed: 503 at once, not a hang
    expect((await call(routerPort, 'GET', '/no-such-node/default/svc/1')).status).toBe(503);
    await edge.proc.kill('SIGKILL');
    await eventually(async () => (await c.api.call('GET', `/api/v1/nodes/${NODE}`)).body.status.conditions[0].status === 'False', 10_000, 'NotReady');
    const t0 = Date.now();
    const gone = await call(routerPort, 'GET', `/${NODE}/default/svc/1`);
    expect(gone.status).toBe(503);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(c.cloud?.child.exitCode).toBeNull();
  });
});
