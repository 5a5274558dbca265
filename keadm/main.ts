/** keadm: the admin tool. One file per command; this file only dispatches. */
import { VERSION } from '../core/cli.js';
import { errorText } from '../core/errors.js';
import { init } from './init.js';
import { gettoken } from './gettoken.js';
import { firstboot } from './firstboot.js';
import { join } from './join.js';
import { reset } from './reset.js';
import { debug } from './debug.js';
import { apply } from './apply.js';
import { get } from './get.js';
import { del } from './delete.js';
import { logs } from './logs.js';
import { UsageError } from './flags.js';
import { quickstart } from './quickstart.js';
import { commandHelp, overallHelp } from './help.js';

const commands: Record<string, (argv: readonly string[]) => Promise<number>> = { init, gettoken, join, reset, apply, get, delete: del, logs, debug, quickstart, firstboot };

export async function runKeadm(argv: readonly string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (cmd === 'version' && (rest[0] === '--help' || rest[0] === '-h')) return void process.stdout.write(commandHelp('version'));
  if (cmd === 'version' || cmd === '--version') return void process.stdout.write(`keadm version: v${VERSION}\n`);
  if (cmd === 'help' && rest[0] !== undefined && commands[rest[0]]) return void process.stdout.write(commandHelp(rest[0]));
  if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') return void process.stdout.write(overallHelp());
  const run = commands[cmd];
  // cobra's: every command takes --help (before anything else it would check)
  if (run && rest.some((a) => a === '--help' || a === '-h')) return void process.stdout.write(commandHelp(cmd));
  if (!run) {
    process.stderr.write(`keadm: unknown command ${JSON.stringify(cmd)}; see keadm --help\n`);
    process.exitCode = 1;
    return;
  }
  try {
    process.exitCode = await run(rest);
  } catch (err) {
    // one line: the cause and the fix
    process.stderr.write(`keadm ${cmd}: ${errorText(err).split('\n')[0]}${err instanceof UsageError ? ' (see keadm --help)' : ''}\n`);
    process.exitCode = 1;
  }
}
