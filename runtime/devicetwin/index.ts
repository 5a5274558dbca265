/**
 * DeviceTwin: the devices of this node and their twins, as KubeEdge's edge/pkg/devicetwin. Devices
 * and models come from MetaManager (sent by the cloud) or, standalone, from a manifest folder. Apps
 * speak the MQTT topics of CONTRACT.md section 7 through EventBus. Every change is on disk before
 * it is answered, and goes up to the cloud through the outbox as a snapshot of the device.
 */
import { throttled } from '../../core/log.js';
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { Module, ModuleContext } from '../../core/module.js';
import { errorText } from '../../core/errors.js';
import { counter, gauge, type Family } from '../../core/metrics.js';
import { Group, Operation, newMessage, type Message } from '../../core/message.js';
import type { DeviceModelSpec, DeviceSpec } from '../../api/devices/types.js';
import type { ObjectChange, ObjectSource } from '../metamanager/source.js';
import { BusOperation, DEVICETWIN, EVENTBUS, MAX_PAYLOAD_BYTES } from '../eventbus/index.js';
import type { OutboxRoute } from '../metamanager/index.js';
import {
  TwinError,
  applyCondition,
  applySpec,
  applyState,
  applyUpdate,
  deltaOf,
  eventIdOf,
  newDevice,
  parsePayload,
  parseState,
  publicTwins,
  reportOf,
  type DeviceCondition,
  type DeviceRecord,
  type Twin,
} from './twin.js';
import { TwinStore } from './store.js';
import { deviceTopic, membershipTopic, parseTopic, resultTopicOf, type Request } from './topics.js';
import { openJournal } from '../../core/journal.js';
import { existsSync, rmSync, writeFileSync } from 'node:fs';

/** Where devices and models come from: MetaManager, or a standalone edge's manifest folder. */
export type DeviceSource = ObjectSource;

export interface DeviceTwinEvents {
  /** a device was added, changed (spec or model) or removed */
  device: [id: string, spec: DeviceSpec | undefined];
  /** expected values that differ from the actual ones */
  delta: [id: string, delta: Record<string, string>];
}

export interface DeviceTwin extends Module {
  readonly events: EventEmitter<DeviceTwinEvents>;
  device(id: string): DeviceRecord | undefined;
  deviceIds(): string[];
  spec(id: string): { device: DeviceSpec; model?: DeviceModelSpec } | undefined;
  /** reported values from a driver, as an app's `twin/update` with `actual` would set them */
  report(id: string, actual: Record<string, string>): Promise<void>;
  /** device state from a driver, as `state/update` */
  setState(id: string, state: string): Promise<void>;
  /** why the device works or not, from its driver (undefined: nothing to say), into its status */
  setCondition(id: string, condition: Omit<DeviceCondition, 'lastTransitionTime' | 'type'> | undefined): Promise<void>;
  metrics(): Family[];
}

export interface DeviceTwinDeps {
  nodeName: string;
  /** the edge database's path (`:memory:` for none); twins go to `<dataSource>.twins` */
  dataSource: string;
  source: DeviceSource;
  /** MetaManager's outbox (a report resolves once it is on disk); none when standalone: nothing goes to a cloud */
  outbox: ((route: OutboxRoute, content: unknown) => Promise<void>) | undefined;
}

export function createDeviceTwin(deps: DeviceTwinDeps): DeviceTwin {
  return new DeviceTwinModule(deps);
}

/** what membership answers say of a device */
function memberOf(dev: DeviceRecord): Record<string, unknown> {
  return { id: dev.id, name: dev.name, namespace: dev.namespace, state: dev.state, ...(dev.lastOnlineTime ? { lastOnlineTime: dev.lastOnlineTime } : {}), twin: publicTwins(dev) };
}

const notMember = (id: string, node: string): TwinError => new TwinError(404, `device ${id} is not a member of node ${node}`);

