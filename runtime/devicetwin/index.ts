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
  let ctx: ModuleContext | undefined;
  let store: TwinStore | undefined;
  const events = new EventEmitter<DeviceTwinEvents>();
  const records = new Map<string, DeviceRecord>();
  /** written when the twin store closes cleanly, removed at start: its absence means the last run did not stop */
  const cleanMark = deps.dataSource === ':memory:' ? undefined : `${deps.dataSource}.twins.clean`;
  const specs = new Map<string, { spec: DeviceSpec; rv: number }>();
  const models = new Map<string, DeviceModelSpec>();
  let ready = false;
  /** twin properties changed, by who changed them: the edge (reported) or the cloud (desired) */
  const updated = { edge: 0, cloud: 0 };
  let refused = 0;
  let warnRefused = (m: string): void => ctx?.log.warn(m);

  const now = (): number => ctx?.clock.now() ?? Date.now();
  const stamp = (eventId: string = randomUUID()): { event_id: string; timestamp: number } => ({ event_id: eventId, timestamp: now() });

  const publish = (topic: string, body: unknown): void => {
    try {
      ctx?.bus.send(EVENTBUS, newMessage({ source: DEVICETWIN, group: Group.bus, operation: BusOperation.publish, resource: topic }, JSON.stringify(body)));
    } catch (err) {
      ctx?.log.debug(`not published to ${topic}: ${errorText(err)}`);
    }
  };
  const publishError = (topic: string | undefined, eventId: string, err: unknown): void => {
    const code = err instanceof TwinError ? err.code : 500;
    refused++;
    if (code === 500) ctx?.log.error(`twin request failed: ${errorText(err)}`);
    if (topic) publish(topic, { ...stamp(eventId), code, reason: errorText(err) });
  };

  /** properties whose spec says `reportToCloud: false`: their values stay at the edge */
  const localOnly = (id: string): ReadonlySet<string> => new Set((specs.get(id)?.spec.properties ?? []).filter((p) => p.reportToCloud === false).map((p) => p.name));

  const report = (dev: DeviceRecord): Promise<void> => {
    if (!deps.outbox) return Promise.resolve();
    return deps.outbox({ group: Group.twin, operation: Operation.update, resource: `${dev.namespace}/device/${dev.name}` }, reportOf(dev, localOnly(dev.id)));
  };

  /** Stores the device (or its removal), then, once on disk and in the outbox, runs `after`. */
  const save = (dev: DeviceRecord | undefined, removedId?: string, after?: () => void, toCloud = true): Promise<void> => {
    if (!store) return Promise.reject(new Error('the twin store is not open'));
    if (dev) store.put(dev);
    if (removedId !== undefined) store.remove(removedId);
    return Promise.all([store.commit(), dev && toCloud ? report(dev) : undefined]).then(() => after?.());
  };

  const publishDelta = (dev: DeviceRecord): void => {
    const delta = deltaOf(dev);
    if (Object.keys(delta).length === 0) return;
    const twins = publicTwins(dev);
    publish(deviceTopic(dev.id, 'twin/update/delta'), { ...stamp(), twin: Object.fromEntries(Object.keys(delta).map((k) => [k, twins[k]])), delta });
    events.emit('delta', dev.id, delta);
  };

  const memberOf = (dev: DeviceRecord): Record<string, unknown> => ({
    id: dev.id,
    name: dev.name,
    namespace: dev.namespace,
    state: dev.state,
    ...(dev.lastOnlineTime ? { lastOnlineTime: dev.lastOnlineTime } : {}),
    twin: publicTwins(dev),
  });

  // --- devices and models from the cloud or the manifest folder ---

  const refresh = (id: string): void => {
    const s = specs.get(id);
    if (!s) return;
    const existing = records.get(id);
    const [namespace, name] = id.split('/') as [string, string];
    const dev = existing ? structuredClone(existing) : newDevice(namespace, name, s.spec.deviceModelRef.name);
    const before = structuredClone(dev.twins);
    const model = models.get(`${namespace}/${s.spec.deviceModelRef.name}`);
    const changed = applySpec(dev, s.spec, model, s.rv, now());
    // a missing model is said in the device's status (a Device is accepted before its model)
    const wasMissing = dev.conditions?.some((c) => c.reason === 'ModelMissing') ?? false;
    const conditionChanged = model
      ? wasMissing && applyCondition(dev, undefined, now())
      : applyCondition(dev, { type: 'Ready', status: 'False', reason: 'ModelMissing', message: `device model ${namespace}/${s.spec.deviceModelRef.name} does not exist: apply it` }, now());
    if (conditionChanged && !model) ctx?.log.warn(`${id}: its device model ${namespace}/${s.spec.deviceModelRef.name} does not exist; it has no twins until it does`);
    if (existing && changed.length === 0 && existing.model === dev.model && !conditionChanged) {
      events.emit('device', id, s.spec);
      return;
    }
    records.set(id, dev);
    const document: Record<string, { last: Twin | null; current: Twin | null }> = {};
    for (const k of changed) document[k] = { last: before[k] ?? null, current: dev.twins[k] ?? null };
    save(dev, undefined, () => {
      if (!existing) publish(membershipTopic(deps.nodeName, 'updated'), { ...stamp(), added_devices: [memberOf(dev)], removed_devices: [] });
      if (changed.length) publish(deviceTopic(id, 'twin/update/document'), { ...stamp(), twin: document });
      publishDelta(dev);
    }).catch((err: unknown) => ctx?.log.error(`cannot store the twin of ${id}: ${errorText(err)}`));
    events.emit('device', id, s.spec);
  };

  const onChange = (c: ObjectChange): void => {
    if (!ready) return;
    const id = `${c.namespace}/${c.name}`;
    if (c.kind === 'devicemodel') {
      if (c.operation === 'delete' || !c.object?.spec) models.delete(id);
      else models.set(id, c.object.spec as unknown as DeviceModelSpec);
      for (const [devId, s] of specs) if (devId.startsWith(`${c.namespace}/`) && s.spec.deviceModelRef.name === c.name) refresh(devId);
      return;
    }
    if (c.kind !== 'device') return;
    const spec = c.object?.spec as unknown as DeviceSpec | undefined;
    const mine = spec && (spec.nodeName === undefined || spec.nodeName === '' || spec.nodeName === deps.nodeName);
    if (c.operation !== 'delete' && spec && mine) {
      specs.set(id, { spec, rv: c.rv });
      refresh(id);
      return;
    }
    specs.delete(id);
    const dev = records.get(id);
    if (!dev) return;
    records.delete(id);
    save(undefined, id, () => publish(membershipTopic(deps.nodeName, 'updated'), { ...stamp(), added_devices: [], removed_devices: [{ id, name: dev.name, namespace: dev.namespace }] })).catch(
      (err: unknown) => ctx?.log.error(`cannot remove the twin of ${id}: ${errorText(err)}`),
    );
    events.emit('device', id, undefined);
  };

  // --- requests from apps (and drivers) ---

  const update = (dev: DeviceRecord, body: Record<string, unknown>, deal: 'edge' | 'cloud', resultTopic: string | undefined): Promise<void> => {
    const { next, outcome } = applyUpdate(dev, body, deal, now());
    if (Object.keys(outcome.result).length === 0) {
      if (resultTopic) publish(resultTopic, { ...stamp(outcome.eventId), twin: {} });
      return Promise.resolve();
    }
    records.set(dev.id, next);
    updated[deal] += Object.keys(outcome.result).length;
    const local = localOnly(dev.id);
    const toCloud = Object.keys(outcome.result).some((k) => !local.has(k));
    return save(
      next,
      undefined,
      () => {
        if (resultTopic) publish(resultTopic, { ...stamp(outcome.eventId), twin: outcome.result });
        publish(deviceTopic(dev.id, 'twin/update/document'), { ...stamp(outcome.eventId), twin: outcome.document });
        publishDelta(next);
      },
      toCloud,
    );
  };

  const changeState = (dev: DeviceRecord, state: string, eventId: string, resultTopic: string | undefined): Promise<void> => {
    const next = structuredClone(dev);
    const changed = applyState(next, state, now());
    const answer = (): void => {
      if (resultTopic) publish(resultTopic, { ...stamp(eventId), device: { name: next.name, state: next.state, ...(next.lastOnlineTime ? { lastOnlineTime: next.lastOnlineTime } : {}) } });
    };
    if (!changed) return Promise.resolve(answer());
    records.set(dev.id, next);
    return save(next, undefined, answer);
  };

  const handleRequest = (req: Request, payload: Buffer): Promise<void> | void => {
    const resultTopic = resultTopicOf(req);
    let body: Record<string, unknown> | undefined;
    try {
      if (payload.length > MAX_PAYLOAD_BYTES) throw new TwinError(400, `payload of ${payload.length} bytes is over the ${MAX_PAYLOAD_BYTES}-byte limit`);
      // a get needs nothing but an optional event_id: an empty payload (mosquitto_pub -n) asks too
      const isGet = req.kind === 'membership' || req.action === 'twin/get';
      body = isGet && payload.length === 0 ? {} : parsePayload(payload.toString('utf8'));
      if (req.kind === 'membership') {
        if (req.node !== deps.nodeName) throw new TwinError(404, `node ${req.node} is not this node (${deps.nodeName})`);
        return publish(resultTopic as string, { ...stamp(eventIdOf(body)), devices: [...records.values()].map(memberOf) });
      }
      const id = `${req.namespace}/${req.name}`;
      const dev = records.get(id);
      if (!dev) throw new TwinError(404, `device ${id} is not a member of node ${deps.nodeName}`);
      switch (req.action) {
        case 'twin/get':
          return publish(resultTopic as string, { ...stamp(eventIdOf(body)), twin: publicTwins(dev) });
        case 'state/update':
          return changeState(dev, parseState(body), eventIdOf(body), resultTopic).catch((err: unknown) => publishError(resultTopic, eventIdOf(body), err));
        case 'twin/update':
        case 'twin/cloud_updated':
          return update(dev, body, req.action === 'twin/update' ? 'edge' : 'cloud', resultTopic).catch((err: unknown) => publishError(resultTopic, eventIdOf(body), err));
      }
    } catch (err) {
      if (!resultTopic) warnRefused(`refused ${req.kind === 'device' ? req.action : 'membership'} for ${req.kind === 'device' ? `${req.namespace}/${req.name}` : req.node}: ${errorText(err)}`);
      publishError(resultTopic, eventIdOf(body), err);
    }
  };

  // not awaited: a request changes memory at once and is answered when its write is on disk, so a
  // burst of requests shares one write (commits resolve in order, and so do the answers)
  const handle = (msg: Message): void => {
    if (msg.route.operation !== BusOperation.message) return;
    const req = parseTopic(msg.route.resource);
    if (!req) return void ctx?.log.debug(`no twin request on ${msg.route.resource}`);
    const payload = Buffer.isBuffer(msg.content) ? msg.content : Buffer.from(String(msg.content));
    void handleRequest(req, payload);
  };

  return {
    name: DEVICETWIN,
    group: Group.twin,
    events,
    device: (id) => records.get(id),
    deviceIds: () => [...specs.keys()],
    metrics: () => [
      gauge('edgecore_devices', 'Devices of this node.', records.size),
      counter('edgecore_twin_requests_refused_total', 'Twin requests refused (malformed, unknown device, stale version, or the store failing).', refused),
      counter('edgecore_twin_updates_total', 'Twin properties changed, by source: edge (a reported value) or cloud (a desired value).', [
        { labels: { source: 'edge' }, value: updated.edge },
        { labels: { source: 'cloud' }, value: updated.cloud },
      ]),
    ],
    spec(id) {
      const s = specs.get(id);
      if (!s) return undefined;
      const model = models.get(`${id.split('/')[0] ?? ''}/${s.spec.deviceModelRef.name}`);
      return { device: s.spec, ...(model ? { model } : {}) };
    },
    report(id, actual) {
      const dev = records.get(id);
      if (!dev) return Promise.reject(new TwinError(404, `device ${id} is not a member of node ${deps.nodeName}`));
      const twin = Object.fromEntries(Object.entries(actual).map(([k, value]) => [k, { actual: { value } }]));
      return update(dev, { twin }, 'edge', undefined);
    },
    setState(id, state) {
      const dev = records.get(id);
      if (!dev) return Promise.reject(new TwinError(404, `device ${id} is not a member of node ${deps.nodeName}`));
      return changeState(dev, state, '', undefined);
    },
    setCondition(id, condition) {
      const dev = records.get(id);
      if (!dev) return Promise.reject(new TwinError(404, `device ${id} is not a member of node ${deps.nodeName}`));
      const next = structuredClone(dev);
      if (!applyCondition(next, condition && { type: 'Ready', ...condition }, now())) return Promise.resolve();
      records.set(id, next);
      return save(next);
    },
    async start(c) {
      warnRefused = throttled((m) => c.log.warn(m));
      ctx = c;
      store = new TwinStore(await openJournal(deps.dataSource === ':memory:' ? ':memory:' : `${deps.dataSource}.twins`, c.log.child('twins'), { batchMs: 2 }));
      // a twin and its report to the cloud are two writes (the twin store, the outbox): a crash or a
      // power cut between them leaves a twin the cloud never hears of, so after one every twin is reported again
      const crashed = cleanMark !== undefined && !existsSync(cleanMark);
      if (cleanMark) rmSync(cleanMark, { force: true });
      for (const dev of store.all()) records.set(dev.id, dev);
      ready = true;
      const known = new Set<string>();
      for (const change of deps.source.replay()) {
        if (change.kind === 'device') known.add(`${change.namespace}/${change.name}`);
        onChange(change);
      }
      // a twin whose device is gone (removed while edgecore was down) goes too
      for (const id of [...records.keys()]) if (!known.has(id)) onChange({ operation: 'delete', kind: 'device', namespace: id.split('/')[0] as string, name: id.split('/')[1] as string, rv: 0 });
      deps.source.subscribe(onChange);
      if (crashed && deps.outbox && records.size > 0) {
        c.log.info(`edgecore did not stop cleanly: reporting ${records.size} twin(s) to the cloud again`);
        for (const dev of records.values()) report(dev).catch((err: unknown) => c.log.warn(`twin report of ${dev.id}: ${errorText(err)}`));
      }
      c.bus.register(DEVICETWIN, Group.twin, handle, { queueLimit: 10_000 });
      c.log.info(`${records.size} device(s) on node ${deps.nodeName}`);
    },
    async stop() {
      ready = false;
      ctx?.bus.unregister(DEVICETWIN);
      const closed = await store?.close().then(() => true, () => false);
      store = undefined;
      if (closed && cleanMark) writeFileSync(cleanMark, '');
    },
  } satisfies DeviceTwin;
}
