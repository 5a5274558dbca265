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

const usage = `keadm: install and manage KubeEdge cloud and edge nodes.

Usage: keadm COMMAND [flags]
  init      [--advertise-address IP[,IP...]] [--config-dir DIR] [--data-dir DIR] [--foreground]
            make the CA, certificates, token secret and cloudcore.yaml, then start cloudcore
  gettoken  [--config-dir DIR]                 print the current join token
            --read-only [--ttl 24h]          print a new token that can only read the API (the dashboard, /metrics)
  join      --cloudcore-ipport=IP:PORT --token=TOKEN [--edgenode-name NAME] [--certport 10002]
            [--labels K=V,...] [--remote-runtime-endpoint unix:///...] [--config-dir DIR] [--data-dir DIR] [--foreground]
            join this machine as an edge node and start edgecore
  reset     [--force] [--config-dir DIR] [--data-dir DIR]  stop what init or join started and remove what they wrote
            (a cloud's CA only once confirmed on the terminal, or with --force)
  apply     -f FILE|-                           create or update resources (several YAML documents)
  get       TYPE [NAME] [-n NS | -A] [-o yaml|json|wide]
  delete    TYPE NAME [-n NS] | -f FILE|-
            TYPE: nodes, pods, configmaps, secrets, devices, devicemodels, rules, ruleendpoints
  logs      POD [-c CONTAINER] [--tail N] [-f] [-n NS]    a pod's log, read from its edge
  debug     check | diagnose [--config-dir DIR] [--data-dir DIR]
            on an edge: check what it needs (cloud, certificate, clock, disk, broker), or show it at a glance
  firstboot [--file /boot/firmware/kubeedge.yaml]   join from the boot partition's file (cloudcore, token,
            nodeName, labels), then remove the token from it; nothing without the file or once joined
  quickstart  a cloudcore and an edge joined to it, on this machine, in a temporary folder (npm start)
  version   print the version
Defaults: --config-dir /etc/kubeedge, --data-dir /var/lib/kubeedge.
KubeEdge's keadm flags that mean nothing here (--kubeedge-version, --kube-config, --with-mqtt, ...)
are accepted with a one-line notice.
`;

const commands: Record<string, (argv: readonly string[]) => Promise<number>> = { init, gettoken, join, reset, apply, get, delete: del, logs, debug, quickstart, firstboot };

export async function runKeadm(argv: readonly string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (cmd === 'version' || cmd === '--version') return void process.stdout.write(`keadm version: v${VERSION}\n`);
  if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') return void process.stdout.write(usage);
  const run = commands[cmd];
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
