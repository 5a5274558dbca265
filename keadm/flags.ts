/** keadm's flags: `--name value`, `--name=value`, `-n value`; unknown flags are errors. */
import { parseArgs } from '../core/cli.js';
import { DEFAULT_DIRS, type Dirs } from './paths.js';

export class UsageError extends Error {}

/** KubeEdge's keadm flags that take no value (`--with-mqtt`, `--with-mqtt=false`) */
const KUBEEDGE_BOOLEANS = ['with-mqtt', 'force'];

/**
 * `kubeedge`: flags of KubeEdge's keadm that mean nothing here, each with why; they are accepted
 * with a one-line notice, so a command copied from KubeEdge's docs runs.
 */
export function flags(argv: readonly string[], valued: readonly string[], booleans: readonly string[] = [], kubeedge: Readonly<Record<string, string>> = {}) {
  const parsed = parseArgs(argv, [...valued, ...Object.keys(kubeedge).filter((k) => !KUBEEDGE_BOOLEANS.includes(k))]);
  for (const f of parsed.flags.keys()) {
    const why = kubeedge[f];
    if (why !== undefined) process.stderr.write(`keadm: --${f} is KubeEdge's; ${why}: ignored\n`);
    else if (!valued.includes(f) && !booleans.includes(f)) throw new UsageError(`unknown flag --${f}`);
  }
  const str = (name: string, def?: string): string | undefined => {
    const v = parsed.flags.get(name);
    if (v === true) throw new UsageError(`--${name} needs a value`);
    return v ?? def;
  };
  return {
    positional: parsed.positional,
    str,
    need(name: string, hint: string): string {
      const v = str(name);
      if (v === undefined || v === '') throw new UsageError(`--${name} is required: ${hint}`);
      return v;
    },
    bool: (name: string): boolean => parsed.flags.get(name) === true || parsed.flags.get(name) === 'true',
    dirs(): Dirs {
      return { configDir: str('config-dir', DEFAULT_DIRS.configDir) as string, dataDir: str('data-dir', DEFAULT_DIRS.dataDir) as string };
    },
  };
}
