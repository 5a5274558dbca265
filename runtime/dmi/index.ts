/**
 * DMI: KubeEdge's Device Management Interface, edgecore's side. It serves DeviceManagerService
 * on a unix socket for mappers (separate programs that drive a protocol edgecore has no driver
 * for), gives each the devices and models of its protocol, keeps it up to date as they change
 * (desired values too, as UpdateDevice, as KubeEdge does), and takes its twin reports and device
 * states into DeviceTwin, the path an app's MQTT reports take. Registered mappers are remembered
 * across restarts. One that does not answer is said in its devices' status (MapperMissing) and
 * brought up to date once it answers again.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Module, ModuleContext } from '../../core/module.js';
import { Group } from '../../core/message.js';
import { errorText } from '../../core/errors.js';
import { decode, encode, type Decoded, type Schema } from '../../core/protobuf.js';
import { GrpcError, Status, serveUnix, type GrpcServer, type UnaryHandler } from '../../core/grpc.js';
import { Manager } from '../../api/dmi/messages.js';
import type { DeviceTwin } from '../devicetwin/index.js';
import { parseState } from '../devicetwin/twin.js';
import { deviceMsg, modelMsg } from './convert.js';
import { MapperLink, type MapperInfo, type Wanted } from './mapper-link.js';

export const DMI = 'dmi';
const HEALTH_MS = 5_000;

export interface DmiDeps {
  twin: DeviceTwin;
  /** where DeviceManagerService listens (modules.deviceTwin.dmiSockPath) */
  sockPath: string;
  /** does an in-process driver take devices of this protocol? (then no mapper gets them) */
  inProcess: (protocol: string) => boolean;
  /** where registered mappers are remembered; undefined: not across restarts */
  mappersFile: string | undefined;
  healthMs?: number;
}

type Condition = Parameters<DeviceTwin['setCondition']>[1];

/** a request's message; bytes that are not one are the caller's mistake */
function decodeRequest(schema: Schema, body: Buffer): Decoded {
  try {
    return decode(schema, body);
  } catch (err) {
    throw new GrpcError(Status.invalidArgument, `not a request message: ${errorText(err)}`);
  }
}

export function createDmi(deps: DmiDeps): Module {
  return new DmiModule(deps);
}

class DmiModule implements Module {
  readonly name = DMI;
  readonly group = Group.twin;
  private ctx: ModuleContext | undefined;
  private server: GrpcServer | undefined;
  private health: NodeJS.Timeout | undefined;
  /** by protocol: one mapper serves a protocol, the last to register */
  private readonly links = new Map<string, MapperLink>();
  /** each device's condition as DMI last set it (its own, or its mapper's), so an unchanged one is not written again */
  private readonly said = new Map<string, { key: string; reason: string | undefined }>();

  constructor(private readonly deps: DmiDeps) {}

  private protocolOf(id: string): string | undefined {
    const p = this.deps.twin.spec(id)?.device.protocol?.protocolName;
    return p && !this.deps.inProcess(p) ? p : undefined;
  }

  /** a device's message and its model's, for a mapper; undefined while its model is missing (ModelMissing says so) */
  private messagesOf(id: string): { device: object; model: object; modelId: string } | undefined {
    const s = this.deps.twin.spec(id);
    if (!s?.model) return undefined;
    const modelId = `${id.split('/')[0] ?? ''}/${s.device.deviceModelRef.name}`;
    return { device: deviceMsg(id, s.device, this.deps.twin.device(id)), model: modelMsg(modelId, s.model), modelId };
  }

  /** the devices (with their models) a mapper of `protocol` should hold */
  private wanted(protocol: string): Wanted {
    const w: Wanted = { models: new Map(), devices: new Map() };
    for (const id of this.deps.twin.deviceIds()) {
      const m = this.protocolOf(id) === protocol ? this.messagesOf(id) : undefined;
      if (!m) continue;
      w.models.set(m.modelId, { msg: m.model, fingerprint: JSON.stringify(m.model) });
      w.devices.set(id, { msg: m.device, fingerprint: JSON.stringify(m.device) });
    }
    return w;
  }

  /** does the mapper hold another version of this device (or its model) than it should? */
  private stale(link: MapperLink, id: string): boolean {
    const m = this.protocolOf(id) === link.info.protocol ? this.messagesOf(id) : undefined;
    if (!m) return link.devices.has(id);
    return link.devices.get(id) !== JSON.stringify(m.device) || link.models.get(m.modelId) !== JSON.stringify(m.model);
  }

