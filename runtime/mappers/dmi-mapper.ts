/**
 * The mapper's side of KubeEdge's DMI, for a mapper program of ours (mapper-opcua): it serves
 * DeviceMapperService on its own unix socket, registers with edgecore (again and again with
 * back-off until edgecore answers), hands the devices it gets to its protocol's driver, and sends
 * what the driver reads back as ReportDeviceStatus (changed values, at most once per reportCycle)
 * and ReportDeviceStates. A report edgecore cannot take is dropped: the next change brings the value.
 */
import { serveUnix, UnixClient, type GrpcServer, type UnaryHandler } from '../../core/grpc.js';
import { decode, encode, type Decoded, type Schema } from '../../core/protobuf.js';
import type { Logger } from '../../core/log.js';
import { errorText } from '../../core/errors.js';
import { createBackoff } from '../../core/backoff.js';
import { Manager, Mapper } from '../../api/dmi/messages.js';
import type { PushMethodSpec } from '../devicemanager/push.js';

/** what the driver of a protocol does with the devices edgecore gives its mapper */
export interface ProtocolDriver {
  /** a device added or changed (its spec, or a desired value): the whole Device message, decoded */
  put(id: string, device: Decoded, model: Decoded | undefined): void;
  remove(id: string): void;
}

export interface DmiMapperOptions {
  name: string;
  protocol: string;
  /** edgecore's DeviceManagerService */
  edgeSocket: string;
  /** where this mapper serves DeviceMapperService */
  socket: string;
  log: Logger;
}

const CALL_MS = 10_000;

/** a DMI property's pushMethod (the proto's lower-case names) as our pusher takes it; undefined when it has none */
export function pushMethodOf(p: Decoded): PushMethodSpec | undefined {
  const pm = p.pushMethod as Decoded | undefined;
  const http = pm?.http as Decoded | undefined;
  const mqtt = pm?.mqtt as Decoded | undefined;
  const spec: PushMethodSpec = {
    ...(http?.hostname ? { http: { hostName: String(http.hostname), port: Number(http.port), requestPath: String(http.requestpath || '/'), timeout: Number(http.timeout) } } : {}),
    ...(mqtt?.address ? { mqtt: { address: String(mqtt.address), topic: String(mqtt.topic), qos: Number(mqtt.qos), retained: mqtt.retained === true } } : {}),
  };
  return spec.http || spec.mqtt ? spec : undefined;
}
const idOf = (ns: unknown, name: unknown): string => `${String(ns || 'default')}/${String(name)}`;

export class DmiMapper {
  private readonly edge: UnixClient;
  private server: GrpcServer | undefined;
  private readonly models = new Map<string, Decoded>();
  private readonly pending = new Map<string, Map<string, string>>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopped = false;
  private driver: ProtocolDriver | undefined;

  constructor(private readonly opts: DmiMapperOptions) {
    this.edge = new UnixClient(opts.edgeSocket);
  }

  private async call(method: keyof typeof Manager & string, request: Decoded): Promise<Decoded> {
    const [req, res] = Manager[method as 'MapperRegister'] as readonly [Schema, Schema];
    return decode(res, await this.edge.call(`/${Manager.service}/${method}`, encode(req, request), CALL_MS));
  }

  private modelOf(device: Decoded): Decoded | undefined {
    return this.models.get(idOf(device.namespace, (device.spec as Decoded | undefined)?.deviceModelReference));
  }

  private handlers(): Map<string, UnaryHandler> {
    const on = (name: keyof typeof Mapper & string, fn: (req: Decoded) => Decoded): [string, UnaryHandler] => {
      const [req, res] = Mapper[name as 'UpdateDevice'] as readonly [Schema, Schema];
      return [`/${Mapper.service}/${name}`, async (body) => encode(res, fn(decode(req, body)))];
    };
    const putDevice = (r: Decoded): Decoded => {
      const d = r.device as Decoded;
      this.driver?.put(idOf(d.namespace, d.name), d, this.modelOf(d));
      return { deviceName: d.name, deviceNamespace: d.namespace };
    };
    const putModel = (r: Decoded): Decoded => {
      const m = r.model as Decoded;
      this.models.set(idOf(m.namespace, m.name), m);
      return { deviceModelName: m.name, deviceModelNamespace: m.namespace };
    };
    return new Map([
      on('RegisterDevice', putDevice),
      on('UpdateDevice', putDevice),
      on('RemoveDevice', (r) => (this.driver?.remove(idOf(r.deviceNamespace, r.deviceName)), {})),
      on('CreateDeviceModel', putModel),
      on('UpdateDeviceModel', putModel),
      on('RemoveDeviceModel', (r) => (this.models.delete(idOf(r.modelNamespace, r.modelName)), {})),
    ]);
  }

  /** serves its socket, then registers; resolves once edgecore has taken the registration */
  async start(driver: ProtocolDriver): Promise<void> {
    this.driver = driver;
    this.server = await serveUnix(this.opts.socket, this.handlers());
    const backoff = createBackoff(1000, 30_000);
    while (!this.stopped) {
      try {
        const reply = await this.call('MapperRegister', { withData: true, mapper: { name: this.opts.name, version: 'v1.0.0', api_version: 'v1beta1', protocol: this.opts.protocol, address: Buffer.from(this.opts.socket), state: 'running' } });
        for (const m of reply.modelList as Decoded[]) this.models.set(idOf(m.namespace, m.name), m);
        for (const d of reply.deviceList as Decoded[]) driver.put(idOf(d.namespace, d.name), d, this.modelOf(d));
        this.opts.log.info(`registered with edgecore at ${this.opts.edgeSocket}: ${(reply.deviceList as Decoded[]).length} device(s) of protocol ${this.opts.protocol}`);
        return;
      } catch (err) {
        const delay = backoff.next();
        this.opts.log.warn(`cannot register with edgecore at ${this.opts.edgeSocket}: ${errorText(err)}; again in ${delay} ms`);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** a value read: reported with the device's other changes, at most once per `reportCycleMs` */
  report(id: string, property: string, value: string, reportCycleMs: number): void {
    let values = this.pending.get(id);
    if (!values) this.pending.set(id, (values = new Map()));
    values.set(property, value);
    if (this.timers.has(id)) return;
    this.timers.set(
      id,
      setTimeout(() => this.flush(id), Math.max(0, reportCycleMs)),
    );
  }

  private flush(id: string): void {
    this.timers.delete(id);
    const values = this.pending.get(id);
    this.pending.delete(id);
    if (!values || this.stopped) return;
    const [deviceNamespace, deviceName] = id.split('/');
    const twins = [...values].map(([propertyName, value]) => ({ propertyName, observedDesired: {}, reported: { value, metadata: { timestamp: String(Date.now()) } } }));
    this.call('ReportDeviceStatus', { deviceName, deviceNamespace, reportedDevice: { twins, reportToCloud: true } }).catch((err: unknown) => this.opts.log.warn(`${id}: report not taken: ${errorText(err)}`));
  }

  /** the device's state, and why (a Ready condition in its status: True or False, a reason, a message) */
  state(id: string, state: string, why?: { ready: 'True' | 'False'; reason: string; message: string }): void {
    const [deviceNamespace, deviceName] = id.split('/');
    this.call('ReportDeviceStates', { deviceName, deviceNamespace, state, ...(why ?? {}) }).catch((err: unknown) => this.opts.log.warn(`${id}: state not taken: ${errorText(err)}`));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.edge.close();
    await this.server?.close();
  }
}
