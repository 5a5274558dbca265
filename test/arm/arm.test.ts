/**
 * The bundle on Pi-class CPUs: Node's own arm64 build under qemu-aarch64-static and its armv7l
 * build under qemu-arm-static, each with Debian's libc for the architecture (laid out by
 * test/arm/setup-arm.sh). Each prints its version, then joins a cloudcore (native) over mutual
 * TLS, reaches Ready and receives a device.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../peers/proc.js';
import { makeCluster, eventually, readyOf, device, thermometerModel, type Cluster } from '../e2e/cluster.js';

const DEVICES = '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices';
const ARCHES = [
  { arch: 'arm64', qemu: 'qemu-aarch64-static', nodeArch: 'arm64' },
  { arch: 'armhf', qemu: 'qemu-arm-static', nodeArch: 'arm' },
];

describe.each(ARCHES)('edgecore on $arch (qemu)', ({ arch, qemu, nodeArch }) => {
  const ARM = join(ROOT, '.tmp', arch);
  const launcher = [qemu, '-L', join(ARM, 'root'), join(ARM, 'node')];
  const node = `edge-${arch}`;
  let c: Cluster;
  beforeAll(async () => {
    if (!existsSync(join(ARM, 'node'))) throw new Error('run test/arm/setup-arm.sh first (npm run test:arm does)');
    c = await makeCluster({ keepaliveInterval: 10 });
    await c.startCloud();
  });
  afterAll(() => c?.stop());

  it(`is an ${arch} Node running the bundle`, () => {
    const seen = execFileSync(launcher[0]!, [...launcher.slice(1), '-p', 'process.arch + " " + process.version'], { encoding: 'utf8' }).trim();
    expect(seen).toMatch(new RegExp(`^${nodeArch} v20\\.`));
    const out = execFileSync(launcher[0]!, [...launcher.slice(1), join(ROOT, 'dist', 'edgecore.js'), '--version'], { encoding: 'utf8' });
    expect(out).toMatch(/^edgecore version: v\d+\.\d+\.\d+/);
  });

  it('holds a real link session: Ready, then a device delivered and acknowledged', async () => {
    const edge = await c.startEdge(node, { launcher, heartbeat: 5, handshakeTimeout: 30, readyTimeoutMs: 60_000 });
    await eventually(async () => readyOf((await c.api.call('GET', `/api/v1/nodes/${node}`)).body) === 'True', 60_000, `${arch} edge Ready`);
    expect((await c.api.call('POST', `${DEVICES}/../devicemodels`, thermometerModel)).status).toBe(201);
    expect((await c.api.call('POST', DEVICES, device('arm-thermo', node))).status).toBe(201);
    await eventually(async () => (await edge.meta(`${DEVICES}/arm-thermo`)).status === 200, 60_000, `device at the ${arch} edge`);
    await edge.proc.waitFor(/applied insert default\/device\/arm-thermo/);
  }, 180_000);
});
