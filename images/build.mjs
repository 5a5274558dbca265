// npm run images: Debian packages for amd64, arm64 and armhf into images/out/.
//   kubeedge-lite-edge_<v>_<arch>.deb   edgecore, its native add-ons (serialport, epoll for onoff) built
//                                        here for the architecture by Debian's cross compilers on
//                                        Node-API (one build for every Node the package accepts), the
//                                        edgecore and first-boot units, a default (standalone) config
//   kubeedge-lite-cloud_<v>_all.deb     cloudcore and its dashboard, run as the system user kubeedge
//   kubeedge-lite-keadm_<v>_all.deb     keadm, which both need
//   kubeedge-lite-mapper-opcua_<v>_all.deb   the OPC UA mapper (optional), its unit enabled on install
// Needs dpkg-deb, g++ and g++-aarch64-linux-gnu / g++-arm-linux-gnueabihf (.ci/run installs them; a missing one is named first),
// Node's headers (/usr/include/node) and the npm registry (the add-ons' sources). `npm run images -- arm64`
// builds one architecture. Every file is owned by root; two builds of one commit are byte-identical (test/images/reproducible.test.ts): the add-ons install from a lock cut from the project's, and every time is the commit's.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, lstatSync, lutimesSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = process.env.KUBEEDGE_PACKAGE_OUT ?? join(ROOT, 'images', 'out');
const WORK = join(OUT, 'build');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
const VERSION = process.env.KUBEEDGE_PACKAGE_VERSION ?? pkg.version;
const MAINTAINER = 'kubeedge-lite maintainers <maintainers@kubeedge-lite.org>';
/** Debian 12 and Raspberry Pi OS 12 ship nodejs 18.19; the bundles run on 18.19 and later (test/images) */
const NODE_DEPENDS = 'nodejs (>= 18.19)';
const LIB = '/usr/lib/kubeedge-lite';
/** the Node flags a bundle runs with, read from the shebang build.mjs gave it: its unit passes the same */
function nodeFlags(bundle) {
  const shebang = /^#!\/usr\/bin\/env -S node ([^\n]*)/.exec(readFileSync(join(ROOT, 'dist', bundle), 'utf8').slice(0, 512));
  if (!shebang) throw new Error(`dist/${bundle} has no "#!/usr/bin/env -S node" line: run npm run build`);
  return shebang[1];
}

const ARCHES = {
  amd64: { gyp: 'x64', prefix: '', elf: 0x3e },
  arm64: { gyp: 'arm64', prefix: 'aarch64-linux-gnu-', elf: 0xb7 },
  armhf: { gyp: 'arm', prefix: 'arm-linux-gnueabihf-', elf: 0x28 },
};
const wanted = process.argv.slice(2).filter((a) => a in ARCHES);
const arches = wanted.length > 0 ? wanted : Object.keys(ARCHES);

const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', ...opts });
const version = (name) => lock.packages[`node_modules/${name}`]?.version ?? (() => { throw new Error(`${name} is not in package-lock.json`); })();

function write(path, text, mode = 0o644) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, mode);
}

/** a unit from images/systemd with the installed paths */
function unit(name) {
  const bundle = `${name.startsWith('cloudcore') ? 'cloudcore' : name.startsWith('mapper-opcua') ? 'mapper-opcua' : 'edgecore'}.js`;
  return readFileSync(join(ROOT, 'images', 'systemd', name), 'utf8')
    .replaceAll('@NODE@', '/usr/bin/node')
    .replaceAll('@NODE_FLAGS@', nodeFlags(bundle))
    .replaceAll('@BUNDLE@', `${LIB}/${bundle}`)
    .replaceAll('@KEADM@', `${LIB}/keadm.js`)
    .replaceAll('@CONFIG@', `/etc/kubeedge/config/${name.startsWith('cloudcore') ? 'cloudcore' : 'edgecore'}.yaml`);
}

function control(fields) {
  return Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join('\n') + '\n';
}

/** the installed size in KiB, as dpkg wants it */
function sizeKiB(dir) {
  let n = 0;
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) n += statSync(p).size;
    }
  };
  walk(dir);
  return Math.ceil(n / 1024);
}

