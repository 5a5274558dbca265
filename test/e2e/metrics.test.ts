import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCluster, eventually, readyOf, type Cluster, type Edge } from './cluster.js';
import { runBundle, ROOT } from '../peers/proc.js';
import { apiClient } from '../peers/api.js';
import { sample } from '../peers/metrics.js';

/** Prometheus' own checker (Debian's prometheus package): exit 0 and nothing said, or what is wrong */
function promtool(text: string): { status: number | null; out: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

function mqttPub(port: number, topic: string, message: string): void {
  const r = spawnSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-q', '1', '-t', topic, '-m', message], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
}

describe('Prometheus metrics on cloudcore and edgecore', () => {
  let c: Cluster;
  let edge: Edge;
  const cloudMetrics = async (token?: string): Promise<string> => {
    const r = await c.api.call('GET', '/metrics', undefined, token);
    expect(r.status).toBe(200);
    return r.body as string;
  };
  const edgeMetrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${edge.metaPort}/metrics`)).text();

  beforeAll(async () => {
    c = await makeCluster();
    await c.startCloud();
    edge = await c.startEdge('edge-m', { heartbeat: 1 });
    await eventually(async () => readyOf((await c.api.call('GET', '/api/v1/nodes/edge-m')).body) === 'True', 15_000, 'Ready');
  });
  afterAll(() => c.stop());

  it('both pass promtool check metrics, with names and units as Prometheus has them', async () => {
    const cloud = await cloudMetrics();
    const edgeText = await edgeMetrics();
    expect(promtool(cloud)).toEqual({ status: 0, out: '' });
    expect(promtool(edgeText)).toEqual({ status: 0, out: '' });
    expect(sample(cloud, 'cloudcore_connected_edges')).toBe(1);
    expect(sample(edgeText, 'edgecore_link_up')).toBe(1);
    // the round trip is known from the first ping's pong (half a heartbeat after connecting)
    await eventually(async () => (sample(await edgeMetrics(), 'edgecore_link_rtt_seconds') ?? 0) > 0, 5000, 'a round trip measured');
    for (const text of [cloud, edgeText]) {
      expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
      expect(sample(text, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
      expect(text).toMatch(/^# TYPE nodejs_eventloop_lag_p99_seconds gauge$/m);
    }
    // a bad manifest is counted by its code
    await c.api.call('POST', '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices', { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'Device', metadata: { name: 'x' }, spec: {} });
    expect(sample(await cloudMetrics(), 'cloudcore_api_requests_total', { verb: 'POST', code: '422' })).toBe(1);
  });

  it('counts uploads on both sides, and shows the outbox filling in an outage and draining after', async () => {
    const before = await cloudMetrics();
    const upBefore = sample(before, 'cloudcore_messages_total', { direction: 'in', group: 'user', operation: 'upload' }) ?? 0;
    for (let i = 0; i < 5; i++) mqttPub(edge.mqttPort, '$hw/events/upload/meter-1', JSON.stringify({ i }));
    await eventually(async () => (sample(await cloudMetrics(), 'cloudcore_messages_total', { direction: 'in', group: 'user', operation: 'upload' }) ?? 0) >= upBefore + 5, 10_000, 'five uploads counted by the cloud');
    expect(sample(await edgeMetrics(), 'edgecore_mqtt_uploads_total')).toBe(5);
    expect(sample(await edgeMetrics(), 'edgecore_mqtt_messages_received_total')).toBeGreaterThanOrEqual(5);

    // the cloud goes away: uploads wait on disk, and the link is down
    await c.cloud?.kill('SIGKILL');
    await eventually(async () => sample(await edgeMetrics(), 'edgecore_link_up') === 0, 10_000, 'link down');
    for (let i = 0; i < 7; i++) mqttPub(edge.mqttPort, '$hw/events/upload/meter-1', JSON.stringify({ during: i }));
    const during = await edgeMetrics();
    expect(sample(during, 'edgecore_outbox_messages')).toBeGreaterThanOrEqual(7);
    expect(sample(during, 'edgecore_mqtt_uploads_total')).toBe(12);
    // back: the outbox drains to zero, and the new cloudcore counts what it took
    await c.startCloud();
    await eventually(async () => {
      const t = await edgeMetrics();
      return sample(t, 'edgecore_link_up') === 1 && sample(t, 'edgecore_outbox_messages') === 0;
    }, 20_000, 'outbox drained');
    expect(sample(await edgeMetrics(), 'edgecore_link_connects_total')).toBeGreaterThanOrEqual(2);
    expect(sample(await cloudMetrics(), 'cloudcore_messages_total', { direction: 'in', group: 'user', operation: 'upload' })).toBeGreaterThanOrEqual(7);
  });

  it('takes a read-only token from keadm: it reads metrics and objects, and writes nothing; an expired one is refused with the fix', async () => {
    const keadm = (args: string[]) => spawnSync(process.execPath, [join(ROOT, 'dist', 'keadm.js'), ...args, '--config-dir', c.dir], { encoding: 'utf8' });
    const r = keadm(['gettoken', '--read-only', '--ttl', '1h']);
    expect(r.status, r.stderr).toBe(0);
    const ro = r.stdout.trim();
    expect(ro).not.toBe(c.token()); // never a join token
    expect(promtool(await cloudMetrics(ro)).status).toBe(0);
    expect((await c.api.call('GET', '/api/v1/nodes', undefined, ro)).status).toBe(200);
    const write = await c.api.call('POST', '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devicemodels', { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'DeviceModel', metadata: { name: 'm' }, spec: { properties: [] } }, ro);
    expect(write.status).toBe(403);
    expect(write.body.message).toMatch(/read-only token cannot POST/);
    expect((await c.api.call('GET', '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devicemodels/m')).status).toBe(404);
    // a read-only token is not a join token: with this cloud's CA hash before it, the certificate service refuses it
    const caHash = c.token().split('.')[0] as string;
    const joining = runBundle('keadm', ['join', `--cloudcore-ipport=127.0.0.1:${c.hubPort}`, `--certport=${c.certPort}`, `--token=${caHash}.${ro}`, '--edgenode-name=ro-edge', '--config-dir', join(c.dir, 'ro-edge'), '--data-dir', join(c.dir, 'ro-edge-data'), '--foreground']);
    await joining.exited;
    expect(joining.child.exitCode).not.toBe(0);
    expect(joining.lines.join('\n')).toMatch(/signature does not match/);

    const short = keadm(['gettoken', '--read-only', '--ttl', '1s']).stdout.trim();
    await new Promise((res) => setTimeout(res, 2100));
    const expired = await c.api.call('GET', '/metrics', undefined, short);
    expect(expired.status).toBe(401);
    expect(expired.body.message).toMatch(/expired at .*keadm gettoken --read-only/);
    // and a made-up token is refused
    expect((await apiClient(c.apiPort, c.pki.ca.cert, 'nope').call('GET', '/metrics')).status).toBe(401);
  });
});