class DeviceTwinModule implements DeviceTwin {
  readonly name = DEVICETWIN;
  readonly group = Group.twin;
  readonly events = new EventEmitter<DeviceTwinEvents>();
  private ctx: ModuleContext | undefined;
  private store: TwinStore | undefined;
  private readonly records = new Map<string, DeviceRecord>();
  /** written when the twin store closes cleanly, removed at start: its absence means the last run did not stop */
  private readonly cleanMark: string | undefined;
  private readonly specs = new Map<string, { spec: DeviceSpec; rv: number }>();
  private readonly models = new Map<string, DeviceModelSpec>();
  private ready = false;
  /** twin properties changed, by who changed them: the edge (reported) or the cloud (desired) */
  private readonly updated = { edge: 0, cloud: 0 };
  private refused = 0;
  private warnRefused = (m: string): void => this.ctx?.log.warn(m);

  constructor(private readonly deps: DeviceTwinDeps) {
    this.cleanMark = deps.dataSource === ':memory:' ? undefined : `${deps.dataSource}.twins.clean`;
  }

  private now(): number {
    return this.ctx?.clock.now() ?? Date.now();
  }

  private stamp(eventId: string = randomUUID()): { event_id: string; timestamp: number } {
    return { event_id: eventId, timestamp: this.now() };
  }

  private publish(topic: string, body: unknown): void {
    try {
      this.ctx?.bus.send(EVENTBUS, newMessage({ source: DEVICETWIN, group: Group.bus, operation: BusOperation.publish, resource: topic }, JSON.stringify(body)));
    } catch (err) {
      this.ctx?.log.debug(`not published to ${topic}: ${errorText(err)}`);
    }
  }

  private publishError(topic: string | undefined, eventId: string, err: unknown): void {
    const code = err instanceof TwinError ? err.code : 500;
    this.refused++;
    if (code === 500) this.ctx?.log.error(`twin request failed: ${errorText(err)}`);
    if (topic) this.publish(topic, { ...this.stamp(eventId), code, reason: errorText(err) });
  }

  /** properties whose spec says `reportToCloud: false`: their values stay at the edge */
  private localOnly(id: string): ReadonlySet<string> {
    return new Set((this.specs.get(id)?.spec.properties ?? []).filter((p) => p.reportToCloud === false).map((p) => p.name));
  }

  private reportToCloud(dev: DeviceRecord): Promise<void> {
    if (!this.deps.outbox) return Promise.resolve();
    return this.deps.outbox({ group: Group.twin, operation: Operation.update, resource: `${dev.namespace}/device/${dev.name}` }, reportOf(dev, this.localOnly(dev.id)));
  }

  /**
   * Stores the device (or its removal), then, once on disk and in the outbox, runs `after`. With
   * `waitForReport` false, `after` runs once the twin is on disk, without waiting for its report's
   * place in the outbox: what the cloud asked (a delta) is not kept behind a group commit of bulk
   * uploads, and a report lost to a crash between the two is sent again at the next start.
   */
  private save(dev: DeviceRecord | undefined, removedId?: string, after?: () => void, { toCloud = true, waitForReport = true } = {}): Promise<void> {
    const store = this.store;
    if (!store) return Promise.reject(new Error('the twin store is not open'));
    if (dev) store.put(dev);
    if (removedId !== undefined) store.remove(removedId);
    const reported = dev && toCloud ? this.reportToCloud(dev) : undefined;
    if (waitForReport) return Promise.all([store.commit(), reported]).then(() => after?.());
    reported?.catch((err: unknown) => this.ctx?.log.error(`cannot queue the report of ${dev?.id ?? ''} for the cloud: ${errorText(err)}`));
    return store.commit().then(() => after?.());
  }

  private publishDelta(dev: DeviceRecord): void {
    const delta = deltaOf(dev);
    if (Object.keys(delta).length === 0) return;
    const twins = publicTwins(dev);
    this.publish(deviceTopic(dev.id, 'twin/update/delta'), { ...this.stamp(), twin: Object.fromEntries(Object.keys(delta).map((k) => [k, twins[k]])), delta });
    this.events.emit('delta', dev.id, delta);
  }

  // --- devices and models from the cloud or the manifest folder ---