  private condition(id: string, c: Condition): void {
    const key = JSON.stringify(c ?? null);
    if (this.said.get(id)?.key === key) return;
    this.said.set(id, { key, reason: c?.reason });
    this.deps.twin.setCondition(id, c).catch((err: unknown) => this.ctx?.log.debug(`${id}: condition not stored: ${errorText(err)}`));
  }

  /** says in each device's status (of `protocol`, or all) whether a mapper serves it */
  private tellDevices(protocol?: string): void {
    for (const id of this.deps.twin.deviceIds()) {
      const p = this.protocolOf(id);
      if (p !== undefined && (protocol === undefined || p === protocol)) this.tellDevice(id, p);
    }
  }

  private tellDevice(id: string, protocol: string): void {
    if (!this.deps.twin.spec(id)?.model) return;
    const link = this.links.get(protocol);
    if (!link) this.condition(id, { status: 'False', reason: 'MapperMissing', message: `no driver in edgecore and no mapper registered for protocol ${JSON.stringify(protocol)}` });
    else if (link.missing) this.condition(id, { status: 'False', reason: 'MapperMissing', message: `mapper ${link.info.name} of protocol ${JSON.stringify(protocol)} does not answer: ${link.missing}` });
    else if ([undefined, 'MapperMissing'].includes(this.said.get(id)?.reason)) this.condition(id, { status: 'True', reason: 'MapperRegistered', message: `driven by mapper ${link.info.name}` }); // else the mapper's own word stands
  }

  private sync(link: MapperLink): void {
    link.sync(() => this.wanted(link.info.protocol)).then(
      () => this.answered(link),
      (err: unknown) => this.lost(link, errorText(err)),
    );
  }

  private answered(link: MapperLink): void {
    if (link.missing === undefined) return;
    link.missing = undefined;
    this.ctx?.log.info(`mapper ${link.info.name} (${link.info.protocol}) answers again`);
    this.tellDevices(link.info.protocol);
  }

  private lost(link: MapperLink, why: string): void {
    if (this.links.get(link.info.protocol) !== link || link.missing !== undefined) return;
    link.missing = why;
    this.ctx?.log.warn(`mapper ${link.info.name} (${link.info.protocol}) at ${link.info.address} does not answer: ${why}`);
    this.tellDevices(link.info.protocol);
  }

  /** every few seconds: a mapper that does not answer a ping is missing; one that answers again is brought up to date */
  private checkHealth(): void {
    for (const link of this.links.values()) {
      void link.client.ping(2_000).then((ok) => {
        if (!ok) return this.lost(link, `no answer at ${link.info.address}`);
        if (link.missing !== undefined) this.sync(link);
      });
    }
  }

  /** a device changed (its spec, its model, a desired value) or went: its mapper is brought up to date */
  private onDevice = (id: string): void => {
    const protocol = this.protocolOf(id) ?? [...this.links.values()].find((l) => l.devices.has(id))?.info.protocol;
    if (protocol === undefined) return;
    const link = this.links.get(protocol);
    if (link && link.missing === undefined && this.stale(link, id)) this.sync(link);
    if (this.deps.twin.spec(id)) this.tellDevice(id, protocol);
    else this.said.delete(id);
  };

  // --- DeviceManagerService ---

