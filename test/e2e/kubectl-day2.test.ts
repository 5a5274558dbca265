/**
 * kubectl on the second day, as a KubeEdge user debugs a gateway from the cloud: events (get, describe,
 * the ones a setpoint change, a device's condition and a crashing pod make), and what follows in the
 * other files of this work.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { eventually, makeCluster, type Cluster } from './cluster.js';
import { kubectl, kubectlInTerminal } from '../peers/kubectl.js';
import { freePort } from '../peers/proxy.js';
import { keadm, pidsWith } from '../peers/pods.js';

const NODE = 'edge-day2';

describe('kubectl on the second day', () => {
  let c: Cluster;
  let kubeconfig: string;
  const k = (...args: string[]) => kubectl(kubeconfig, args);
  const apply = (name: string, ...objs: unknown[]) => {
    const f = join(c.dir, name);
    writeFileSync(f, objs.map((o) => stringify(o)).join('---\n'));
    const r = k('apply', '-f', f);
    expect(r.status, r.stderr).toBe(0);
    return r.stdout;
  };
  const model = { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'DeviceModel', metadata: { name: 'boiler' }, spec: { properties: [{ name: 'setpoint', type: 'INT', accessMode: 'ReadWrite' }] } };
  const boiler = (name: string, setpoint: string, port?: number) => ({
    apiVersion: 'devices.kubeedge.io/v1beta1',
    kind: 'Device',
    metadata: { name },
    spec: {
      deviceModelRef: { name: 'boiler' },
      nodeName: NODE,
      ...(port ? { protocol: { protocolName: 'modbus', configData: { ip: '127.0.0.1', port, slaveID: 1, timeout: 200 } } } : {}),
      properties: [{ name: 'setpoint', desired: { value: setpoint }, ...(port ? { visitors: { protocolName: 'modbus', configData: { register: 'HoldingRegister', offset: 0, dataType: 'int16' } } } : {}) }],
    },
  });

  beforeAll(async () => {
    c = await makeCluster();
    await c.startCloud();
    await c.startEdge(NODE);
    kubeconfig = c.kubeconfig();
  }, 60_000);
  afterAll(() => c?.stop());

  it('events: get events shows their columns; describe lists a node\'s, a device\'s and a pod\'s; a setpoint change, a device\'s condition and a crashing container make them', async () => {
    apply('boiler.yaml', model, boiler('boiler-1', '20'));
    apply('boiler.yaml', model, boiler('boiler-1', '25'));
    // a device nothing answers for: its condition, and an event saying why
    apply('dead.yaml', boiler('boiler-dead', '1', await freePort()));
    apply('crasher.yaml', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'crasher' }, spec: { runtimeClassName: 'process', nodeName: NODE, containers: [{ name: 'app', image: 'process', command: ['/bin/sh', '-c', 'echo run; exit 3'] }] } });
    const events = await eventually(async () => {
      const r = k('get', 'events');
      return /DesiredValueSet/.test(r.stdout) && /DeviceUnreachable/.test(r.stdout) && /BackOff/.test(r.stdout) && /NodeReady/.test(r.stdout) ? r.stdout : undefined;
    }, 60_000, 'the events');
    expect(events.split('\n')[0]).toMatch(/^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$/);
    expect(events).toMatch(/^\d+[smh]\s+Normal\s+DesiredValueSet\s+device\/boiler-1\s+setpoint: 20 → 25$/m);
    expect(events).toMatch(/^\d+[smh]\s+Warning\s+DeviceUnreachable\s+device\/boiler-dead\s+.*ECONNREFUSED/m);
    expect(events).toMatch(/^\d+[smh]\s+Warning\s+BackOff\s+pod\/crasher\s+Back-off restarting failed container app in pod crasher_default$/m);
    expect(events).toMatch(/^\d+[smh]\s+Normal\s+Started\s+pod\/crasher\s+Started container app \(restart \d+\)$/m);
    // wide: the count and when first seen
    expect(k('get', 'events', '-o', 'wide').stdout.split('\n')[0]).toMatch(/LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+SUBOBJECT\s+SOURCE\s+MESSAGE\s+FIRST SEEN\s+COUNT\s+NAME/);
    // describe finds an object's events by its uid
    const node = k('describe', 'node', NODE).stdout;
    expect(node).toMatch(/^Events:\n\s+Type\s+Reason\s+Age\s+From\s+Message\n[\s\S]*Normal\s+NodeReady\s+\S+(?: \(x\d+ over \S+\))?\s+cloudcore\s+node edge-day2 is Ready: its edge connected/m);
    expect(k('describe', 'device', 'boiler-1').stdout).toMatch(/Normal\s+DesiredValueSet\s+\S+(?: \(x\d+ over \S+\))?\s+cloudcore\s+setpoint: 20 → 25/);
    expect(k('describe', 'device', 'boiler-dead').stdout).toMatch(/Warning\s+DeviceUnreachable\s+/);
    expect(k('describe', 'pod', 'crasher').stdout).toMatch(/Warning\s+BackOff\s+\S+(?: \(x\d+ over \S+\))?\s+cloudcore\s+Back-off restarting failed container app/);
    // events.k8s.io/v1 too
    const v1 = JSON.parse(k('get', '--raw', '/apis/events.k8s.io/v1/namespaces/default/events').stdout);
    expect(v1.items.find((e: any) => e.reason === 'DesiredValueSet')).toMatchObject({ apiVersion: 'events.k8s.io/v1', regarding: { kind: 'Device', name: 'boiler-1' }, note: 'setpoint: 20 → 25', type: 'Normal' });
    k('delete', 'pod', 'crasher');
  });

  it('cordon keeps new pods off the node, uncordon lets them on; drain evicts the node\'s pods', async () => {
    const sleeper = (name: string, node?: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { runtimeClassName: 'process', ...(node ? { nodeName: node } : {}), terminationGracePeriodSeconds: 1, containers: [{ name: 'app', image: 'process', command: ['/bin/sh', '-c', `while true; do sleep 1; done # ${name}-day2`] }] } });
    expect(k('cordon', NODE).stdout).toContain(`node/${NODE} cordoned`);
    expect(k('get', 'nodes').stdout).toMatch(new RegExp(`^${NODE}\\s+Ready,SchedulingDisabled\\s`, 'm'));
    const node = JSON.parse(k('get', 'node', NODE, '-o', 'json').stdout);
    expect(node.spec).toMatchObject({ unschedulable: true, taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] });
    apply('waiting.yaml', sleeper('waiting'));
    const pending = await eventually(async () => {
      const p = JSON.parse(k('get', 'pod', 'waiting', '-o', 'json').stdout);
      return p.status?.conditions?.find((c: any) => c.type === 'PodScheduled')?.reason === 'Unschedulable' ? p : undefined;
    }, 20_000, 'waiting Unschedulable');
    expect(pending.spec.nodeName).toBeUndefined();
    expect(pending.status.conditions.find((c: any) => c.type === 'PodScheduled').message).toBe('0/1 nodes are available: 1 node(s) were unschedulable.');
    expect(k('uncordon', NODE).stdout).toContain(`node/${NODE} uncordoned`);
    await eventually(async () => JSON.parse(k('get', 'pod', 'waiting', '-o', 'json').stdout).status?.phase === 'Running', 30_000, 'waiting bound and Running');
    expect(JSON.parse(k('get', 'node', NODE, '-o', 'json').stdout).spec.taints).toBeUndefined();

    apply('two.yaml', sleeper('one', NODE), sleeper('two', NODE));
    for (const p of ['one', 'two']) await eventually(async () => JSON.parse(k('get', 'pod', p, '-o', 'json').stdout).status?.phase === 'Running', 30_000, `${p} Running`);
    // pods no controller manages need --force, as with Kubernetes
    const refused = k('drain', NODE, '--timeout=60s');
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/cannot delete Pods that declare no controller \(use --force to override\)/);
    const drained = k('drain', NODE, '--force', '--timeout=90s');
    expect(drained.status, drained.stderr).toBe(0);
    expect(drained.stdout).toMatch(/pod\/one evicted/);
    expect(drained.stdout).toMatch(new RegExp(`node/${NODE} drained`));
    expect(k('get', 'pods', '--field-selector', `spec.nodeName=${NODE}`, '-o', 'name').stdout.trim()).toBe('');
    await eventually(async () => ['one-day2', 'two-day2', 'waiting-day2'].every((m) => pidsWith(m).length === 0), 30_000, 'the pods\' processes gone');
    expect(k('uncordon', NODE).status).toBe(0);
  });

  it('logs --previous shows the run before the last crash', async () => {
    const counter = join(c.dir, 'runs');
    apply('runs.yaml', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'runs' }, spec: { runtimeClassName: 'process', nodeName: NODE, containers: [{ name: 'app', image: 'process', command: ['/bin/sh', '-c', `n=$(cat ${counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${counter}; echo "run $n"; sleep 1; exit 1`] }] } });
    await eventually(async () => (JSON.parse(k('get', 'pod', 'runs', '-o', 'json').stdout).status?.containerStatuses?.[0]?.restartCount ?? 0) >= 2, 60_000, 'two restarts');
    const restarts = JSON.parse(k('get', 'pod', 'runs', '-o', 'json').stdout).status.containerStatuses[0].restartCount as number;
    const current = k('logs', 'runs');
    const previous = k('logs', 'runs', '--previous');
    expect(previous.status, previous.stderr).toBe(0);
    const run = (text: string): number => Number(/run (\d+)/.exec(text)?.[1]);
    expect(run(previous.stdout)).toBe(run(current.stdout) - 1);
    expect(run(current.stdout)).toBeGreaterThanOrEqual(restarts);
    k('delete', 'pod', 'runs');
    // a pod that never restarted has no previous run
    apply('steady.yaml', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'steady' }, spec: { runtimeClassName: 'process', nodeName: NODE, containers: [{ name: 'app', image: 'process', command: ['/bin/sh', '-c', 'echo up; while true; do sleep 1; done'] }] } });
    await eventually(async () => JSON.parse(k('get', 'pod', 'steady', '-o', 'json').stdout).status?.phase === 'Running', 30_000, 'steady Running');
    const none = k('logs', 'steady', '--previous');
    expect(none.status).not.toBe(0);
    expect(none.stderr).toMatch(/previous terminated container "app" in pod "steady" not found/);
    k('delete', 'pod', 'steady');
  });
  it('explain reads the kinds\' schemas; unknown and doubled fields are refused under --validate=strict, dropped with a warning under --validate=warn', async () => {
    const protocol = k('explain', 'device.spec.protocol');
    expect(protocol.status, protocol.stderr).toBe(0);
    expect(protocol.stdout).toMatch(/^GROUP:\s+devices\.kubeedge\.io$/m);
    expect(protocol.stdout).toMatch(/^KIND:\s+Device$/m);
    expect(protocol.stdout).toMatch(/^FIELDS:\n[\s\S]*^\s+configData\s+<Object>/m);
    expect(protocol.stdout).toMatch(/^\s+protocolName\s+<string>/m);
    const probe = k('explain', 'pod.spec.containers.livenessProbe');
    expect(probe.status, probe.stderr).toBe(0);
    expect(probe.stdout).toMatch(/^FIELD:\s+livenessProbe <Probe>$/m);
    expect(probe.stdout).toMatch(/^\s+httpGet\s+<HTTPGetAction>/m);

    const file = (name: string, obj: unknown): string => {
      const f = join(c.dir, name);
      writeFileSync(f, stringify(obj));
      return f;
    };
    apply('boiler-model.yaml', model);
    const misspelt = boiler('boiler-typo', '20') as any;
    misspelt.spec.nodename = misspelt.spec.nodeName;
    delete misspelt.spec.nodeName;
    const typo = file('typo.yaml', misspelt);
    // kubectl apply validates strictly unless told otherwise: refused, naming the field, nothing made
    const strict = k('apply', '-f', typo);
    expect(strict.status).not.toBe(0);
    expect(strict.stderr).toContain('Device in version "v1beta1" cannot be handled as a Device: strict decoding error: unknown field "spec.nodename" (did you mean "nodeName"?)');
    expect(k('get', 'device', 'boiler-typo').stderr).toContain('not found');
    // --validate=warn: made without the field, and the warning says so
    const warn = k('apply', '--validate=warn', '-f', typo);
    expect(warn.status, warn.stderr).toBe(0);
    expect(warn.stderr).toContain('Warning: unknown field "spec.nodename"');
    const stored = JSON.parse(k('get', 'device', 'boiler-typo', '-o', 'json').stdout);
    expect(stored.spec).not.toHaveProperty('nodename');
    // keadm apply does as kubectl does
    const keadmStrict = await keadm(c, ['apply', '-f', typo]);
    expect(keadmStrict.code).toBe(1);
    expect(keadmStrict.err).toContain('strict decoding error: unknown field "spec.nodename" (did you mean "nodeName"?)');
    k('delete', 'device', 'boiler-typo');
    const keadmWarn = await keadm(c, ['apply', '--validate=warn', '-f', typo]);
    expect(keadmWarn.code, keadmWarn.err).toBe(0);
    expect(keadmWarn.err).toBe('Warning: unknown field "spec.nodename" (did you mean "nodeName"?)\n');
    expect(keadmWarn.out).toBe('device.devices.kubeedge.io/boiler-typo created\n');
    // a configData key its driver does not read
    const slave = boiler('boiler-slave', '20', 1502) as any;
    slave.spec.protocol.configData.slaveId = slave.spec.protocol.configData.slaveID;
    delete slave.spec.protocol.configData.slaveID;
    const slaveRun = k('apply', '-f', file('slave.yaml', slave));
    expect(slaveRun.status).not.toBe(0);
    expect(slaveRun.stderr).toContain('unknown field "spec.protocol.configData.slaveId" (did you mean "slaveID"?)');
    // a field given twice (kubectl's own decoding keeps the last, so the body goes as it is): refused
    // under Strict; under no fieldValidation at all, Kubernetes' default (Warn), made with a warning
    const twice = join(c.dir, 'twice.json');
    writeFileSync(twice, JSON.stringify(boiler('boiler-twice', '20')).replace('"nodeName":', '"nodeName":"elsewhere","nodeName":'));
    const devices = '/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices';
    const dup = k('create', '--raw', `${devices}?fieldValidation=Strict`, '-f', twice);
    expect(dup.status).not.toBe(0);
    expect(dup.stderr).toContain('strict decoding error: duplicate field "spec.nodeName"');
    const dupWarn = k('create', '--raw', devices, '-f', twice);
    expect(dupWarn.status, dupWarn.stderr).toBe(0);
    expect(dupWarn.stderr).toContain('Warning: duplicate field "spec.nodeName"');
    expect(JSON.parse(k('get', 'device', 'boiler-twice', '-o', 'json').stdout).spec.nodeName).toBe(NODE);
    // what is right passes with nothing said, and so do kubectl's own patches of what is stored
    const clean = k('apply', '-f', file('clean.yaml', boiler('boiler-clean', '20')));
    expect(clean.status, clean.stderr).toBe(0);
    expect(clean.stderr).toBe('');
    for (const args of [['label', 'device', 'boiler-clean', 'site=north'], ['annotate', 'node', NODE, 'note=ok'], ['patch', 'device', 'boiler-clean', '--type=merge', '-p', '{"spec":{"properties":[{"name":"setpoint","desired":{"value":"21"}}]}}']]) {
      const r = k(...args);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
    }
    k('delete', 'device', 'boiler-typo', 'boiler-twice', 'boiler-clean');
  });
  it('exec runs a command in a process pod\'s own view (its volumes), with input, exit codes and a terminal; attach shows what it writes', async () => {
    apply('shell.yaml', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'shell-cfg' },
      data: { greeting: 'bonjour' },
    }, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'shell' },
      spec: {
        runtimeClassName: 'process',
        nodeName: NODE,
        terminationGracePeriodSeconds: 1,
        containers: [{ name: 'app', image: 'process', command: ['/bin/sh', '-c', 'while true; do echo tick; sleep 1; done'], env: [{ name: 'COLOUR', value: 'blue' }], volumeMounts: [{ name: 'cfg', mountPath: '/cfg' }] }],
        volumes: [{ name: 'cfg', configMap: { name: 'shell-cfg' } }],
      },
    });
    await eventually(async () => JSON.parse(k('get', 'pod', 'shell', '-o', 'json').stdout).status?.phase === 'Running', 30_000, 'shell Running');
    const hi = k('exec', 'shell', '--', 'echo', 'hi');
    expect(hi.status, hi.stderr).toBe(0);
    expect(hi.stdout).toBe('hi\n');
    // inside: the pod's volume at its path (not on this host), the container's environment
    const inside = k('exec', 'shell', '--', 'sh', '-c', 'cat /cfg/greeting; echo " $COLOUR"; echo oops >&2');
    expect(inside.stdout).toBe('bonjour blue\n');
    expect(inside.stderr).toBe('oops\n');
    expect(k('exec', 'shell', '--', 'sh', '-c', 'exit 3').status).toBe(3);
    const piped = kubectl(kubeconfig, ['exec', '-i', 'shell', '--', 'sh', '-c', 'read line; echo "got $line"'], 'typed in\n');
    expect(piped.stdout).toBe('got typed in\n');
    // a person at a terminal: a shell, a line typed, its answer, exit
    const tty = await kubectlInTerminal(kubeconfig, ['exec', '-it', 'shell', '--', 'sh'], ['echo answer-$((6*7))', 'exit']);
    expect(tty.output).toContain('answer-42');
    expect(tty.status).toBe(0);
    // kubectl killed mid-command: the command is ended at the edge too
    const runaway = spawn('kubectl', ['--kubeconfig', kubeconfig, 'exec', 'shell', '--', 'sh', '-c', 'echo started; sleep 1001; echo never']);
    await new Promise<void>((resolve) => runaway.stdout.on('data', (d: Buffer) => d.toString().includes('started') && resolve()));
    // the sleep itself (kubectl's own command line names it too)
    const sleeping = (): number[] => pidsWith('sleep 1001').filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('sleep\0');
      } catch {
        return false;
      }
    });
    expect(sleeping()).toHaveLength(1);
    runaway.kill('SIGKILL');
    await eventually(async () => sleeping().length === 0, 15_000, 'the exec\'s sleep ended');
    // what kubectl is told when the container is not there or the command is missing
    expect(k('exec', 'shell', '-c', 'nope', '--', 'true').stderr).toContain('container nope is not valid for pod shell');
    expect(k('exec', 'shell', '--', 'no-such-command').status).not.toBe(0);
    // attach: the container's output from now on, until the caller goes
    const attach = spawnSync('timeout', ['-s', 'INT', '3', 'kubectl', '--kubeconfig', kubeconfig, 'attach', 'shell'], { encoding: 'utf8' });
    expect(attach.stdout).toMatch(/^tick$/m);
    k('delete', 'pod', 'shell');
    k('delete', 'configmap', 'shell-cfg');
  });
  it('top node and top pod print what the edge and its pods use', async () => {
    apply('busy.yaml', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'busy', labels: { app: 'busy' } },
      spec: { runtimeClassName: 'process', nodeName: NODE, terminationGracePeriodSeconds: 1, containers: [{ name: 'app', image: 'process', command: ['/bin/sh', '-c', 'while true; do i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 0.1; done'] }] },
    });
    await eventually(async () => JSON.parse(k('get', 'pod', 'busy', '-o', 'json').stdout).status?.phase === 'Running', 30_000, 'busy Running');
    const nodes = k('top', 'node');
    expect(nodes.status, nodes.stderr).toBe(0);
    expect(nodes.stdout.split('\n')[0]).toMatch(/^NAME\s+CPU\(cores\)\s+CPU\(%\)\s+MEMORY\(bytes\)\s+MEMORY\(%\)\s*$/);
    const row = new RegExp(`^${NODE}\\s+(\\d+)m\\s+(\\d+)%\\s+(\\d+)Mi\\s+(\\d+)%\\s*$`, 'm').exec(nodes.stdout);
    expect(row, nodes.stdout).not.toBeNull();
    expect(Number(row?.[3])).toBeGreaterThan(0);
    // the busy pod's CPU shows (a second's window at least), and its memory
    const pod = await eventually(async () => {
      const r = k('top', 'pod', '-l', 'app=busy', '--containers');
      const m = /^busy\s+app\s+(\d+)m\s+(\d+)Mi\s*$/m.exec(r.stdout);
      return m && Number(m[1]) > 0 ? m : undefined;
    }, 30_000, 'busy using CPU in kubectl top pod');
    expect(Number(pod[2])).toBeGreaterThanOrEqual(0);
    const all = k('top', 'pod');
    expect(all.stdout.split('\n')[0]).toMatch(/^NAME\s+CPU\(cores\)\s+MEMORY\(bytes\)\s*$/);
    expect(all.stdout).toMatch(/^busy\s+\d+m\s+\d+Mi\s*$/m);
    k('delete', 'pod', 'busy');
  });
});