  /** a missing model is said in the device's status (a Device is accepted before its model); true when that changed */
  private noteModel(dev: DeviceRecord, modelName: string, model: DeviceModelSpec | undefined): boolean {
    const wasMissing = dev.conditions?.some((c) => c.reason === 'ModelMissing') ?? false;
    if (model) return wasMissing && applyCondition(dev, undefined, this.now());
    const changed = applyCondition(dev, { type: 'Ready', status: 'False', reason: 'ModelMissing', message: `device model ${dev.namespace}/${modelName} does not exist: apply it` }, this.now());
    if (changed) this.ctx?.log.warn(`${dev.id}: its device model ${dev.namespace}/${modelName} does not exist; it has no twins until it does`);
    return changed;
  }

  private refresh(id: string): void {
    const s = this.specs.get(id);
    if (!s) return;
    const existing = this.records.get(id);
    const [namespace, name] = id.split('/') as [string, string];
    const modelName = s.spec.deviceModelRef.name;
    const dev = existing ? structuredClone(existing) : newDevice(namespace, name, modelName);
    const before = structuredClone(dev.twins);
    const model = this.models.get(`${namespace}/${modelName}`);
    const changed = applySpec(dev, s.spec, model, s.rv, this.now());
    const conditionChanged = this.noteModel(dev, modelName, model);
    if (!existing || changed.length > 0 || existing.model !== dev.model || conditionChanged) {
      this.records.set(id, dev);
      const document: Record<string, { last: Twin | null; current: Twin | null }> = {};
      for (const k of changed) document[k] = { last: before[k] ?? null, current: dev.twins[k] ?? null };
      // stored first (the write is queued now: what the delta's listeners store comes after it),
      // then told without waiting for the write to reach the disk: all of it is derived from the
      // device's spec, which the cloud keeps and sends again until MetaManager has it on disk, so a
      // crash before this write only means the same delta again after the restart (and the delta
      // does not wait for an fsync behind the outbox's)
      this.save(dev, undefined, undefined, { waitForReport: false }).catch((err: unknown) => this.ctx?.log.error(`cannot store the twin of ${id}: ${errorText(err)}`));
      if (!existing) this.publish(membershipTopic(this.deps.nodeName, 'updated'), { ...this.stamp(), added_devices: [memberOf(dev)], removed_devices: [] });
      if (changed.length) this.publish(deviceTopic(id, 'twin/update/document'), { ...this.stamp(), twin: document });
      this.publishDelta(dev);
    }
    this.events.emit('device', id, s.spec);
  }

  private onChange(c: ObjectChange): void {
    if (!this.ready) return;
    const id = `${c.namespace}/${c.name}`;
    if (c.kind === 'devicemodel') {
      if (c.operation === 'delete' || !c.object?.spec) this.models.delete(id);
      else this.models.set(id, c.object.spec as unknown as DeviceModelSpec);
      for (const [devId, s] of this.specs) if (devId.startsWith(`${c.namespace}/`) && s.spec.deviceModelRef.name === c.name) this.refresh(devId);
      return;
    }
    if (c.kind !== 'device') return;
    const spec = c.object?.spec as unknown as DeviceSpec | undefined;
    const mine = spec && (spec.nodeName === undefined || spec.nodeName === '' || spec.nodeName === this.deps.nodeName);
    if (c.operation !== 'delete' && spec && mine) {
      this.specs.set(id, { spec, rv: c.rv });
      return this.refresh(id);
    }
    this.specs.delete(id);
    this.removeDevice(id);
  }

  private removeDevice(id: string): void {
    const dev = this.records.get(id);
    if (!dev) return;
    this.records.delete(id);
    const removed = { ...this.stamp(), added_devices: [], removed_devices: [{ id, name: dev.name, namespace: dev.namespace }] };
    this.save(undefined, id, () => this.publish(membershipTopic(this.deps.nodeName, 'updated'), removed)).catch((err: unknown) => this.ctx?.log.error(`cannot remove the twin of ${id}: ${errorText(err)}`));
    this.events.emit('device', id, undefined);
  }

  // --- requests from apps (and drivers) ---

