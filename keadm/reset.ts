/** keadm reset: stops what init or join started and removes what they wrote. */
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { parse } from 'yaml';
import { removeEveryPod } from '../containers/reset.js';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { flags } from './flags.js';
import { removeIfEmpty } from './files.js';
import { cloudPaths, dbSiblings, edgePaths } from './paths.js';
import { logFile, stopProcess, stopService } from './service.js';
import { fileUsers } from './users.js';

/** yes to a question on the terminal; no terminal is no (a script must say --force) */
async function confirmed(question: string): Promise<boolean | undefined> {
  if (!process.stdin.isTTY) return undefined;
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

/** the CA is what every joined edge trusts: without it they must all join again, so it goes only when asked */
async function mayRemoveCA(ca: string, force: boolean): Promise<boolean> {
  if (!existsSync(ca) || force) return true;
  const yes = await confirmed(`This removes the cloud's CA (${ca}): every edge joined to this cloud would have to join again. Continue?`);
  if (yes === undefined) throw new Error(`this removes the cloud's CA (${ca}), and every edge joined to it would have to join again; pass --force to confirm (there is no terminal to ask on)`);
  return yes;
}

/** where an edge's pods are: its edgecore.yaml's rootDirectory and runtime endpoint, or the defaults */
function edgedPlaces(configFile: string, defaultRoot: string): { root: string; endpoint: string } {
  const defaults = { root: defaultRoot, endpoint: 'unix:///run/podman/podman.sock' };
  try {
    const cfg = parse(readFileSync(configFile, 'utf8')) as { modules?: { edged?: { rootDirectory?: string; tailoredKubeletConfig?: { containerRuntimeEndpoint?: string } } } };
    return { root: cfg.modules?.edged?.rootDirectory ?? defaults.root, endpoint: cfg.modules?.edged?.tailoredKubeletConfig?.containerRuntimeEndpoint ?? defaults.endpoint };
  } catch {
    return defaults; // no edge here, or no config
  }
}

export async function reset(argv: readonly string[]): Promise<number> {
  const f = flags(argv, ['config-dir', 'data-dir'], ['force']);
  const dirs = f.dirs();
  if (!(await mayRemoveCA(cloudPaths(dirs).caKey, f.bool('force')))) {
    process.stdout.write('nothing removed\n');
    return 1;
  }
  const said: string[] = [];
  const c = cloudPaths(dirs);
  const e = edgePaths(dirs);
  const files = new Set([c.caCert, c.caKey, c.serverCert, c.serverKey, c.config, c.tokenSecret, c.token, c.adminToken, c.kubeconfig, e.caCert, e.cert, e.key, e.config]);
  const storeFiles = (): void => {
    for (const db of [c.db, e.db]) {
      if (!existsSync(dirname(db))) continue;
      const re = dbSiblings(db);
      for (const f of readdirSync(dirname(db))) if (re.test(f)) files.add(join(dirname(db), f));
    }
  };
  storeFiles();
  // a program that is not ours holding one of them: stop nothing, remove nothing, say who
  const users = fileUsers(files, [c.config, e.config]);
  const foreign = users.filter((u) => !u.program);
  if (foreign.length > 0) {
    throw new Error(`${foreign.map((u) => `pid ${u.pid} (${u.command}) uses ${u.file}`).join('; ')}: stop ${foreign.length === 1 ? 'it' : 'them'} first; nothing was removed`);
  }
  for (const program of ['edgecore', 'cloudcore'] as const) said.push(...(await stopService(program, dirs.dataDir)));
  // ours started by hand (or by another keadm): stopped too, or they would run on without their files
  for (const u of fileUsers(files, [c.config, e.config])) {
    if (u.program) said.push(await stopProcess(u.pid, `${u.program} (pid ${u.pid}, using ${u.file})`));
  }
  // the pods: where edgecore.yaml says they are (process pods outlive edgecore, containers too)
  const edged = edgedPlaces(e.config, e.edged);
  const pods = existsSync(e.config) || existsSync(edged.root) ? await removeEveryPod(edged.root, edged.endpoint) : 0;
  if (pods > 0) said.push(`stopped and removed ${pods} container(s) of this node's pods`);
  for (const program of ['cloudcore', 'edgecore'] as const) files.add(logFile(dirs.dataDir, program));
  // what the stopped programs wrote as they stopped (a saved store, the twin store's clean-stop mark)
  storeFiles();
  let removed = 0;
  for (const f of files) {
    if (!existsSync(f)) continue;
    rmSync(f, { force: true });
    removed++;
  }
  for (const d of new Set([...files].map((f) => dirname(f)))) removeIfEmpty(d);
  removeIfEmpty(dirs.configDir);
  removeIfEmpty(dirs.dataDir);
  for (const s of said) process.stdout.write(`${s}\n`);
  process.stdout.write(`removed ${removed} file(s) of KubeEdge under ${dirs.configDir} and ${dirs.dataDir}\n`);
  return 0;
}
