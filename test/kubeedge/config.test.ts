/**
 * KubeEdge users' own config files: our cloudcore and edgecore start from what KubeEdge v1.23's
 * `cloudcore --defaultconfig` and `edgecore --defaultconfig` print (../shared/kubeedge/bin), with only
 * the edits a user makes (the token, the cloud's address, the folders); every KubeEdge key we do not
 * use is named once per module in the log; the edge joins the cloud and is Ready. A misspelt key is
 * still refused by name, with the key it was meant to be.
 */
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ROOT, runBundle, type Proc } from '../peers/proc.js';
import { requireKubeEdge, kubeedgeBinary } from './real.js';

const theirs = (name: 'cloudcore' | 'edgecore'): string => spawnSync(kubeedgeBinary(name), ['--defaultconfig'], { encoding: 'utf8' }).stdout;
const keadm = (args: string[]) => spawnSync(process.execPath, [join(ROOT, 'dist', 'keadm.js'), ...args], { encoding: 'utf8', timeout: 60_000 });

describe("KubeEdge's own config files", () => {
  beforeAll(() => requireKubeEdge());
  let dir: string;
  let cloud: Proc | undefined;
  let edge: Proc | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ke-config-'));
  });
  afterAll(async () => {
    await edge?.kill('SIGKILL');
    await cloud?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('start our cloudcore and edgecore, which say what they ignore, and the edge is Ready', async () => {
    // the address and the folders a user would change; nothing else (without a default route, as
    // here, KubeEdge's own --defaultconfig advertises "<nil>")
    const cloudYaml = join(dir, 'etc', 'config', 'cloudcore.yaml'); // where keadm gettoken looks, as under /etc/kubeedge
    mkdirSync(join(dir, 'etc', 'config'), { recursive: true });
    const cloudText = theirs('cloudcore').replace(/advertiseAddress:\n(\s+)- .*/, 'advertiseAddress:\n$1- 127.0.0.1');
    const cloudConfig = parse(cloudText.replaceAll('/etc/kubeedge', join(dir, 'etc')).replaceAll('/var/lib/kubeedge', join(dir, 'var')));
    // our store, which KubeEdge's config has no key for (its cloud keeps objects in Kubernetes); the
    // token files follow the CA, into the test's folder, with no key of ours
    cloudConfig.database = { dataSource: join(dir, 'var', 'cloudcore.db') };
    writeFileSync(cloudYaml, stringify(cloudConfig));
    cloud = runBundle('cloudcore', ['--config', cloudYaml]);
    await cloud.waitFor(/cloudcore is running/, 30_000);
    expect(cloud.lines.filter((l) => /KubeEdge's .* not used here; ignored/.test(l)).length).toBeGreaterThan(2);
    expect(cloud.lines.join('\n')).toMatch(/modules\.cloudHub: KubeEdge's authorization, quic, unixsocket, writeTimeout are not used here; ignored/);
    // dnsNames is honoured: KubeEdge's default lists "", which names nothing
    expect(cloud.lines.join('\n')).toMatch(/made the server certificate \S+ for 127\.0\.0\.1, localhost/);

    const token = keadm(['gettoken', '--config-dir', join(dir, 'etc'), '--data-dir', join(dir, 'var')]).stdout.trim();
    expect(token).not.toBe('');
    expect(readFileSync(join(dir, 'etc', 'tokens', 'token'), 'utf8').trim()).toBe(token);
    expect(existsSync(join(dir, 'etc', 'admin.token'))).toBe(true);
    const edgeYaml = join(dir, 'edgecore.yaml');
    const edgeConfig = parse(
      theirs('edgecore')
        .replace(/token: ""/, `token: ${token}`)
        .replace(/httpServer: .*/, 'httpServer: https://127.0.0.1:10002')
        .replace(/server: .*:10000/, 'server: 127.0.0.1:10000')
        .replace(/hostnameOverride: .*/, 'hostnameOverride: ke-file-edge')
        .replaceAll('/etc/kubeedge', join(dir, 'edge-etc'))
        .replaceAll('/var/lib/kubeedge', join(dir, 'edge-var'))
        .replaceAll('/var/lib/kubelet', join(dir, 'kubelet')),
    );
    edgeConfig.modules.deviceTwin.manifestDir = join(dir, 'edge-etc', 'devices'); // ours alone: kept off the host too
    writeFileSync(edgeYaml, stringify(edgeConfig));
    edge = runBundle('edgecore', ['--config', edgeYaml]);
    await edge.waitFor(/connected to wss:\/\/127\.0\.0\.1:10000/, 60_000);
    const said = edge.lines.join('\n');
    expect(said).toMatch(/modules: KubeEdge's dbTest, edgeStream, taskManager are not used here; ignored/);
    expect(said).toMatch(/modules\.edgeHub: KubeEdge's quic, rotateCertificates are not used here; ignored/);
    await cloud.waitFor(/node ke-file-edge is Ready/, 30_000);
  });

  it('makes a new server certificate when an address or name is added, and the edge keeps its link', async () => {
    const yamlPath = join(dir, 'etc', 'config', 'cloudcore.yaml');
    const config = parse(readFileSync(yamlPath, 'utf8'));
    config.modules.cloudHub.advertiseAddress = ['127.0.0.1', '10.9.8.7'];
    config.modules.cloudHub.dnsNames = ['cloud.example'];
    writeFileSync(yamlPath, stringify(config));
    await cloud?.kill('SIGKILL');
    cloud = runBundle('cloudcore', ['--config', yamlPath]);
    await cloud.waitFor(/cloudcore is running/, 30_000);
    expect(cloud.lines.join('\n')).toMatch(/made the server certificate \S+ for 127\.0\.0\.1, 10\.9\.8\.7, cloud\.example, localhost \(the one before did not cover 10\.9\.8\.7, cloud\.example\)/);
    const cert = new X509Certificate(readFileSync(config.modules.cloudHub.tlsCertFile));
    expect(cert.checkIP('10.9.8.7')).toBe('10.9.8.7');
    expect(cert.checkHost('cloud.example')).toBe('cloud.example');
    // the edge trusts the CA, not the certificate: it is back on the new one
    await cloud.waitFor(/node ke-file-edge is Ready/, 60_000);
    // and a restart with nothing new keeps the certificate
    await cloud.kill('SIGKILL');
    cloud = runBundle('cloudcore', ['--config', yamlPath]);
    await cloud.waitFor(/cloudcore is running/, 30_000);
    expect(cloud.lines.join('\n')).not.toMatch(/made the server certificate/);
  });

  it('refuses a misspelt key by name, with the key it was meant to be', () => {
    const bad = join(dir, 'bad-edgecore.yaml');
    writeFileSync(bad, theirs('edgecore').replace(/^(\s+)heartbeat: 15$/m, '$1heartbaet: 15'));
    const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'edgecore.js'), '--config', bad], { encoding: 'utf8', env: { ...process.env, CHECK_EDGECORE_ENVIRONMENT: 'false' } });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('modules.edgeHub.heartbaet: unknown key (did you mean heartbeat?)');
    const badCloud = join(dir, 'bad-cloudcore.yaml');
    writeFileSync(badCloud, readFileSync(join(dir, 'etc', 'config', 'cloudcore.yaml'), 'utf8').replace(/^(\s+)advertiseAddress:/m, '$1advertiseAdress:'));
    const c = spawnSync(process.execPath, [join(ROOT, 'dist', 'cloudcore.js'), '--config', badCloud], { encoding: 'utf8' });
    expect(c.status).toBe(1);
    expect(c.stderr).toContain('modules.cloudHub.advertiseAdress: unknown key (did you mean advertiseAddress?)');
  });
});
