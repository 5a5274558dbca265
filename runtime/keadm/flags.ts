/** keadm's flags: `--name value`, `--name=value`, `-n value`; unknown flags are errors. */
import { parseArgs } from '../core/cli.js';
import { DEFAULT_DIRS, type Dirs } from './paths.js';

export class UsageError extends Error {}

export function flags(argv: readonly string[], valued: readonly string[], booleans: readonly string[] = []) {
  const parsed = parseArgs(argv, valued);
  for (const f of parsed.flags.keys()) {
    if (!valued.includes(f) && !booleans.includes(f)) throw new UsageError(`unknown flag --${f}`);
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