  private update(dev: DeviceRecord, body: Record<string, unknown>, deal: 'edge' | 'cloud', resultTopic: string | undefined): Promise<void> {
    const { next, outcome } = applyUpdate(dev, body, deal, this.now());
    if (Object.keys(outcome.result).length === 0) {
      if (resultTopic) this.publish(resultTopic, { ...this.stamp(outcome.eventId), twin: {} });
      return Promise.resolve();
    }
    this.records.set(dev.id, next);
    this.updated[deal] += Object.keys(outcome.result).length;
    const local = this.localOnly(dev.id);
    const toCloud = Object.keys(outcome.result).some((k) => !local.has(k));
    const answer = (): void => {
      if (resultTopic) this.publish(resultTopic, { ...this.stamp(outcome.eventId), twin: outcome.result });
      this.publish(deviceTopic(dev.id, 'twin/update/document'), { ...this.stamp(outcome.eventId), twin: outcome.document });
      this.publishDelta(next);
    };
    return this.save(next, undefined, answer, { toCloud });
  }

  private changeState(dev: DeviceRecord, state: string, eventId: string, resultTopic: string | undefined): Promise<void> {
    const next = structuredClone(dev);
    const changed = applyState(next, state, this.now());
    const answer = (): void => {
      if (resultTopic) this.publish(resultTopic, { ...this.stamp(eventId), device: { name: next.name, state: next.state, ...(next.lastOnlineTime ? { lastOnlineTime: next.lastOnlineTime } : {}) } });
    };
    if (!changed) return Promise.resolve(answer());
    this.records.set(dev.id, next);
    return this.save(next, undefined, answer);
  }

  private handleRequest(req: Request, payload: Buffer): Promise<void> | void {
    const resultTopic = resultTopicOf(req);
    let body: Record<string, unknown> | undefined;
    try {
      if (payload.length > MAX_PAYLOAD_BYTES) throw new TwinError(400, `payload of ${payload.length} bytes is over the ${MAX_PAYLOAD_BYTES}-byte limit`);
      // a get needs nothing but an optional event_id: an empty payload (mosquitto_pub -n) asks too
      const isGet = req.kind === 'membership' || req.action === 'twin/get';
      const parsed = isGet && payload.length === 0 ? {} : parsePayload(payload.toString('utf8'));
      body = parsed;
      if (req.kind === 'membership') {
        if (req.node !== this.deps.nodeName) throw new TwinError(404, `node ${req.node} is not this node (${this.deps.nodeName})`);
        return this.publish(resultTopic as string, { ...this.stamp(eventIdOf(parsed)), devices: [...this.records.values()].map(memberOf) });
      }
      const id = `${req.namespace}/${req.name}`;
      const dev = this.records.get(id);
      if (!dev) throw notMember(id, this.deps.nodeName);
      const failed = (err: unknown): void => this.publishError(resultTopic, eventIdOf(parsed), err);
      switch (req.action) {
        case 'twin/get':
          return this.publish(resultTopic as string, { ...this.stamp(eventIdOf(parsed)), twin: publicTwins(dev) });
        case 'state/update':
          return this.changeState(dev, parseState(parsed), eventIdOf(parsed), resultTopic).catch(failed);
        case 'twin/update':
        case 'twin/cloud_updated':
          return this.update(dev, parsed, req.action === 'twin/update' ? 'edge' : 'cloud', resultTopic).catch(failed);
      }
    } catch (err) {
      if (!resultTopic) this.warnRefused(`refused ${req.kind === 'device' ? req.action : 'membership'} for ${req.kind === 'device' ? `${req.namespace}/${req.name}` : req.node}: ${errorText(err)}`);
      this.publishError(resultTopic, eventIdOf(body), err);
    }
  }

  // not awaited: a request changes memory at once and is answered when its write is on disk, so a
  // burst of requests shares one write (commits resolve in order, and so do the answers)
  private handle(msg: Message): void {
    if (msg.route.operation !== BusOperation.message) return;
    const req = parseTopic(msg.route.resource);
    if (!req) return void this.ctx?.log.debug(`no twin request on ${msg.route.resource}`);
    const payload = Buffer.isBuffer(msg.content) ? msg.content : Buffer.from(String(msg.content));
    void this.handleRequest(req, payload);
  }

  device(id: string): DeviceRecord | undefined {
    return this.records.get(id);
  }

  deviceIds(): string[] {
    return [...this.specs.keys()];
  }

