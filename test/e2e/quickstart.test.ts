import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runBundle } from '../peers/proc.js';
import { eventually } from './cluster.js';

describe('the quick start (npm start)', () => {
  it('runs a cloud, a joined edge and a simulated Modbus thermostat, prints how to use them, and Ctrl-C leaves nothing behind', async () => {
    const p = runBundle('keadm', ['quickstart']);
    await p.waitFor(/Ctrl-C stops everything and removes/, 60_000);
    const out = p.lines.join('\n');
    const dir = /in (\/\S+kubeedge-quickstart-\S+)/.exec(out)?.[1] as string;
    expect(existsSync(dir)).toBe(true);
    // the printed commands work: the node is Ready, a device reaches the edge, an upload is taken
    const curls = p.lines.filter((l) => l.trim().startsWith('curl'));
    const nodeCmd = curls[0]!.trim().replace(/^curl /, '');
    const args = nodeCmd.match(/"[^"]*"|'[^']*'|\S+/g)!.map((a) => a.replace(/^["']|["']$/g, ''));
    const node = await eventually(async () => {
      const n = JSON.parse(execFileSync('curl', args, { encoding: 'utf8' }));
      return n.status?.conditions?.[0]?.status === 'True' ? n : undefined;
    }, 15_000, 'Ready');
    expect(node.metadata.name).toBe('edge-quickstart');
    const mqttPort = /MQTT tcp:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1] as string;
    // the simulated thermostat: its temperature reaches the cloud, and the printed commands set a new setpoint
    const getCmd = p.lines.find((l) => l.includes(' get devices thermostat-1 -o yaml'))!.trim().split('#')[0]!.trim();
    const status = () => execFileSync('sh', ['-c', getCmd.replace('-o yaml', '-o json')], { encoding: 'utf8' });
    const twin = (prop: string) => JSON.parse(status()).status?.twins?.find((t: any) => t.propertyName === prop);
    await eventually(async () => /^\d+(\.\d+)?$/.test(twin('temperature')?.reported?.value ?? ''), 20_000, 'temperature in status.twins');
    await eventually(async () => twin('setpoint')?.reported?.value === '21', 20_000, 'setpoint 21');
    const setCmd = p.lines.find((l) => l.includes("sed -i 's/value: \"21\"/value: \"25\"/'"))!.trim().split('   #')[0]!;
    execFileSync('sh', ['-c', setCmd], { encoding: 'utf8' });
    await eventually(async () => twin('setpoint')?.reported?.value === '25', 20_000, 'setpoint 25 written to the slave and read back');
    execFileSync('mosquitto_pub', ['-p', mqttPort, '-q', '1', '-t', '$hw/events/upload/meter-1', '-m', '{"kwh":"12.5"}']);

    p.child.kill('SIGINT');
    await p.exited;
    expect(existsSync(dir)).toBe(false);
    // no process runs with a config from that folder (pgrep exits 1 when none matches)
    const pgrep = spawnSync('pgrep', ['-f', '--', `--config ${dir}`], { encoding: 'utf8' });
    expect(pgrep.stdout.trim()).toBe('');
    expect(pgrep.status).toBe(1);
  }, 90_000);
});
