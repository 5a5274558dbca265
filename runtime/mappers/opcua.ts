/**
 * mapper-opcua: a KubeEdge mapper for OPC UA servers (dist/mapper-opcua.js, its own package). It
 * registers with edgecore over DMI for protocol `opcua` and drives each Device it is given:
 * - `protocol.configData`: `url` (opc.tcp://…), `securityMode` (None, Sign, SignAndEncrypt),
 *   `securityPolicy`, `certificateFile` and `privateKeyFile` (the client's, PEM), `timeout` (ms);
 * - each property's `visitors.configData`: `nodeID` (ns=2;s=Temperature), `subscribe` (a monitored
 *   item sampled every collectCycle; else polled every collectCycle);
 * - readings go to edgecore as twins (changed ones, at most once per reportCycle); a desired value
 *   is written to its variable once per new value; a write the server refuses is said in the
 *   device's Ready condition (reason WriteRefused, with the server's status code); a server that
 *   refuses the connection or the session is said too (ServerUnreachable, with its reason);
 * - a property's pushMethod (mqtt, http) sends its readings, once per reportCycle, as edgecore's
 *   own drivers do (runtime/devicemanager/push.ts).
 */
import { join } from 'node:path';
import type { ParsedArgs } from '../../core/cli.js';
import { createLogger, type Logger } from '../../core/log.js';
import { errorText } from '../../core/errors.js';
import type { Decoded } from '../../core/protobuf.js';
import { fromCustomized } from '../../api/dmi/messages.js';
import { OpcuaDevice, type OpcuaConfig, type OpcuaProperty } from '../../drivers/opcua/device.js';
import { DmiMapper, pushMethodOf, type ProtocolDriver } from './dmi-mapper.js';
import { Pusher, type PushMethodSpec } from '../devicemanager/push.js';
import { twinTypeOf } from '../../api/devices/types.js';

interface Running {
  fingerprint: string;
  device: OpcuaDevice;
  /** the desired value last written (or tried) per property */
  written: Map<string, string>;
}

/** the connection-level settings and the properties of a Device message */
interface Plan {
  cfg: OpcuaConfig;
  props: OpcuaProperty[];
  reportCycle: number;
  desired: Map<string, string>;
  /** properties with a pushMethod: where, how often (ms), and the twin type their readings carry */
  push: Map<string, { spec: PushMethodSpec; everyMs: number; type: string }>;
}

function planOf(device: Decoded, model: Decoded | undefined): Plan {
  const spec = device.spec as Decoded;
  const c = fromCustomized((spec.protocol as Decoded | undefined)?.configData);
  const mode = c.securityMode === 'Sign' || c.securityMode === 'SignAndEncrypt' ? c.securityMode : 'None';
  const cfg: OpcuaConfig = { url: String(c.url ?? ''), securityMode: mode, ...(c.securityPolicy ? { securityPolicy: String(c.securityPolicy) } : {}), ...(c.certificateFile ? { certificateFile: String(c.certificateFile) } : {}), ...(c.privateKeyFile ? { privateKeyFile: String(c.privateKeyFile) } : {}), ...(typeof c.timeout === 'number' ? { timeout: c.timeout } : {}) };
  const props: OpcuaProperty[] = [];
  const desired = new Map<string, string>();
  const push: Plan['push'] = new Map();
  const types = new Map(((model?.spec as Decoded | undefined)?.properties as Decoded[] | undefined)?.map((m) => [String(m.name), twinTypeOf(String(m.type))]) ?? []);
  let reportCycle = Infinity;
  for (const p of spec.properties as Decoded[]) {
    const v = fromCustomized((p.visitors as Decoded | undefined)?.configData);
    const nodeId = v.nodeID ?? v.nodeId;
    if (typeof nodeId !== 'string') continue;
    const prop: OpcuaProperty = { name: String(p.name), nodeId, subscribe: v.subscribe === true || v.subscribe === 'true', cycleMs: Math.max(50, Number(p.collectCycle) || 1000) };
    props.push(prop);
    reportCycle = Math.min(reportCycle, Number(p.reportCycle) || 0);
    const spec = pushMethodOf(p);
    if (spec) push.set(prop.name, { spec, everyMs: Number(p.reportCycle) || prop.cycleMs, type: types.get(prop.name) ?? 'string' });
    const want = (p.desired as Decoded | undefined)?.value;
    if (typeof want === 'string' && want !== '') desired.set(String(p.name), want);
  }
  return { cfg, props, reportCycle: Number.isFinite(reportCycle) ? reportCycle : 0, desired, push };
}