  metrics(): Family[] {
    return [
      gauge('edgecore_devices', 'Devices of this node.', this.records.size),
      counter('edgecore_twin_requests_refused_total', 'Twin requests refused (malformed, unknown device, stale version, or the store failing).', this.refused),
      counter('edgecore_twin_updates_total', 'Twin properties changed, by source: edge (a reported value) or cloud (a desired value).', [
        { labels: { source: 'edge' }, value: this.updated.edge },
        { labels: { source: 'cloud' }, value: this.updated.cloud },
      ]),
    ];
  }

  spec(id: string): { device: DeviceSpec; model?: DeviceModelSpec } | undefined {
    const s = this.specs.get(id);
    if (!s) return undefined;
    const model = this.models.get(`${id.split('/')[0] ?? ''}/${s.spec.deviceModelRef.name}`);
    return { device: s.spec, ...(model ? { model } : {}) };
  }

  report(id: string, actual: Record<string, string>): Promise<void> {
    const dev = this.records.get(id);
    if (!dev) return Promise.reject(notMember(id, this.deps.nodeName));
    const twin = Object.fromEntries(Object.entries(actual).map(([k, value]) => [k, { actual: { value } }]));
    return this.update(dev, { twin }, 'edge', undefined);
  }

  setState(id: string, state: string): Promise<void> {
    const dev = this.records.get(id);
    if (!dev) return Promise.reject(notMember(id, this.deps.nodeName));
    return this.changeState(dev, state, '', undefined);
  }

  setCondition(id: string, condition: Omit<DeviceCondition, 'lastTransitionTime' | 'type'> | undefined): Promise<void> {
    const dev = this.records.get(id);
    if (!dev) return Promise.reject(notMember(id, this.deps.nodeName));
    const next = structuredClone(dev);
    if (!applyCondition(next, condition && { type: 'Ready', ...condition }, this.now())) return Promise.resolve();
    this.records.set(id, next);
    return this.save(next);
  }

  async start(c: ModuleContext): Promise<void> {
    this.warnRefused = throttled((m) => c.log.warn(m));
    this.ctx = c;
    this.store = new TwinStore(await openJournal(this.deps.dataSource === ':memory:' ? ':memory:' : `${this.deps.dataSource}.twins`, c.log.child('twins'), { batchMs: 2 }));
    // a twin and its report to the cloud are two writes (the twin store, the outbox): a crash or a
    // power cut between them leaves a twin the cloud never hears of, so after one every twin is reported again
    const crashed = this.cleanMark !== undefined && !existsSync(this.cleanMark);
    if (this.cleanMark) rmSync(this.cleanMark, { force: true });
    for (const dev of this.store.all()) this.records.set(dev.id, dev);
    this.ready = true;
    this.replay();
    this.deps.source.subscribe((change) => this.onChange(change));
    if (crashed && this.deps.outbox && this.records.size > 0) {
      c.log.info(`edgecore did not stop cleanly: reporting ${this.records.size} twin(s) to the cloud again`);
      for (const dev of this.records.values()) this.reportToCloud(dev).catch((err: unknown) => c.log.warn(`twin report of ${dev.id}: ${errorText(err)}`));
    }
    c.bus.register(DEVICETWIN, Group.twin, (msg) => this.handle(msg), { queueLimit: 10_000 });
    c.log.info(`${this.records.size} device(s) on node ${this.deps.nodeName}`);
  }

  /** what the source holds now; a twin whose device is gone (removed while edgecore was down) goes too */
  private replay(): void {
    const known = new Set<string>();
    for (const change of this.deps.source.replay()) {
      if (change.kind === 'device') known.add(`${change.namespace}/${change.name}`);
      this.onChange(change);
    }
    for (const id of [...this.records.keys()]) if (!known.has(id)) this.onChange({ operation: 'delete', kind: 'device', namespace: id.split('/')[0] as string, name: id.split('/')[1] as string, rv: 0 });
  }

  async stop(): Promise<void> {
    this.ready = false;
    this.ctx?.bus.unregister(DEVICETWIN);
    const closed = await this.store?.close().then(() => true, () => false);
    this.store = undefined;
    if (closed && this.cleanMark) writeFileSync(this.cleanMark, '');
  }
}
