/**
 * keadm debug check | diagnose, as KubeEdge names them, for the edge of this host:
 * - check: what an edge needs, one line each (OK or FAIL with the fix): its config, the cloud
 *   reachable (CloudHub and the certificate service, whose certificate must come from our CA), its
 *   certificate (valid, for this node, from that CA), the clock (against the cloud's), the disk, and
 *   the MQTT broker. Exits 1 when anything fails.
 * - diagnose: the node at a glance: edgecore running, the link, the devices it holds, the outbox.
 */
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statfsSync } from 'node:fs';
import { request } from 'node:https';
import { parse } from 'yaml';
import { errorText } from '../core/errors.js';
import { tcpReachable } from '../core/net.js';
import { flags, UsageError } from './flags.js';
import { readNeeded } from './files.js';
import { edgePaths, type Dirs } from './paths.js';
import { alive, pidFile, systemdRuns } from './service.js';

interface EdgeConfig {
  node: string;
  server: string;
  httpServer: string;
  caFile: string;
  certFile: string;
  mqtt: string | undefined;
  metaServer: string;
  dataDir: string;
}

function edgeConfig(dirs: Dirs): EdgeConfig {
  const p = edgePaths(dirs);
  const c = parse(readNeeded(p.config, 'edgecore config', 'run "keadm join" on this host first (or pass --config-dir)')) as {
    database?: { dataSource?: string };
    modules?: {
      edgeHub?: { httpServer?: string; tlsCaFile?: string; tlsCertFile?: string; websocket?: { server?: string } };
      edged?: { hostnameOverride?: string };
      eventBus?: { mqttMode?: number; mqttServerInternal?: string };
      metaManager?: { metaServer?: { server?: string } };
    };
  };
  const m = c.modules ?? {};
  return {
    node: m.edged?.hostnameOverride ?? '',
    server: m.edgeHub?.websocket?.server ?? '127.0.0.1:10000',
    httpServer: m.edgeHub?.httpServer ?? 'https://127.0.0.1:10002',
    caFile: m.edgeHub?.tlsCaFile ?? p.caCert,
    certFile: m.edgeHub?.tlsCertFile ?? p.cert,
    mqtt: (m.eventBus?.mqttMode ?? 0) === 2 ? undefined : (m.eventBus?.mqttServerInternal ?? 'tcp://127.0.0.1:1884'),
    metaServer: m.metaManager?.metaServer?.server ?? '127.0.0.1:10550',
    dataDir: dirs.dataDir,
  };
}

function reachable(hostPort: string, timeoutMs = 3000): Promise<string | undefined> {
  const at = hostPort.lastIndexOf(':');
  return tcpReachable(hostPort.slice(0, at).replace(/^\[|\]$/g, ''), Number(hostPort.slice(at + 1)), timeoutMs);
}

/** GET /ca.crt over TLS checked against our CA: the cloud's certificate service is the one we trust; its Date */
function cloudDate(httpServer: string, ca: Buffer): Promise<{ date: number } | { error: string }> {
  return new Promise((resolve) => {
    const req = request(`${httpServer}/ca.crt`, { ca, timeout: 5000 }, (res) => {
      res.resume();
      const date = Date.parse(res.headers.date ?? '');
      resolve(Number.isNaN(date) ? { error: 'it sent no Date' } : { date });
    });
    req.on('timeout', () => req.destroy(new Error('no answer')));
    req.on('error', (err) => resolve({ error: errorText(err) }));
    req.end();
  });
}

type Line = [ok: boolean, what: string, said: string];