function docs(root, name) {
  const dir = join(root, 'usr', 'share', 'doc', name);
  write(join(dir, 'copyright'), `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: kubeedge-lite\n\nFiles: *\nCopyright: 2026 The kubeedge-lite authors\nLicense: Apache-2.0\n On Debian systems, the full text of the Apache License 2.0 is in\n /usr/share/common-licenses/Apache-2.0.\n`);
  // a native package (no Debian revision): changelog.gz
  const changelog = join(dir, 'changelog.gz');
  writeFileSync(changelog, execFileSync('gzip', ['-9n'], { input: `${name} (${VERSION}) unstable; urgency=medium\n\n  * Built from the kubeedge-lite tree by images/build.mjs.\n\n -- ${MAINTAINER}  ${new Date(EPOCH * 1000).toUTCString().replace('GMT', '+0000')}\n` }));
  chmodSync(changelog, 0o644);
}

/** a manual page made of the program's own --help */
function manpage(root, program, summary) {
  const help = run(process.execPath, [join(ROOT, 'dist', `${program}.js`), '--help']).replace(/\\/g, '\\e').replace(/^([.'])/gm, '\\&$1');
  const page = `.TH ${program.toUpperCase()} 1 "" "kubeedge-lite ${VERSION}" "User Commands"\n.SH NAME\n${program} \\- ${summary}\n.SH SYNOPSIS\n.nf\n${help}.fi\n`;
  const file = join(root, 'usr', 'share', 'man', 'man1', `${program}.1.gz`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, execFileSync('gzip', ['-9n'], { input: page }));
  chmodSync(file, 0o644);
}

/** the one lintian tag left, explained where lintian reads it */
function overrides(root, name, bundle) {
  write(join(root, 'usr', 'share', 'lintian', 'overrides', name), `# the bundle's shebang is "#!/usr/bin/env -S node ${nodeFlags(bundle)}": env -S is how a
# script passes Node flags (a small young generation, baseline-compiled WebAssembly: MiBs of RSS on a Pi)
${name}: unusual-interpreter -S [usr/lib/kubeedge-lite/${bundle}]
`);
}

/**
 * The time every file of a package carries, and its archive members: the commit's (reproducible-builds.org's
 * SOURCE_DATE_EPOCH when set), so two builds of one commit are the same bytes.
 */
const EPOCH = Number(process.env.SOURCE_DATE_EPOCH ?? (() => {
  try {
    return execFileSync('git', ['log', '-1', '--format=%ct'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || '0';
  } catch {
    return '0'; // not a git checkout (a source tarball)
  }
})());

function setTimes(path) {
  if (lstatSync(path).isDirectory()) for (const f of readdirSync(path)) setTimes(join(path, f));
  lutimesSync(path, EPOCH, EPOCH);
}

function build(root, name, arch) {
  const file = join(OUT, `${name}_${VERSION}_${arch}.deb`);
  setTimes(root);
  run('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', root, file], { env: { ...process.env, SOURCE_DATE_EPOCH: String(EPOCH) } });
  console.log(`${file.replace(ROOT + '/', '')}  ${(statSync(file).size / 1024).toFixed(0)} KiB`);
  return file;
}

/**
 * A package.json and lock for the add-ons, cut from the project's own lock: the packages `roots`
 * reach, at the versions and integrities the project has tested, so two builds of one commit install
 * the same bytes (`npm install name@version` would let their dependencies float).
 */
function addonLock(roots) {
  const entries = lock.packages;
  const picked = {};
  // npm's resolution: a dependency of node_modules/a/node_modules/b is looked for under b, then a, then the top
  const resolve = (from, name) => {
    for (let at = from; ; at = at.slice(0, at.lastIndexOf('/node_modules/'))) {
      if (entries[`${at}/node_modules/${name}`]) return `${at}/node_modules/${name}`;
      if (!at.includes('/node_modules/')) break;
    }
    return entries[`node_modules/${name}`] ? `node_modules/${name}` : undefined;
  };
  const visit = (key) => {
    if (picked[key]) return;
    const { dev, devOptional, optional, peer, ...entry } = entries[key];
    picked[key] = entry;
    for (const name of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) {
      const dep = resolve(key, name);
      if (dep === undefined) throw new Error(`${name}, a dependency of ${key}, is not in package-lock.json`);
      visit(dep);
    }
  };
  for (const name of roots) visit(`node_modules/${name}`);
  const dependencies = Object.fromEntries(roots.map((name) => [name, version(name)]));
  const manifest = { name: 'kubeedge-lite-addons', version: VERSION, private: true, dependencies };
  return { manifest, lockfile: { name: manifest.name, version: VERSION, lockfileVersion: 3, requires: true, packages: { '': { name: manifest.name, version: VERSION, dependencies }, ...picked } } };
}

/** serialport's and epoll's native parts, built from their npm sources for one architecture */
function addons(arch) {
  const a = ARCHES[arch];
  const dir = join(WORK, `addons-${arch}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const { manifest, lockfile } = addonLock(['serialport', 'onoff']);
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(lockfile, null, 2));
  run('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: dir });
  const gyp = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  const env = { ...process.env, CC: `${a.prefix}gcc`, CXX: `${a.prefix}g++`, LINK: `${a.prefix}g++`, AR: `${a.prefix}ar` };
  for (const mod of ['epoll', '@serialport/bindings-cpp']) {
    const m = join(dir, 'node_modules', mod);
    // never a binary someone else built: node-gyp-build would take prebuilds/ before anything else is missing
    rmSync(join(m, 'prebuilds'), { recursive: true, force: true });
    if (mod === 'epoll') {
      // ours, on Node-API (drivers/gpio/epoll): npm's is built with nan for one Node's ABI, and Debian 12's Node 18
      // refuses a build made for Node 20; the package's JavaScript (which loads build/Release/epoll.node) stays
      mkdirSync(join(m, 'build', 'Release'), { recursive: true });
      run(`${a.prefix}gcc`, ['-shared', '-fPIC', '-O2', '-Wall', '-Werror', '-I/usr/include/node', join(ROOT, 'drivers', 'gpio', 'epoll', 'epoll.c'), '-o', join(m, 'build', 'Release', 'epoll.node'), '-lpthread']);
    } else {
      run(process.execPath, [gyp, 'rebuild', `--arch=${a.gyp}`, '--nodedir=/usr', '--jobs=2', '--loglevel=error'], { cwd: m, env, stdio: ['ignore', 'ignore', 'inherit'] });
    }
    const built = readdirSync(join(m, 'build', 'Release')).find((f) => f.endsWith('.node'));
    const elf = readFileSync(join(m, 'build', 'Release', built)).readUInt16LE(18);
    if (elf !== a.elf) throw new Error(`${mod} was built for ELF machine ${elf}, not ${arch}`);
    // what loads at run time is build/Release/*.node; the compiler's leftovers go
    for (const f of readdirSync(join(m, 'build'))) if (f !== 'Release') rmSync(join(m, 'build', f), { recursive: true, force: true });
    for (const f of readdirSync(join(m, 'build', 'Release'))) if (!f.endsWith('.node')) rmSync(join(m, 'build', 'Release', f), { recursive: true, force: true });
    run(`${a.prefix}strip`, ['--strip-unneeded', join(m, 'build', 'Release', built)]);
    chmodSync(join(m, 'build', 'Release', built), 0o644); // a shared object is loaded, not run
  }
  // serialport's entry loads every parser and a mock binding besides SerialPort, which is all that
  // edgecore and modbus-serial take from it: the package's main becomes the file that holds it
  const sp = join(dir, 'node_modules', 'serialport');
  const spPkg = JSON.parse(readFileSync(join(sp, 'package.json'), 'utf8'));
  if (!existsSync(join(sp, 'dist', 'serialport.js'))) throw new Error('serialport has no dist/serialport.js: look again at what its entry loads');
  writeFileSync(join(sp, 'package.json'), JSON.stringify({ ...spPkg, main: './dist/serialport.js', types: undefined }, null, 2) + '\n');
  keepWhatRuns(join(dir, 'node_modules'), ['serialport', 'onoff']);
  return join(dir, 'node_modules');
}

/**
 * Removes from `modules` every file that loading `entries` does not reach (found by following
 * require() calls from each package's main), except each kept package's package.json and licence
 * and the native add-ons (loaded by a computed path): no sources, type declarations, READMEs, mocks.
 */
function keepWhatRuns(modules, entries) {
  const reached = new Set();
  const BUILTIN = new Set(['fs', 'path', 'os', 'events', 'stream', 'util', 'child_process', 'assert', 'tty', 'net', 'crypto', 'buffer', 'url', 'timers', 'string_decoder']);
  const asFile = (p) => [p, `${p}.js`, `${p}.json`, join(p, 'index.js')].find((f) => existsSync(f) && statSync(f).isFile());
  const packageDir = (spec) => join(modules, ...spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1));
  const resolve = (spec, from) => {
    if (spec.startsWith('.')) return asFile(join(dirname(from), spec));
    if (spec.startsWith('node:') || BUILTIN.has(spec.split('/')[0])) return undefined;
    const pkgDir = packageDir(spec);
    if (!existsSync(pkgDir)) return undefined; // optional, or a peer that is not there
    const rest = spec.split('/').slice(spec.startsWith('@') ? 2 : 1).join('/');
    if (rest) return asFile(join(pkgDir, rest));
    const main = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).main ?? 'index.js';
    return asFile(join(pkgDir, main));
  };
  const visit = (file) => {
    if (!file || reached.has(file)) return;
    reached.add(file);
    if (!file.endsWith('.js')) return;
    for (const m of readFileSync(file, 'utf8').matchAll(/require\(\s*["']([^"']+)["']\s*\)/g)) visit(resolve(m[1], file));
  };
  for (const e of entries) visit(resolve(e, join(modules, 'entry.js')));
  const packages = new Set([...reached].map((f) => {
    const rel = f.slice(modules.length + 1).split('/');
    return rel.slice(0, rel[0].startsWith('@') ? 2 : 1).join('/');
  }));
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        walk(p);
        if (readdirSync(p).length === 0) rmSync(p, { recursive: true });
        continue;
      }
      const rel = p.slice(modules.length + 1);
      const parts = rel.split('/');
      const pkgName = parts.slice(0, parts[0].startsWith('@') ? 2 : 1).join('/');
      const inPkg = parts.slice(pkgName.split('/').length).join('/');
      const keep = packages.has(pkgName) && (reached.has(p) || inPkg === 'package.json' || /^LICEN[CS]E/i.test(inPkg) || p.endsWith('.node'));
      if (!keep) rmSync(p);
    }
  };
  walk(modules);
}

const POSTINST_EDGE = `#!/bin/sh
set -e
if [ "$1" = configure ]; then
  mkdir -p /var/lib/kubeedge /etc/kubeedge/devices
  for u in edgecore.service kubeedge-firstboot.service kubeedge-firstboot.path; do
    deb-systemd-helper unmask "$u" >/dev/null || true
    deb-systemd-helper enable "$u" >/dev/null || true
  done
  if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
    # an upgrade restarts edgecore (its store, twins and outbox are on disk); a first install starts it
    deb-systemd-invoke restart edgecore.service || echo "edgecore did not start: journalctl -u edgecore -p warning" >&2
    deb-systemd-invoke start kubeedge-firstboot.path >/dev/null || true
  fi
fi
exit 0
`;
const PRERM = (units) => `#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
  deb-systemd-invoke stop ${units} >/dev/null || true
fi
exit 0
`;
const POSTINST_MAPPER = `#!/bin/sh
set -e
if [ "$1" = configure ]; then
  mkdir -p /var/lib/kubeedge/mapper-opcua /etc/kubeedge
  deb-systemd-helper unmask mapper-opcua.service >/dev/null || true
  deb-systemd-helper enable mapper-opcua.service >/dev/null || true
  if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
    deb-systemd-invoke restart mapper-opcua.service || echo "mapper-opcua did not start: journalctl -u mapper-opcua" >&2
  fi
fi
exit 0
`;
const POSTRM = (units) => `#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl --system daemon-reload >/dev/null || true; fi
if [ "$1" = remove ]; then deb-systemd-helper mask ${units} >/dev/null || true; fi
if [ "$1" = purge ]; then deb-systemd-helper purge ${units} >/dev/null || true; deb-systemd-helper unmask ${units} >/dev/null || true; fi
exit 0
`;
const POSTINST_CLOUD = `#!/bin/sh
set -e
if [ "$1" = configure ]; then
  if ! getent passwd kubeedge >/dev/null; then
    adduser --system --group --home /var/lib/kubeedge --no-create-home --gecos "KubeEdge cloudcore" kubeedge >/dev/null
  fi
  mkdir -p /var/lib/kubeedge /etc/kubeedge
  chown kubeedge:kubeedge /var/lib/kubeedge
  deb-systemd-helper unmask cloudcore.service >/dev/null || true
  deb-systemd-helper enable cloudcore.service >/dev/null || true
  if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
    # cloudcore needs a config: "keadm init" writes one (and its CA); then the unit runs it
    if [ -f /etc/kubeedge/config/cloudcore.yaml ]; then deb-systemd-invoke restart cloudcore.service || true; fi
  fi
fi
exit 0
`;

/** the config a package installs: a standalone edge (devices from /etc/kubeedge/devices); keadm join replaces it */
const DEFAULT_EDGE_CONFIG = `# kubeedge-lite packaged default: a standalone edge. "keadm join" (or /boot/firmware/kubeedge.yaml
# at first boot) replaces this file with one that names the cloud; edit it, and upgrades keep it.
apiVersion: edgecore.config.kubeedge.io/v1alpha2
kind: EdgeCore
database:
  dataSource: /var/lib/kubeedge/edgecore.db
modules:
  edgeHub:
    enable: false
  deviceTwin:
    manifestDir: /etc/kubeedge/devices
`;

/**
 * The tools the packages need, checked before anything is made: what is missing is named in one
 * line with the Debian packages that bring it (rather than a compiler's traceback 90 lines later).
 */
function checkTools() {
  const onPath = (cmd) => (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, cmd)));
  const need = [
    ['dpkg-deb', 'dpkg'],
    ['gzip', 'gzip'],
    ['python3', 'python3'],
    ['make', 'make'],
    ...arches.flatMap((arch) => {
      const p = ARCHES[arch].prefix;
      // the cross g++ brings its gcc and binutils (strip)
      const pkg = p ? `g++-${p.slice(0, -1)}` : 'g++';
      return [[`${p}gcc`, pkg], [`${p}g++`, pkg], [`${p}strip`, pkg]];
    }),
  ];
  const missing = need.filter(([cmd]) => !onPath(cmd));
  const headers = existsSync('/usr/include/node/node_api.h');
  if (missing.length === 0 && headers) return;
  const packages = [...new Set(missing.map(([, pkg]) => pkg))];
  const what = [...missing.map(([cmd]) => cmd), ...(headers ? [] : ['/usr/include/node/node_api.h'])];
  const install = [...packages, ...(headers ? [] : ['libnode-dev'])].join(' ');
  console.error(`npm run images: ${what.join(', ')} not found: apt-get install ${install}${wanted.length === 0 ? ' (or build one architecture: npm run images -- amd64)' : ''}`);
  process.exit(1);
}

checkTools();
// the bundles, fresh
execFileSync(process.execPath, [join(ROOT, 'build.mjs')], { stdio: 'inherit' });
rmSync(WORK, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
const built = [];

// keadm: architecture-independent
{
  const root = join(WORK, 'keadm');
  write(join(root, LIB.slice(1), 'keadm.js'), readFileSync(join(ROOT, 'dist', 'keadm.js'), 'utf8'), 0o755);
  // the bundles are ES modules: Node before 20.19 does not tell that from their syntax
  write(join(root, LIB.slice(1), 'package.json'), '{ "type": "module" }\n');
  mkdirSync(join(root, 'usr', 'bin'), { recursive: true });
  symlinkSync('../lib/kubeedge-lite/keadm.js', join(root, 'usr', 'bin', 'keadm'));
  // keadm writes units from these templates (init, join)
  for (const u of ['edgecore.service', 'cloudcore.service']) write(join(root, LIB.slice(1), 'systemd', u), readFileSync(join(ROOT, 'images', 'systemd', u), 'utf8'));
  docs(root, 'kubeedge-lite-keadm');
  manpage(root, 'keadm', 'install and manage KubeEdge cloud and edge nodes');
  overrides(root, 'kubeedge-lite-keadm', 'keadm.js');
  write(join(root, 'DEBIAN', 'control'), control({ Package: 'kubeedge-lite-keadm', Version: VERSION, Architecture: 'all', Maintainer: MAINTAINER, 'Installed-Size': sizeKiB(root), Depends: NODE_DEPENDS, Section: 'admin', Priority: 'optional', Homepage: 'https://kubeedge.io', Description: 'KubeEdge-compatible installer and client (keadm)\n keadm init, gettoken, join, reset, firstboot, apply, get, delete and logs for\n kubeedge-lite, a KubeEdge edge runtime small enough for Raspberry Pi gateways.' }));
  built.push(build(root, 'kubeedge-lite-keadm', 'all'));
}

// cloud: architecture-independent (no native add-on)
{
  const root = join(WORK, 'cloud');
  write(join(root, LIB.slice(1), 'cloudcore.js'), readFileSync(join(ROOT, 'dist', 'cloudcore.js'), 'utf8'), 0o755);
  cpSync(join(ROOT, 'dist', 'ui'), join(root, LIB.slice(1), 'ui'), { recursive: true });
  mkdirSync(join(root, 'usr', 'bin'), { recursive: true });
  symlinkSync('../lib/kubeedge-lite/cloudcore.js', join(root, 'usr', 'bin', 'cloudcore'));
  write(join(root, 'lib', 'systemd', 'system', 'cloudcore.service'), unit('cloudcore.service').replace('[Service]\n', '[Service]\nUser=kubeedge\nGroup=kubeedge\n'));
  docs(root, 'kubeedge-lite-cloud');
  manpage(root, 'cloudcore', 'the cloud side of KubeEdge');
  overrides(root, 'kubeedge-lite-cloud', 'cloudcore.js');
  write(join(root, 'DEBIAN', 'postinst'), POSTINST_CLOUD, 0o755);
  write(join(root, 'DEBIAN', 'prerm'), PRERM('cloudcore.service'), 0o755);
  write(join(root, 'DEBIAN', 'postrm'), POSTRM('cloudcore.service'), 0o755);
  write(join(root, 'DEBIAN', 'control'), control({ Package: 'kubeedge-lite-cloud', Version: VERSION, Architecture: 'all', Maintainer: MAINTAINER, 'Installed-Size': sizeKiB(root), Depends: `${NODE_DEPENDS}, adduser, init-system-helpers (>= 1.54~), kubeedge-lite-keadm (= ${VERSION})`, Section: 'admin', Priority: 'optional', Homepage: 'https://kubeedge.io', Description: 'KubeEdge-compatible cloud side (cloudcore) with a dashboard\n CloudHub, the certificate service, EdgeController, DeviceController, the\n router and a resource API at Kubernetes paths, for kubeedge-lite edges and\n KubeEdge edgecores.' }));
  built.push(build(root, 'kubeedge-lite-cloud', 'all'));
}

// mapper-opcua: architecture-independent (node-opcua's client is JavaScript), optional
{
  const root = join(WORK, 'mapper-opcua');
  // its package.json (the bundles are ES modules) comes with kubeedge-lite-keadm, as for edgecore and cloudcore
  write(join(root, LIB.slice(1), 'mapper-opcua.js'), readFileSync(join(ROOT, 'dist', 'mapper-opcua.js'), 'utf8'), 0o755);
  mkdirSync(join(root, 'usr', 'bin'), { recursive: true });
  symlinkSync('../lib/kubeedge-lite/mapper-opcua.js', join(root, 'usr', 'bin', 'mapper-opcua'));
  write(join(root, 'lib', 'systemd', 'system', 'mapper-opcua.service'), unit('mapper-opcua.service'));
  docs(root, 'kubeedge-lite-mapper-opcua');
  manpage(root, 'mapper-opcua', 'a KubeEdge mapper for OPC UA servers');
  overrides(root, 'kubeedge-lite-mapper-opcua', 'mapper-opcua.js');
  write(join(root, 'DEBIAN', 'postinst'), POSTINST_MAPPER, 0o755);
  write(join(root, 'DEBIAN', 'prerm'), PRERM('mapper-opcua.service'), 0o755);
  write(join(root, 'DEBIAN', 'postrm'), POSTRM('mapper-opcua.service'), 0o755);
  write(join(root, 'DEBIAN', 'control'), control({ Package: 'kubeedge-lite-mapper-opcua', Version: VERSION, Architecture: 'all', Maintainer: MAINTAINER, 'Installed-Size': sizeKiB(root), Depends: `${NODE_DEPENDS}, init-system-helpers (>= 1.54~), kubeedge-lite-keadm (= ${VERSION})`, Recommends: `kubeedge-lite-edge (= ${VERSION})`, Section: 'admin', Priority: 'optional', Homepage: 'https://kubeedge.io', Description: 'KubeEdge mapper for OPC UA servers (DMI)\n Drives OPC UA servers as KubeEdge devices for an edgecore that speaks\n KubeEdge\'s Device Management Interface: readings by subscription or by\n polling, desired values written, security None, Sign and SignAndEncrypt.' }));
  built.push(build(root, 'kubeedge-lite-mapper-opcua', 'all'));
}

for (const arch of arches) {
  const root = join(WORK, `edge-${arch}`);
  write(join(root, LIB.slice(1), 'edgecore.js'), readFileSync(join(ROOT, 'dist', 'edgecore.js'), 'utf8'), 0o755);
  cpSync(addons(arch), join(root, LIB.slice(1), 'node_modules'), { recursive: true });
  mkdirSync(join(root, 'usr', 'bin'), { recursive: true });
  symlinkSync('../lib/kubeedge-lite/edgecore.js', join(root, 'usr', 'bin', 'edgecore'));
  for (const u of ['edgecore.service', 'kubeedge-firstboot.service', 'kubeedge-firstboot.path']) write(join(root, 'lib', 'systemd', 'system', u), unit(u));
  write(join(root, 'etc', 'kubeedge', 'config', 'edgecore.yaml'), DEFAULT_EDGE_CONFIG);
  write(join(root, 'DEBIAN', 'conffiles'), '/etc/kubeedge/config/edgecore.yaml\n');
  docs(root, 'kubeedge-lite-edge');
  manpage(root, 'edgecore', 'the KubeEdge edge runtime');
  overrides(root, 'kubeedge-lite-edge', 'edgecore.js');
  write(join(root, 'DEBIAN', 'postinst'), POSTINST_EDGE, 0o755);
  write(join(root, 'DEBIAN', 'prerm'), PRERM('edgecore.service kubeedge-firstboot.path kubeedge-firstboot.service'), 0o755);
  write(join(root, 'DEBIAN', 'postrm'), POSTRM('edgecore.service kubeedge-firstboot.service kubeedge-firstboot.path'), 0o755);
  write(join(root, 'DEBIAN', 'control'), control({ Package: 'kubeedge-lite-edge', Version: VERSION, Architecture: arch, Maintainer: MAINTAINER, 'Installed-Size': sizeKiB(root), Depends: `${NODE_DEPENDS}, libc6, libstdc++6, init-system-helpers (>= 1.54~), kubeedge-lite-keadm (= ${VERSION})`, Recommends: 'podman', Section: 'admin', Priority: 'optional', Homepage: 'https://kubeedge.io', Description: 'KubeEdge-compatible edge runtime (edgecore) for small gateways\n EdgeHub, MetaManager, DeviceTwin, EventBus, ServiceBus and Edged with Modbus,\n serial and GPIO drivers, in one 1 MiB bundle for Raspberry Pi class boards.\n Runs standalone, or joins a KubeEdge cloud with keadm join or a\n /boot/firmware/kubeedge.yaml at first boot.' }));
  built.push(build(root, 'kubeedge-lite-edge', arch));
}
// the mark of a whole set (every architecture), which test:images takes as fresh when it is newer than the bundles
if (wanted.length === 0) writeFileSync(join(OUT, 'packages.txt'), built.map((f) => f.replace(OUT + '/', '')).join('\n') + '\n');
