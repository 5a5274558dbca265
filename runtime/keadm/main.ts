/** keadm: the admin tool. One file per command; this file only dispatches. */
import { VERSION } from '../core/cli.js';

const usage = `keadm: install and manage KubeEdge cloud and edge nodes.

Usage: keadm COMMAND [flags]
  version    print the version
`;

export async function runKeadm(argv: readonly string[]): Promise<void> {
  const [cmd] = argv;
  switch (cmd) {
    case 'version':
    case '--version':
      process.stdout.write(`keadm version: v${VERSION}\n`);
      return;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(usage);
      return;
    default:
      process.stderr.write(`keadm: unknown command ${JSON.stringify(cmd)}; see keadm --help\n`);
      process.exitCode = 1;
  }
}