  private register(req: Decoded): Decoded {
    const m = req.mapper as Decoded | undefined;
    const protocol = String(m?.protocol ?? '');
    const address = (m?.address as Buffer | undefined)?.toString('utf8').replace(/^unix:\/\//, '') ?? '';
    if (!protocol || !address) throw new GrpcError(Status.invalidArgument, 'a mapper registers with its protocol and the address of its socket');
    const info: MapperInfo = { name: String(m?.name ?? ''), version: String(m?.version ?? ''), apiVersion: String(m?.api_version ?? ''), protocol, address };
    if (this.deps.inProcess(protocol)) this.ctx?.log.warn(`mapper ${info.name} registers for ${protocol}, which edgecore drives itself; disable modules.deviceManager to leave it to the mapper`);
    this.links.get(protocol)?.close();
    const link = new MapperLink(info);
    this.links.set(protocol, link);
    this.saveMappers();
    const w = this.wanted(protocol);
    this.ctx?.log.info(`mapper ${info.name} ${info.version} registered for protocol ${protocol} at ${address}: ${w.devices.size} device(s)`);
    if (req.withData) {
      for (const [id, d] of w.devices) link.devices.set(id, d.fingerprint);
      for (const [id, md] of w.models) link.models.set(id, md.fingerprint);
    } else this.sync(link);
    this.tellDevices(protocol);
    return req.withData ? { modelList: [...w.models.values()].map((x) => x.msg), deviceList: [...w.devices.values()].map((x) => x.msg) } : {};
  }

  private deviceId(req: Decoded): string {
    const id = `${String(req.deviceNamespace || 'default')}/${String(req.deviceName)}`;
    if (!this.deps.twin.device(id)) throw new GrpcError(Status.notFound, `device ${id} is not a member of this node`);
    return id;
  }

  /** runs a change of the twin; what DeviceTwin refuses is the mapper's mistake, said with its reason */
  private async intoTwin(change: () => Promise<void>): Promise<Decoded> {
    try {
      await change();
    } catch (err) {
      throw err instanceof GrpcError ? err : new GrpcError(Status.invalidArgument, errorText(err));
    }
    return {};
  }

  private reportStatus(req: Decoded): Promise<Decoded> {
    return this.intoTwin(async () => {
      const id = this.deviceId(req);
      const twins = ((req.reportedDevice as Decoded | undefined)?.twins ?? []) as { propertyName: string; reported?: { value: string } }[];
      const actual = Object.fromEntries(twins.filter((t) => t.propertyName && t.reported).map((t) => [t.propertyName, t.reported?.value ?? '']));
      if (Object.keys(actual).length > 0) await this.deps.twin.report(id, actual);
    });
  }

  /** the state, and (our addition to DMI) why: the device's Ready condition */
  private reportStates(req: Decoded): Promise<Decoded> {
    return this.intoTwin(async () => {
      const id = this.deviceId(req);
      const state = parseState({ state: req.state });
      await this.deps.twin.setState(id, state);
      const ready = req.ready === 'True' || req.ready === 'False' ? req.ready : state === 'online' || state === 'ok' ? 'True' : 'False';
      if (req.reason) this.condition(id, { status: ready, reason: String(req.reason), message: String(req.message) });
    });
  }

  private handlers(): Map<string, UnaryHandler> {
    const method = (name: 'MapperRegister' | 'ReportDeviceStatus' | 'ReportDeviceStates', fn: (req: Decoded) => Decoded | Promise<Decoded>): [string, UnaryHandler] => {
      const [req, res] = Manager[name] as readonly [Schema, Schema];
      return [`/${Manager.service}/${name}`, async (body) => encode(res, await fn(decodeRequest(req, body)))];
    };
    return new Map([method('MapperRegister', (r) => this.register(r)), method('ReportDeviceStatus', (r) => this.reportStatus(r)), method('ReportDeviceStates', (r) => this.reportStates(r))]);
  }

  // --- registrations across restarts ---

  private saveMappers(): void {
    const file = this.deps.mappersFile;
    if (!file) return;
    try {
      writeFileSync(`${file}.tmp`, JSON.stringify([...this.links.values()].map((l) => l.info)));
      renameSync(`${file}.tmp`, file);
    } catch (err) {
      this.ctx?.log.warn(`cannot remember the registered mappers in ${file}: ${errorText(err)}`);
    }
  }

  private loadMappers(): MapperInfo[] {
    const file = this.deps.mappersFile;
    if (!file) return [];
    try {
      const list = JSON.parse(readFileSync(file, 'utf8')) as unknown;
      return Array.isArray(list) ? list.filter((m): m is MapperInfo => typeof m?.protocol === 'string' && typeof m?.address === 'string') : [];
    } catch {
      return []; // none registered yet, or a file that cannot be read: mappers register again
    }
  }

  async start(c: ModuleContext): Promise<void> {
    this.ctx = c;
    for (const info of this.loadMappers()) this.links.set(info.protocol, new MapperLink(info));
    try {
      this.server = await serveUnix(this.deps.sockPath, this.handlers());
      c.log.info(`DMI: DeviceManagerService on unix:${this.deps.sockPath}${this.links.size ? `; mappers known: ${[...this.links.values()].map((l) => `${l.info.name} (${l.info.protocol})`).join(', ')}` : ''}`);
    } catch (err) {
      c.log.error(`DMI: cannot serve on ${this.deps.sockPath} (modules.deviceTwin.dmiSockPath): ${errorText(err)}; no mapper can register`);
    }
    this.deps.twin.events.on('device', this.onDevice);
    this.deps.twin.events.on('delta', this.onDevice);
    for (const link of this.links.values()) this.sync(link); // a mapper known from the last run gets its devices again
    this.tellDevices();
    this.health = setInterval(() => this.checkHealth(), this.deps.healthMs ?? HEALTH_MS);
    this.health.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.health);
    this.deps.twin.events.off('device', this.onDevice);
    this.deps.twin.events.off('delta', this.onDevice);
    for (const link of this.links.values()) link.close();
    await this.server?.close();
    this.server = undefined;
  }
}
