/** Command-line handling shared by edgecore and cloudcore. */
import { ConfigError, errorText } from './errors.js';
import { ConfigReadError, toYaml } from './configfile.js';
import { ignoredByModule } from './schema.js';

declare const __KUBEEDGE_VERSION__: string | undefined;
export const VERSION: string = typeof __KUBEEDGE_VERSION__ === 'string' ? __KUBEEDGE_VERSION__ : '0.0.0-dev';

export interface ParsedArgs {
  flags: Map<string, string | true>;
  positional: string[];
}

/** `--name value`, `--name=value` and bare `--flag`; `valued` lists the flags that take a value. */
export function parseArgs(argv: readonly string[], valued: readonly string[]): ParsedArgs {
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (!a.startsWith('-') || a === '-') {
      positional.push(a);
      continue;
    }
    const body = a.replace(/^--?/, '');
    const eq = body.indexOf('=');
    if (eq >= 0) {
      flags.set(body.slice(0, eq), body.slice(eq + 1));
    } else if (valued.includes(body)) {
      const v = argv[i + 1];
      if (v === undefined) throw new ConfigError([`--${body} needs a value`]);
      flags.set(body, v);
      i++;
    } else {
      flags.set(body, true);
    }
  }
  return { flags, positional };
}

export interface ProgramSpec<C> {
  name: string;
  defaultConfigPath: string;
  usage: string;
  minConfig(): unknown;
  defaultConfig(): unknown;
  /** the config, and the keys of KubeEdge's own config it does not use */
  load(file: string): { config: C; ignored: string[] };
  run(config: C, file: string): Promise<() => Promise<void>>;
}

/** The shared main(): flags, config loading, one-line fatal errors, and clean stop on SIGTERM/SIGINT. */
/** what a flag alone answers (--help, --version, --minconfig, --defaultconfig), or undefined to run */
function answerOf<C>(spec: ProgramSpec<C>, args: ParsedArgs): string | undefined {
  if (args.flags.has('help') || args.flags.has('h')) return spec.usage;
  if (args.flags.has('version')) return `${spec.name} version: v${VERSION}\n`;
  if (args.flags.has('minconfig')) return toYaml(spec.minConfig());
  if (args.flags.has('defaultconfig')) return toYaml(spec.defaultConfig());
  return undefined;
}

/** the config at `path`, or the one line that says what is wrong with it and how to fix it */
function loadConfig<C>(spec: ProgramSpec<C>, path: string): { config: C } | { error: string } {
  try {
    const loaded = spec.load(path);
    for (const line of ignoredByModule(loaded.ignored)) process.stdout.write(`${new Date().toISOString()} INFO  ${spec.name}: ${path}: ${line}\n`);
    return { config: loaded.config };
  } catch (err) {
    if (err instanceof ConfigReadError && err.code === 'ENOENT') {
      return { error: `no config at ${path}; write one with "${spec.name} --minconfig > ${path}" (--defaultconfig prints every key), or pass --config FILE` };
    }
    if (err instanceof ConfigReadError && err.code === 'EACCES') return { error: `cannot read config ${path}: permission denied; run ${spec.name} as root (or as the owner of the file)` };
    return { error: err instanceof ConfigError ? `invalid config ${path}: ${err.message}` : errorText(err) };
  }
}

/** SIGTERM and SIGINT stop the program (forced after 10 s); SIGUSR2 logs its memory (after a full GC with --expose-gc) */
function onSignals(name: string, stop: () => Promise<void>): void {
  let stopping = false;
  const shutdown = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${new Date().toISOString()} INFO  ${name}: ${sig} received, stopping\n`);
    const force = setTimeout(() => process.exit(0), 10_000);
    force.unref();
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGUSR2', () => {
    (globalThis as { gc?: () => void }).gc?.();
    const m = process.memoryUsage();
    const kib = (n: number): number => Math.round(n / 1024);
    process.stdout.write(`${new Date().toISOString()} INFO  ${name}: memory rssKiB=${kib(m.rss)} heapUsedKiB=${kib(m.heapUsed)} heapTotalKiB=${kib(m.heapTotal)} externalKiB=${kib(m.external)} arrayBuffersKiB=${kib(m.arrayBuffers)}\n`);
  });
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

export async function runProgram<C>(spec: ProgramSpec<C>, argv: readonly string[]): Promise<void> {
  const fail = (msg: string): never => {
    process.stderr.write(`${spec.name}: ${msg}\n`);
    process.exit(1);
  };
  let args: ParsedArgs;
  try {
    args = parseArgs(argv, ['config']);
  } catch (err) {
    return fail(errorText(err));
  }
  const known = ['config', 'minconfig', 'defaultconfig', 'version', 'help', 'h'];
  for (const f of args.flags.keys()) if (!known.includes(f)) return fail(`unknown flag --${f} (see --help)`);
  const answer = answerOf(spec, args);
  if (answer !== undefined) return void process.stdout.write(answer);
  const file = args.flags.get('config');
  const path = typeof file === 'string' ? file : spec.defaultConfigPath;
  const loaded = loadConfig(spec, path);
  if ('error' in loaded) return fail(loaded.error);
  try {
    onSignals(spec.name, await spec.run(loaded.config, path));
  } catch (err) {
    return fail(errorText(err));
  }
}
