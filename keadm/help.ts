/** keadm's help: one entry per command, printed for `keadm COMMAND --help` as cobra prints KubeEdge's. */

interface CommandHelp {
  summary: string;
  usage: string;
  /** [flag as typed, what it does] */
  flags: [string, string][];
  more?: string;
}

const dirs: [string, string][] = [
  ['--config-dir DIR', 'where configs, certificates and tokens are (default /etc/kubeedge)'],
  ['--data-dir DIR', 'where the stores, pid files and logs are (default /var/lib/kubeedge)'],
];

export const HELP: Record<string, CommandHelp> = {
  init: {
    summary: 'make the CA, certificates, token secret and cloudcore.yaml, then start cloudcore',
    usage: 'keadm init [--advertise-address IP[,IP...]] [flags]',
    flags: [['--advertise-address IP[,IP...]', "the addresses edges reach this cloud at (the server certificate covers them; default this host's)"], ...dirs, ['--foreground', 'run cloudcore in this terminal instead of as a service']],
  },
  gettoken: {
    summary: 'print the current join token',
    usage: 'keadm gettoken [--ttl DURATION] [--read-only] [flags]',
    flags: [['--ttl DURATION', 'a new join token valid this long (24h, 720h…): for boot files flashed ahead of time; with --read-only, that token\'s life'], ['--read-only', 'a new token that can only read the API (the dashboard, /metrics)'], ...dirs],
  },
  join: {
    summary: 'join this machine as an edge node and start edgecore',
    usage: 'keadm join --cloudcore-ipport=HOST:PORT --token=TOKEN [flags]',
    flags: [
      ['--cloudcore-ipport HOST:PORT', "CloudHub's address: an IP or a name its certificate covers, and its port (10000 by default)"],
      ['--token TOKEN', 'a join token from "keadm gettoken" on the cloud'],
      ['--edgenode-name NAME', "this node's name (default the host name)"],
      ['--certport PORT', "the cloud's certificate service (default 10002)"],
      ['--labels K=V,...', "labels for this node's Node"],
      ['--remote-runtime-endpoint unix:///PATH', "podman's API socket, for pods in containers"],
      ...dirs,
      ['--foreground', 'run edgecore in this terminal instead of as a service'],
    ],
  },
  reset: {
    summary: 'stop what init or join started (and any cloudcore or edgecore using their files) and remove what they wrote',
    usage: 'keadm reset [--force] [flags]',
    flags: [['--force', "remove a cloud's CA without asking (every joined edge would have to join again)"], ...dirs],
  },
  apply: {
    summary: 'create or update resources from YAML (several documents a file)',
    usage: 'keadm apply -f FILE|- [flags]',
    flags: [['-f, --filename FILE|-', 'the manifests (- for stdin)'], ['-n, --namespace NS', 'for objects that name none (default "default")'], ['--validate strict|warn|ignore', 'an unknown or doubled field: refused (the default, as kubectl), dropped with a warning, or dropped'], ...dirs],
  },
  get: {
    summary: 'show resources: a table, or yaml or json',
    usage: 'keadm get TYPE [NAME] [flags]',
    flags: [['-n, --namespace NS', 'the namespace (default "default")'], ['-A, --all-namespaces', 'every namespace'], ['-o, --output yaml|json|wide', 'the format'], ...dirs],
    more: 'TYPE: nodes, pods, configmaps, secrets, devices, devicemodels, devicestatuses, rules, ruleendpoints (or their short names)',
  },
  delete: {
    summary: 'delete resources by type and name, or those of a file',
    usage: 'keadm delete TYPE NAME [flags] | keadm delete -f FILE|- [flags]',
    flags: [['-f, --filename FILE|-', 'delete what the manifests name'], ['-n, --namespace NS', 'the namespace (default "default")'], ...dirs],
  },
  logs: {
    summary: "print a pod's log, read from its edge",
    usage: 'keadm logs POD [flags]',
    flags: [['-c, --container NAME', 'the container (default the only one)'], ['--tail N', 'the last N lines'], ['-f, --follow', 'keep printing as it grows'], ['-n, --namespace NS', 'the namespace (default "default")'], ...dirs],
  },
  debug: {
    summary: 'on an edge: check what it needs (cloud, certificate, clock, disk, broker), or show it at a glance',
    usage: 'keadm debug check|diagnose [flags]',
    flags: dirs,
  },
  firstboot: {
    summary: "join from the boot partition's file (cloudcore, certPort, token, nodeName, labels), then remove the token from it",
    usage: 'keadm firstboot [--file FILE] [flags]',
    flags: [['--file FILE', 'the file (default /boot/firmware/kubeedge.yaml); nothing happens without it, or once joined'], ...dirs],
  },
  quickstart: {
    summary: 'a cloudcore, an edge joined to it and a simulated Modbus thermostat, on this machine (npm start)',
    usage: 'keadm quickstart',
    flags: [],
  },
  version: { summary: 'print the version', usage: 'keadm version', flags: [] },
};

/** `keadm COMMAND --help` */
export function commandHelp(cmd: string): string {
  const h = HELP[cmd];
  if (!h) return '';
  const rows: [string, string][] = [...h.flags, ['-h, --help', `help for ${cmd}`]];
  const width = Math.max(...rows.map(([f]) => f.length));
  return `${h.summary[0]?.toUpperCase() ?? ''}${h.summary.slice(1)}.\n\nUsage:\n  ${h.usage}\n\nFlags:\n${rows.map(([f, d]) => `  ${f.padEnd(width)}   ${d}`).join('\n')}\n${h.more ? `\n${h.more}\n` : ''}`;
}

/** `keadm --help` */
export function overallHelp(): string {
  const width = Math.max(...Object.keys(HELP).map((c) => c.length));
  return `keadm: install and manage KubeEdge cloud and edge nodes.

Usage: keadm COMMAND [flags]

Commands:
${Object.entries(HELP).map(([c, h]) => `  ${c.padEnd(width)}   ${h.summary}`).join('\n')}

"keadm COMMAND --help" shows a command's flags. Defaults: --config-dir /etc/kubeedge, --data-dir /var/lib/kubeedge.
KubeEdge's keadm flags that mean nothing here (--kubeedge-version, --kube-config, --with-mqtt, ...)
are accepted with a one-line notice.
`;
}
