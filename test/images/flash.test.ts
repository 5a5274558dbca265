/**
 * The image recipe: a disk image laid out as Raspberry Pi OS lays out its own (an MBR, a FAT boot
 * partition, an ext4 root; here the root is the clean Debian 12 of setup-root.sh, made with
 * mke2fs -d), images/flash.sh puts the packages and a first-boot file into it without mounting it
 * and without a network, and the image "boots": its root, read back out of the image with debugfs,
 * runs as a systemd machine with its boot partition at /boot/firmware, installs the packages from
 * the files flash.sh left, and joins the cloudcore the first-boot file names.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../peers/proc.js';
import { makeCluster, readyOf, type Cluster } from '../e2e/cluster.js';
import { bootMachine, type Machine } from './machine.js';

const NODE = 'pi-flashed';
const SECTOR = 512;
const BOOT = { start: 2048, size: 65536 }; // 32 MiB, as a Pi's /boot/firmware starts at 4 MiB… here at 1 MiB
const ROOT_START = BOOT.start + BOOT.size;

describe('images/flash.sh: packages and a first-boot file into a disk image, offline', () => {
  let c: Cluster;
  let m: Machine | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'ke-flash-'));
  const image = join(dir, 'gateway.img');
  const rootfs = `${image}?offset=${ROOT_START * SECTOR}`;
  const debugfs = (cmd: string): string => execFileSync('debugfs', ['-R', cmd, rootfs], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });

  beforeAll(async () => {
    if (!existsSync(join(ROOT, '.tmp', 'debian-root', 'usr', 'bin', 'node'))) throw new Error('run test/images/setup-root.sh first (npm run test:images does)');
    c = await makeCluster({ keepaliveInterval: 30 });
    await c.startCloud();
    // a 700 MiB sparse disk: MBR, FAT16 boot, ext4 root holding a clean Debian 12
    const total = (700 * 1024 * 1024) / SECTOR;
    execFileSync('truncate', ['-s', `${total * SECTOR}`, image]);
    execFileSync('sfdisk', ['-q', image], { input: `label: dos\nstart=${BOOT.start}, size=${BOOT.size}, type=c\nstart=${ROOT_START}, type=83\n` });
    execFileSync('mkfs.vfat', ['-F', '16', '--offset', String(BOOT.start), image, String((BOOT.size * SECTOR) / 1024)], { stdio: 'ignore' });
    execFileSync('mke2fs', ['-q', '-t', 'ext4', '-E', `offset=${ROOT_START * SECTOR}`, '-d', join(ROOT, '.tmp', 'debian-root'), image, `${((total - ROOT_START) * SECTOR) / 1024}k`], { stdio: 'ignore' });
  }, 120_000);
  afterAll(async () => {
    m?.remove();
    await c?.stop();
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  });

  it('writes the packages, an install unit that runs at boot, and kubeedge.yaml on the boot partition', () => {
    const firstboot = join(dir, 'kubeedge.yaml');
    writeFileSync(firstboot, `# for ${NODE}\ncloudcore: 127.0.0.1:${c.hubPort}\ncertPort: ${c.certPort}\ntoken: ${c.token()}\nnodeName: ${NODE}\n`);
    const r = spawnSync('bash', [join(ROOT, 'images', 'flash.sh'), '--image', image, '--arch', 'amd64', '--firstboot', firstboot, '--debs', join(ROOT, 'images', 'out')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/2 packages and kubeedge-install\.service written into the root filesystem/);
    const debs = debugfs('ls -l /var/cache/kubeedge-lite/debs');
    expect(debs).toMatch(/kubeedge-lite-edge_[\d.]+_amd64\.deb/);
    expect(debs).toMatch(/kubeedge-lite-keadm_[\d.]+_all\.deb/);
    expect(debugfs('stat /etc/systemd/system/multi-user.target.wants/kubeedge-install.service')).toMatch(/Type: symlink/);
    expect(debugfs('cat /etc/systemd/system/kubeedge-install.service')).toMatch(/apt-get install -y --no-install-recommends \/var\/cache\/kubeedge-lite\/debs\/\*\.deb/);
    const onBoot = execFileSync('mtype', ['-i', `${image}@@${BOOT.start * SECTOR}`, '::kubeedge.yaml'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(onBoot).toContain(`nodeName: ${NODE}`);
    // what the image had stays: its own files are untouched
    expect(debugfs('cat /etc/debian_version')).toMatch(/^12\./);
  });

  it('boots: the packages install from the image, the gateway joins, and the token leaves the boot partition', async () => {
    // the booted root and its /boot/firmware, read back out of the image
    const root = join(dir, 'booted');
    const boot = join(dir, 'boot');
    mkdirSync(root);
    mkdirSync(boot);
    execFileSync('debugfs', ['-R', `rdump / ${root}`, rootfs], { stdio: 'ignore' });
    execFileSync('mcopy', ['-s', '-n', '-i', `${image}@@${BOOT.start * SECTOR}`, '::kubeedge.yaml', `${boot}/`], { stdio: 'ignore' });
    m = await bootMachine(dir, root, { hostname: NODE, volumes: [`${boot}:/boot/firmware`] });
    const machine = m;
    await machine.until(async () => machine.show('kubeedge-install.service', 'Result') === 'success' && machine.show('kubeedge-install.service', 'ActiveState') === 'inactive', 90_000, 'packages installed at boot', 'kubeedge-install');
    expect(machine.sh("dpkg-query -W -f '${Status}' kubeedge-lite-edge")).toBe('install ok installed');
    expect(machine.sh('ls /var/cache/kubeedge-lite 2>&1 || true')).not.toMatch(/\.deb/);
    await machine.until(async () => readyOf((await c.api.call('GET', `/api/v1/nodes/${NODE}`)).body) === 'True', 90_000, 'the flashed gateway Ready', 'kubeedge-firstboot');
    const after = readFileSync(join(boot, 'kubeedge.yaml'), 'utf8');
    expect(after).not.toMatch(/^token:/m);
    expect(after).toContain(`nodeName: ${NODE}`);
    expect(machine.show('edgecore.service', 'ActiveState')).toBe('active');
  }, 240_000);
});