async function check(dirs: Dirs): Promise<number> {
  const cfg = edgeConfig(dirs);
  const lines: Line[] = [[cfg.node !== '', 'config', cfg.node ? `node ${cfg.node}, cloud ${cfg.server}` : 'modules.edged.hostnameOverride is empty; set the node name']];

  const hub = await reachable(cfg.server);
  lines.push([hub === undefined, 'cloud', hub === undefined ? `CloudHub at ${cfg.server} answers` : `CloudHub at ${cfg.server}: ${hub}; is cloudcore running there, and port 10000 open between the two?`]);

  let ca: Buffer | undefined;
  try {
    ca = readFileSync(cfg.caFile);
  } catch (err) {
    lines.push([false, 'certificate', `cannot read the CA ${cfg.caFile}: ${errorText(err)}; run "keadm join"`]);
  }
  if (ca) {
    const got = await cloudDate(cfg.httpServer, ca);
    if ('error' in got) lines.push([false, 'cloud', `the certificate service at ${cfg.httpServer}: ${got.error}`]);
    else {
      const skew = Math.round((Date.now() - got.date) / 1000);
      lines.push([Math.abs(skew) <= 30, 'clock', Math.abs(skew) <= 30 ? `within ${Math.max(1, Math.abs(skew))} s of the cloud's` : `${Math.abs(skew)} s ${skew > 0 ? 'ahead of' : 'behind'} the cloud's: certificates and tokens depend on it; set up NTP (timedatectl set-ntp true)`]);
    }
    try {
      const cert = new X509Certificate(readFileSync(cfg.certFile));
      const caCert = new X509Certificate(ca);
      const days = Math.floor((Date.parse(cert.validTo) - Date.now()) / 86_400_000);
      const cn = /CN=([^\n,]+)/.exec(cert.subject)?.[1] ?? '';
      if (!cert.checkIssued(caCert) || !cert.verify(caCert.publicKey)) lines.push([false, 'certificate', `${cfg.certFile} is not from this cloud's CA; run "keadm reset" and "keadm join" again`]);
      else if (days < 0) lines.push([false, 'certificate', `${cfg.certFile} expired on ${cert.validTo}; edgecore renews it with its token, or run "keadm join" again`]);
      else if (cn !== `system:node:${cfg.node}`) lines.push([false, 'certificate', `${cfg.certFile} is for ${cn}, not system:node:${cfg.node}; join again with this node's name`]);
      else lines.push([true, 'certificate', `for ${cn}, from the cloud's CA, ${days} days left`]);
    } catch (err) {
      lines.push([false, 'certificate', `cannot read ${cfg.certFile}: ${errorText(err)}; run "keadm join"`]);
    }
  }

  try {
    const fs = statfsSync(cfg.dataDir);
    const free = Math.floor((fs.bavail * fs.bsize) / (1024 * 1024));
    lines.push([free >= 64, 'disk', free >= 64 ? `${free} MiB free under ${cfg.dataDir}` : `only ${free} MiB free under ${cfg.dataDir}: the store and the outbox need room; free some`]);
  } catch (err) {
    lines.push([false, 'disk', `${cfg.dataDir}: ${errorText(err)}`]);
  }

  if (cfg.mqtt) {
    const broker = cfg.mqtt.replace(/^\w+:\/\//, '');
    const said = await reachable(broker);
    lines.push([said === undefined, 'broker', said === undefined ? `MQTT at ${cfg.mqtt} answers` : `MQTT at ${cfg.mqtt}: ${said}; is edgecore running (keadm debug diagnose)?`]);
  }

  for (const [ok, what, said] of lines) process.stdout.write(`${ok ? 'OK  ' : 'FAIL'} ${what.padEnd(11)} ${said}\n`);
  return lines.every(([ok]) => ok) ? 0 : 1;
}

function edgecoreRunning(dataDir: string): string {
  if (systemdRuns() && spawnSync('systemctl', ['is-active', '--quiet', 'edgecore.service']).status === 0) return 'running (systemd: edgecore.service)';
  try {
    const pid = Number(readFileSync(pidFile(dataDir, 'edgecore'), 'utf8'));
    return alive(pid) ? `running (pid ${pid})` : `not running (pid ${pid} is gone)`;
  } catch {
    return 'not running (no systemd unit active, no pid file)';
  }
}

async function diagnose(dirs: Dirs): Promise<number> {
  const cfg = edgeConfig(dirs);
  const meta = `http://${cfg.metaServer}`;
  const get = async (path: string): Promise<unknown> => {
    const r = await fetch(`${meta}${path}`, { signal: AbortSignal.timeout(3000) });
    return r.json();
  };
  const out: [string, string][] = [['node', cfg.node], ['edgecore', edgecoreRunning(dirs.dataDir)]];
  const hub = await reachable(cfg.server);
  out.push(['cloud', hub === undefined ? `${cfg.server} reachable` : `${cfg.server}: ${hub}`]);
  try {
    const o = (await get('/outbox')) as { queued?: number; collapsed?: number; dropped?: number };
    out.push(['outbox', `${o.queued ?? 0} waiting for the cloud, ${o.collapsed ?? 0} collapsed, ${o.dropped ?? 0} dropped`]);
    const devices = ((await get('/apis/devices.kubeedge.io/v1beta1/devices')) as { items?: { metadata: { namespace?: string; name: string }; spec?: { protocol?: { protocolName?: string } } }[] }).items ?? [];
    out.push(['devices', devices.length === 0 ? 'none' : devices.map((d) => `${d.metadata.namespace ?? 'default'}/${d.metadata.name} (${d.spec?.protocol?.protocolName ?? 'an app'})`).join(', ')]);
    const pods = ((await get('/api/v1/pods')) as { items?: { metadata: { name: string }; status?: { phase?: string } }[] }).items ?? [];
    out.push(['pods', pods.length === 0 ? 'none' : pods.map((p) => `${p.metadata.name} ${p.status?.phase ?? ''}`.trim()).join(', ')]);
  } catch (err) {
    out.push(['metaserver', `${meta}: ${errorText(err)}; edgecore is not serving (see "edgecore" above)`]);
  }
  for (const [k, v] of out) process.stdout.write(`${k.padEnd(10)} ${v}\n`);
  return 0;
}

export async function debug(argv: readonly string[]): Promise<number> {
  const f = flags(argv, ['config-dir', 'data-dir']);
  const [sub] = f.positional;
  if (sub === 'check') return check(f.dirs());
  if (sub === 'diagnose') return diagnose(f.dirs());
  throw new UsageError('usage: keadm debug check|diagnose [--config-dir DIR] [--data-dir DIR]');
}
