/**
 * The Debian packages `npm run images` builds (test:arm builds them first): what dpkg-deb says of
 * each, lintian's verdict, and, for every architecture, the package's own native add-ons loading
 * and its edgecore running on that architecture's Node (arm64 and armv7 under qemu, amd64 here).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../peers/proc.js';

const OUT = join(ROOT, 'images', 'out');
const VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
const deb = (name: string, arch: string): string => join(OUT, `${name}_${VERSION}_${arch}.deb`);
const LIB = 'usr/lib/kubeedge-lite';
const ARCHES = [
  { arch: 'amd64', launcher: [process.execPath], nodeArch: 'x64', elf: 0x3e },
  { arch: 'arm64', launcher: ['qemu-aarch64-static', '-L', join(ROOT, '.tmp', 'arm64', 'root'), join(ROOT, '.tmp', 'arm64', 'node')], nodeArch: 'arm64', elf: 0xb7 },
  { arch: 'armhf', launcher: ['qemu-arm-static', '-L', join(ROOT, '.tmp', 'armhf', 'root'), join(ROOT, '.tmp', 'armhf', 'node')], nodeArch: 'arm', elf: 0x28 },
];

describe('the Debian packages', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'ke-debs-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('say what they are: versions, dependencies, conffiles and maintainer scripts', () => {
    const info = (f: string): string => execFileSync('dpkg-deb', ['--info', f], { encoding: 'utf8' });
    const edge = info(deb('kubeedge-lite-edge', 'arm64'));
    expect(edge).toMatch(/^ Package: kubeedge-lite-edge$/m);
    expect(edge).toMatch(/^ Architecture: arm64$/m);
    expect(edge).toMatch(/^ Depends: nodejs \(>= 18\.19\), .*kubeedge-lite-keadm \(= [\d.]+\)$/m);
    expect(edge).toMatch(/^\s+\d+ bytes,\s+1 lines\s+conffiles/m);
    expect(edge).toMatch(/postinst/);
    expect(execFileSync('dpkg-deb', ['--ctrl-tarfile', deb('kubeedge-lite-edge', 'arm64')]).length).toBeGreaterThan(0);
    const conffiles = execFileSync('sh', ['-c', `dpkg-deb --ctrl-tarfile ${deb('kubeedge-lite-edge', 'arm64')} | tar -xOf - ./conffiles`], { encoding: 'utf8' });
    expect(conffiles.trim()).toBe('/etc/kubeedge/config/edgecore.yaml');
    expect(info(deb('kubeedge-lite-cloud', 'all'))).toMatch(/^ Depends: nodejs \(>= 18\.19\), adduser, /m);
    expect(info(deb('kubeedge-lite-keadm', 'all'))).toMatch(/^ Architecture: all$/m);
    const mapper = info(deb('kubeedge-lite-mapper-opcua', 'all'));
    expect(mapper).toMatch(/^ Depends: nodejs \(>= 18\.19\), init-system-helpers .*kubeedge-lite-keadm \(= [\d.]+\)$/m);
    expect(mapper).toMatch(/^ Recommends: kubeedge-lite-edge \(= [\d.]+\)$/m);
    const files = execFileSync('dpkg-deb', ['--contents', deb('kubeedge-lite-mapper-opcua', 'all')], { encoding: 'utf8' });
    for (const f of [`./${LIB}/mapper-opcua.js`, './usr/bin/mapper-opcua -> ../lib/kubeedge-lite/mapper-opcua.js', './lib/systemd/system/mapper-opcua.service']) expect(files).toContain(f);
  });

  it('hold the bundles, the units and the add-ons built for their architecture, and no prebuilt binary', () => {
    for (const { arch } of ARCHES) {
      const files = execFileSync('dpkg-deb', ['--contents', deb('kubeedge-lite-edge', arch)], { encoding: 'utf8' });
      for (const f of [`./${LIB}/edgecore.js`, './usr/bin/edgecore -> ../lib/kubeedge-lite/edgecore.js', './lib/systemd/system/edgecore.service', './lib/systemd/system/kubeedge-firstboot.service', './lib/systemd/system/kubeedge-firstboot.path', './etc/kubeedge/config/edgecore.yaml', `./${LIB}/node_modules/epoll/build/Release/epoll.node`, `./${LIB}/node_modules/@serialport/bindings-cpp/build/Release/bindings.node`]) {
        expect(files, arch).toContain(f);
      }
      expect(files).not.toMatch(/prebuilds\//);
      // only what runs: no declarations, READMEs, sources or mocks from node_modules
      const modules = files.split('\n').filter((l) => l.includes('/node_modules/') && !l.endsWith('/'));
      expect(modules.filter((l) => /\.d\.ts$|README|\.md$|\.c$|\.cpp$|binding\.gyp$|binding-mock|parser-byte-length|\.bin\//.test(l) && !/LICENSE|license/.test(l)), arch).toEqual([]);
    }
    const cloud = execFileSync('dpkg-deb', ['--contents', deb('kubeedge-lite-cloud', 'all')], { encoding: 'utf8' });
    expect(cloud).toContain(`./${LIB}/ui/app.js`);
    const unit = execFileSync('sh', ['-c', `dpkg-deb --fsys-tarfile ${deb('kubeedge-lite-edge', 'amd64')} | tar -xOf - ./lib/systemd/system/edgecore.service`], { encoding: 'utf8' });
    expect(unit).toMatch(/^Type=notify$/m);
    expect(unit).toMatch(/^WatchdogSec=\d+$/m);
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/node --max-semi-space-size=1 --no-sparkplug --liftoff-only \/usr\/lib\/kubeedge-lite\/edgecore\.js --config \/etc\/kubeedge\/config\/edgecore\.yaml$/m);
    expect(execFileSync('sh', ['-c', `dpkg-deb --fsys-tarfile ${deb('kubeedge-lite-cloud', 'all')} | tar -xOf - ./lib/systemd/system/cloudcore.service`], { encoding: 'utf8' })).toMatch(/^User=kubeedge$/m);
  });

  it('are lintian-clean (one override, explained in the package)', () => {
    const files = ['kubeedge-lite-keadm_all', 'kubeedge-lite-cloud_all', 'kubeedge-lite-mapper-opcua_all', ...ARCHES.map((a) => `kubeedge-lite-edge_${a.arch}`)].map((n) => {
      const [name, arch] = n.split('_') as [string, string];
      return deb(name, arch);
    });
    const r = spawnSync('lintian', ['--tag-display-limit', '0', ...files], { encoding: 'utf8' });
    const said = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() !== '' && !/running with root privileges/.test(l));
    expect(said).toEqual([]);
    expect(r.status).toBe(0);
  });

  it.each(ARCHES)('$arch: its add-ons load and its edgecore runs on a Node of that architecture', ({ arch, launcher, nodeArch, elf }) => {
    const dir = join(scratch, arch);
    execFileSync('dpkg-deb', ['-x', deb('kubeedge-lite-edge', arch), dir]);
    execFileSync('dpkg-deb', ['-x', deb('kubeedge-lite-keadm', 'all'), dir]);
    const lib = join(dir, LIB);
    for (const so of [`${lib}/node_modules/epoll/build/Release/epoll.node`, `${lib}/node_modules/@serialport/bindings-cpp/build/Release/bindings.node`]) {
      expect(readFileSync(so).readUInt16LE(18), so).toBe(elf);
    }
    const probe = `const e = require('${lib}/node_modules/epoll'); const { Gpio } = require('${lib}/node_modules/onoff'); const { SerialPort } = require('${lib}/node_modules/serialport');
      console.log(process.arch, typeof e.Epoll, typeof Gpio, typeof SerialPort.list)`;
    const out = execFileSync(launcher[0] as string, [...launcher.slice(1), '-e', probe], { encoding: 'utf8' }).trim();
    expect(out).toBe(`${nodeArch} function function function`);
    expect(execFileSync(launcher[0] as string, [...launcher.slice(1), `${lib}/edgecore.js`, '--version'], { encoding: 'utf8' })).toMatch(/^edgecore version: v[\d.]+/);
    expect(execFileSync(launcher[0] as string, [...launcher.slice(1), `${lib}/keadm.js`, 'version'], { encoding: 'utf8' })).toMatch(/^keadm version: v[\d.]+/);
    // the OPC UA mapper's bundle (node-opcua's client) loads on that Node too
    execFileSync('dpkg-deb', ['-x', deb('kubeedge-lite-mapper-opcua', 'all'), dir]);
    expect(execFileSync(launcher[0] as string, [...launcher.slice(1), `${lib}/mapper-opcua.js`, '--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })).toMatch(/^mapper-opcua version: v[\d.]+/);
  });
});
