// mapper-opcua's entry: --help and --version answered before node-opcua loads (it writes warnings as it does)
import { parseArgs, VERSION } from '../../core/cli.js';
import { errorText } from '../../core/errors.js';

const USAGE = `mapper-opcua: a KubeEdge mapper (DMI) for OPC UA servers

  --dmi-socket PATH   edgecore's DMI socket (default /etc/kubeedge/dmi.sock)
  --socket PATH       this mapper's own socket (default /etc/kubeedge/mapper-opcua.sock)
  --name NAME         its name (default opcua-mapper); --protocol NAME (default opcua)
  --pki-dir PATH      where the OPC UA client keeps the certificates it has seen (default /var/lib/kubeedge/mapper-opcua/pki)
  --version, --help
`;

const MAPPER_FLAGS = ['dmi-socket', 'socket', 'name', 'protocol', 'pki-dir'];

async function run(argv: readonly string[]): Promise<void> {
  const args = parseArgs(argv, MAPPER_FLAGS);
  if (args.flags.has('help') || args.flags.has('h')) return void process.stdout.write(USAGE);
  if (args.flags.has('version')) return void process.stdout.write(`mapper-opcua version: v${VERSION}\n`);
  const { main } = await import('./opcua.js');
  await main(args);
}

run(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`mapper-opcua: ${errorText(err)}\n`);
  process.exit(1);
});