export class OpcuaDriver implements ProtocolDriver {
  private readonly running = new Map<string, Running>();
  /** each device's desired values, from its last Device message */
  private readonly desired = new Map<string, Map<string, string>>();
  /** pushMethod, as edgecore's own drivers push */
  private readonly pusher: Pusher;

  constructor(
    private readonly mapper: DmiMapper,
    private readonly pkiDir: string,
    private readonly log: Logger,
  ) {
    this.pusher = new Pusher({ log, clientId: 'mapper-opcua' });
  }

  put(id: string, device: Decoded, model: Decoded | undefined): void {
    const plan = planOf(device, model);
    const fingerprint = JSON.stringify([plan.cfg, plan.props, [...plan.push]]);
    let run = this.running.get(id);
    if (!plan.cfg.url) return void this.mapper.state(id, 'offline', { ready: 'False', reason: 'BadConfig', message: 'spec.protocol.configData.url is missing (opc.tcp://HOST:PORT/PATH)' });
    if (run?.fingerprint !== fingerprint) {
      void run?.device.stop();
      const log = this.log.child(id);
      const events = {
        value: (property: string, value: string) => {
          this.mapper.report(id, property, value, plan.reportCycle);
          const push = plan.push.get(property);
          if (push) this.pusher.offer(id, property, value, push.type, push.spec, push.everyMs);
        },
        state: (state: 'online' | 'offline', why?: string, reason = 'ServerUnreachable') => {
          if (state === 'online') {
            this.mapper.state(id, 'online', { ready: 'True', reason: 'Reading', message: `connected to ${plan.cfg.url}` });
            this.running.get(id)?.written.clear(); // a restarted server may hold other values: the desired ones again
            this.writeDesired(id);
          } else this.mapper.state(id, 'offline', { ready: 'False', reason, message: why ?? 'not connected' });
        },
      };
      run = { fingerprint, device: new OpcuaDevice(plan.cfg, plan.props, join(this.pkiDir, id.replace('/', '_')), events, log), written: new Map() };
      this.running.set(id, run);
      run.device.start();
    }
    this.desired.set(id, plan.desired);
    this.writeDesired(id);
  }

  /** writes each desired value not yet written (a new one, or all of them after a reconnect) */
  private writeDesired(id: string): void {
    const run = this.running.get(id);
    for (const [property, value] of this.desired.get(id) ?? []) {
      if (!run || run.written.get(property) === value) continue;
      run.device.write(property, value).then(
        (status) => {
          run.written.set(property, value);
          if (status === 'Good') {
            this.log.info(`${id}: wrote ${property} = ${value}`);
            return this.mapper.state(id, 'online', { ready: 'True', reason: 'Reading', message: `wrote ${property} = ${value}` });
          }
          this.log.warn(`${id}: the server refused ${property} = ${value}: ${status}`);
          this.mapper.state(id, 'online', { ready: 'False', reason: 'WriteRefused', message: `${property} = ${value}: ${status}` });
        },
        (err: unknown) => this.log.debug(`${id}: ${property} not written yet: ${errorText(err)}`), // again once connected
      );
    }
  }

  remove(id: string): void {
    void this.running.get(id)?.device.stop();
    this.running.delete(id);
    this.desired.delete(id);
    this.pusher.forget(id);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.running.values()].map((r) => r.device.stop()));
    await this.pusher.close();
  }
}

/** runs the mapper with the flags opcua-entry.ts parsed */
export async function main(args: ParsedArgs): Promise<void> {
  const flag = (k: string, d: string): string => String(args.flags.get(k) ?? d);
  const log = createLogger({ scope: 'mapper-opcua' });
  const mapper = new DmiMapper({ name: flag('name', 'opcua-mapper'), protocol: flag('protocol', 'opcua'), edgeSocket: flag('dmi-socket', '/etc/kubeedge/dmi.sock'), socket: flag('socket', '/etc/kubeedge/mapper-opcua.sock'), log });
  const driver = new OpcuaDriver(mapper, flag('pki-dir', '/var/lib/kubeedge/mapper-opcua/pki'), log);
  const stop = async (): Promise<void> => {
    await driver.stop();
    await mapper.stop();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  await mapper.start(driver);
}
