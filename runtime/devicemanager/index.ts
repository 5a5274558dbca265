/**
 * The device manager: the mapper's job, in-process. For every device of this node whose protocol
 * has a driver it opens the transport, reads each property every `collectCycle` ms, reports
 * changed values through DeviceTwin (at most once per `reportCycle` ms; `reportToCloud: false`
 * keeps them at the edge), and writes a desired value that differs from the reported one where
 * the model allows it, then reads it back. The device's state follows its transport: online,
 * unhealthy (open, but nothing can be read), offline (cannot be opened, or lost). Each device runs
 * on its own: a failing one backs off and retries without slowing the others.
 */
import type { Module, ModuleContext } from '../../core/module.js';
import type { Logger } from '../../core/log.js';
import { errorText } from '../../core/errors.js';
import { counter, Histogram, type Family } from '../../core/metrics.js';
import { createBackoff } from '../../core/backoff.js';
import { twinTypeOf, type DeviceModelSpec, type DeviceSpec } from '../../api/devices/types.js';
import type { DeviceTwin } from '../devicetwin/index.js';
import { deltaOf } from '../devicetwin/twin.js';
import type { DeviceConnection, DeviceInfo, Driver, PropertyVisitor } from '../../drivers/core/types.js';
import { Pusher, type PushMethodSpec, type PusherOptions } from './push.js';

export const DEVICEMANAGER = 'devicemanager';
export const DEFAULT_COLLECT_CYCLE_MS = 1000;
/** a cycle shorter than this is raised to it: a busy loop would starve every other device */
const MIN_CYCLE_MS = 10;

export interface DeviceManager extends Module {
  /** reads, errors and read latency per device (each device a label: as many as the node has) */
  metrics(): Family[];
}

/** what a device's reads came to since it was opened (its runner's life) */
interface ReadStats {
  reads: number;
  errors: number;
  latency: Histogram;
}

interface Plan {
  info: DeviceInfo;
  protocol: string;
  /** properties grouped by collect cycle */
  cycles: Map<number, PropertyVisitor[]>;
  reportCycle: Map<string, number>;
  /** properties with a pushMethod, and how often (ms) a reading of each is pushed */
  push: Map<string, { spec: PushMethodSpec; everyMs: number }>;
  fingerprint: string;
}

/** What to run for a device: undefined when it has no protocol this build drives (an app drives it). */
export function planDevice(id: string, spec: DeviceSpec, model: DeviceModelSpec | undefined, drivers: ReadonlyMap<string, Driver>): Plan | undefined {
  const protocol = spec.protocol?.protocolName;
  if (!protocol || !drivers.has(protocol) || !model) return undefined;
  const properties: PropertyVisitor[] = [];
  const cycles = new Map<number, PropertyVisitor[]>();
  const reportCycle = new Map<string, number>();
  const push = new Map<string, { spec: PushMethodSpec; everyMs: number }>();
  for (const p of spec.properties ?? []) {
    const m = model.properties.find((x) => x.name === p.name);
    if (!m || !p.visitors?.configData) continue;
    const v: PropertyVisitor = { name: p.name, type: twinTypeOf(m.type), writable: m.accessMode === 'ReadWrite', config: p.visitors.configData };
    properties.push(v);
    const cycle = Math.max(MIN_CYCLE_MS, p.collectCycle && p.collectCycle > 0 ? p.collectCycle : DEFAULT_COLLECT_CYCLE_MS);
    cycles.set(cycle, [...(cycles.get(cycle) ?? []), v]);
    reportCycle.set(p.name, p.reportCycle && p.reportCycle > 0 ? p.reportCycle : 0);
    if (p.pushMethod?.mqtt || p.pushMethod?.http) push.set(p.name, { spec: p.pushMethod, everyMs: p.reportCycle && p.reportCycle > 0 ? p.reportCycle : cycle });
  }
  if (properties.length === 0) return undefined;
  const info: DeviceInfo = { id, config: spec.protocol?.configData ?? {}, properties };
  return { info, protocol, cycles, reportCycle, push, fingerprint: JSON.stringify([protocol, info, [...cycles.keys()], [...reportCycle], [...push]]) };
}

interface Runner {
  fingerprint: string;
  stats: ReadStats;
  reconcile(): void;
  stop(): Promise<void>;
}

/**
 * Values read, on their way to the twin: a value is queued unless it is the one last reported, and
 * sent once its property's reportCycle since its last report has passed (at once when it has none).
 */
class ReportQueue {
  private readonly last = new Map<string, { value: string; at: number }>();
  private readonly pending = new Map<string, string>();
  private waiting = false;

  constructor(
    private readonly reportCycle: ReadonlyMap<string, number>,
    private readonly later: (fn: () => void, ms: number) => void,
    private readonly send: (values: Record<string, string>) => void,
  ) {}

  /** queues a value read, unless it is the one last reported */
  take(name: string, value: string): void {
    if (this.last.get(name)?.value === value) this.pending.delete(name);
    else this.pending.set(name, value);
  }

  /** reports the queued values whose reportCycle allows it now, and comes back for the others */
  flush(): void {
    const now = Date.now();
    const values: Record<string, string> = {};
    let nextDue = Infinity;
    for (const [name, value] of this.pending) {
      const last = this.last.get(name);
      const due = last ? last.at + (this.reportCycle.get(name) ?? 0) : 0;
      if (due > now) {
        nextDue = Math.min(nextDue, due);
        continue;
      }
      values[name] = value;
      this.pending.delete(name);
      this.last.set(name, { value, at: now });
    }
    if (nextDue < Infinity && !this.waiting) {
      this.waiting = true;
      this.later(() => {
        this.waiting = false;
        this.flush();
      }, nextDue - now);
    }
    if (Object.keys(values).length > 0) this.send(values);
  }
}

/** the Ready condition a device's last reads give: what fails, in its status, where users look */
function conditionOfReads(properties: readonly PropertyVisitor[], lastError: ReadonlyMap<string, string>): NonNullable<Parameters<DeviceTwin['setCondition']>[1]> {
  const failing = properties.filter((p) => lastError.has(p.name));
  if (failing.length === 0) return { status: 'True', reason: 'Reading', message: `${properties.length} ${properties.length === 1 ? 'property' : 'properties'} read` };
  const said = failing.map((p) => `${p.name}: ${lastError.get(p.name) ?? ''}`).join('; ');
  if (failing.length === properties.length) return { status: 'False', reason: 'DeviceUnreachable', message: `no property can be read (${said})` };
  return { status: 'False', reason: 'PropertyFailing', message: said };
}

function runDevice(plan: Plan, driver: Driver, twin: DeviceTwin, log: Logger, pusher: Pusher): Runner {
  const runner = new DeviceRunner(plan, driver, twin, log, pusher);
  runner.open();
  return runner;
}

class DeviceRunner implements Runner {
  readonly fingerprint: string;
  readonly stats: ReadStats = { reads: 0, errors: 0, latency: new Histogram() };
  private readonly id: string;
  private readonly backoff = createBackoff(1000, 30_000);
  private readonly timers = new Set<NodeJS.Timeout>();
  private conn: DeviceConnection | undefined;
  private opening = false;
  private stopped = false;
  private state: string | undefined;
  /** generation of the connection: a cycle of an older one stops */
  private gen = 0;
  private readonly lastError = new Map<string, string>();
  private readonly reports: ReportQueue;
  /** the desired value last written to each property (successfully), so it is written once */
  private readonly written = new Map<string, string>();
  private writing = false;

  constructor(
    private readonly plan: Plan,
    private readonly driver: Driver,
    private readonly twin: DeviceTwin,
    private readonly log: Logger,
    private readonly pusher: Pusher,
  ) {
    this.id = plan.info.id;
    this.fingerprint = plan.fingerprint;
    this.reports = new ReportQueue(plan.reportCycle, (fn, ms) => this.later(fn, ms), (values) => {
      twin.report(this.id, values).catch((err: unknown) => log.warn(`${this.id}: values not taken by the twin: ${errorText(err)}`));
    });
  }

  private later(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(t);
  }

  private setState(s: string): void {
    if (s === this.state || this.stopped) return;
    this.state = s;
    this.twin.setState(this.id, s).catch((err: unknown) => this.log.debug(`${this.id}: state ${s} not stored: ${errorText(err)}`));
  }

  /** the device's Ready condition: what fails, in its status, where users look */
  private setCondition(c: Parameters<DeviceTwin['setCondition']>[1]): void {
    if (this.stopped) return;
    this.twin.setCondition(this.id, c).catch((err: unknown) => this.log.debug(`${this.id}: condition not stored: ${errorText(err)}`));
  }

  private noteError(name: string, err: Error): void {
    if (this.lastError.get(name) === err.message) return;
    this.lastError.set(name, err.message);
    this.log.warn(`${this.id}: ${name}: ${err.message}`);
  }

  private async readAndReport(props: readonly PropertyVisitor[], c: DeviceConnection): Promise<void> {
    const t0 = performance.now();
    const result = await c.read(props);
    this.stats.latency.observe((performance.now() - t0) / 1000);
    this.stats.reads += props.length;
    let ok = 0;
    for (const p of props) {
      const v = result.get(p.name);
      if (v instanceof Error || v === undefined) {
        this.stats.errors++;
        this.noteError(p.name, v ?? new Error('no value'));
        continue;
      }
      ok++;
      if (this.lastError.delete(p.name)) this.log.info(`${this.id}: ${p.name} reads again`);
      this.reports.take(p.name, v);
      const push = this.plan.push.get(p.name);
      if (push) this.pusher.offer(this.id, p.name, v, p.type, push.spec, push.everyMs);
    }
    if (!this.stopped) this.reports.flush();
    if (c !== this.conn) return;
    this.setState(ok > 0 || props.length === 0 ? 'online' : 'unhealthy');
    this.setCondition(conditionOfReads(this.plan.info.properties, this.lastError));
  }

  private cycle(ms: number, props: PropertyVisitor[], g: number): void {
    const c = this.conn;
    if (!c || g !== this.gen) return;
    const t0 = Date.now();
    this.readAndReport(props, c)
      .catch((err: unknown) => this.log.warn(`${this.id}: read failed: ${errorText(err)}`))
      .finally(() => {
        this.reconcile();
        this.later(() => this.cycle(ms, props, g), Math.max(0, ms - (Date.now() - t0)));
      });
  }

  /** writes desired values that differ from the reported ones, where the model allows it */
  reconcile(): void {
    const c = this.conn;
    const dev = this.twin.device(this.id);
    if (!c || !dev || this.writing || this.stopped) return;
    const todo = Object.entries(deltaOf(dev)).filter(([k, v]) => this.written.get(k) !== v && this.plan.info.properties.some((p) => p.name === k));
    if (todo.length === 0) return;
    this.writing = true;
    void this.write(c, todo).finally(() => {
      this.writing = false;
    });
  }

  private async write(c: DeviceConnection, todo: readonly [string, string][]): Promise<void> {
    for (const [name, value] of todo) {
      const p = this.plan.info.properties.find((x) => x.name === name) as PropertyVisitor;
      if (!p.writable) {
        this.written.set(name, value);
        this.log.warn(`${this.id}: ${name} is ReadOnly in its model; desired value ${value} not written`);
        continue;
      }
      try {
        await c.write(p, value);
        this.written.set(name, value);
        this.log.info(`${this.id}: wrote ${name} = ${value}`);
        await this.readAndReport([p], c); // read back: the device's own value is what gets reported
      } catch (err) {
        this.log.warn(`${this.id}: cannot write ${name} = ${value}: ${errorText(err)}; retrying on the next cycle`);
      }
    }
  }

  /** the transport went (a closed socket, an unplugged adapter): the device is offline until it opens again */
  private lost(reason: string): void {
    const c = this.conn;
    if (!c || this.stopped) return;
    this.conn = undefined;
    this.gen++;
    this.setState('offline');
    this.setCondition({ status: 'False', reason: 'DeviceUnreachable', message: `lost its transport: ${reason}` });
    const delay = this.backoff.next();
    this.log.warn(`${this.id}: lost its transport (${reason}); reopening in ${delay} ms`);
    c.close().catch(() => undefined);
    this.later(() => this.open(), delay);
  }

  open(): void {
    if (this.stopped || this.conn || this.opening) return;
    this.opening = true;
    const hooks = {
      log: this.log,
      pushed: (name: string, value: string) => {
        this.reports.take(name, value);
        if (!this.stopped) this.reports.flush(); // an edge or a pushed line is reported at once
      },
      lost: (reason: string) => this.lost(reason),
    };
    this.driver.open(this.plan.info, hooks).then(
      (c) => this.opened(c),
      (err: unknown) => {
        this.opening = false;
        this.setState('offline');
        this.setCondition({ status: 'False', reason: 'DeviceUnreachable', message: `cannot open: ${errorText(err)}` });
        const delay = this.backoff.next();
        this.log.warn(`${this.id}: cannot open: ${errorText(err)}; retrying in ${delay} ms`);
        this.later(() => this.open(), delay);
      },
    );
  }

  private opened(c: DeviceConnection): void {
    this.opening = false;
    if (this.stopped) return void c.close().catch(() => undefined);
    this.conn = c;
    this.gen++;
    this.backoff.reset();
    this.written.clear();
    this.log.info(`${this.id}: opened (${this.plan.protocol}, ${this.plan.info.properties.length} properties)`);
    for (const [ms, props] of this.plan.cycles) this.cycle(ms, props, this.gen);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const c = this.conn;
    this.conn = undefined;
    await c?.close().catch(() => undefined);
  }
}

export function createDeviceManager(deps: { twin: DeviceTwin; drivers: readonly Driver[]; push: Omit<PusherOptions, 'log'> }): DeviceManager {
  const drivers = new Map(deps.drivers.map((d) => [d.protocol, d]));
  const runners = new Map<string, Runner>();
  let ctx: ModuleContext | undefined;
  let pusher: Pusher | undefined;

  const onDevice = (id: string, spec: DeviceSpec | undefined): void => {
    const have = runners.get(id);
    const s = spec ? deps.twin.spec(id) : undefined;
    const plan = s ? planDevice(id, s.device, s.model, drivers) : undefined;
    if (have && plan && have.fingerprint === plan.fingerprint) return;
    if (have) {
      runners.delete(id);
      void have.stop();
      if (!plan) pusher?.forget(id);
      ctx?.log.info(`${id}: stopped${plan ? ' (changed)' : ''}`);
    }
    if (!plan || !ctx || !pusher) return;
    runners.set(id, runDevice(plan, drivers.get(plan.protocol) as Driver, deps.twin, ctx.log, pusher));
  };
  const onDelta = (id: string): void => runners.get(id)?.reconcile();

  return {
    name: DEVICEMANAGER,
    group: 'devicemanager',
    metrics() {
      const each = [...runners].map(([id, r]) => ({ labels: { device: id }, stats: r.stats }));
      return [
        counter('edgecore_device_property_reads_total', 'Property reads through a driver, by device.', each.map((e) => ({ labels: e.labels, value: e.stats.reads }))),
        counter('edgecore_device_property_read_errors_total', 'Property reads that failed (a timeout, an exception, a bad answer), by device.', each.map((e) => ({ labels: e.labels, value: e.stats.errors }))),
        { name: 'edgecore_device_read_duration_seconds', help: 'Time one read of a device takes (one request for the properties read together), by device.', type: 'histogram', samples: each.flatMap((e) => e.stats.latency.samples(e.labels)) },
        ...(pusher?.metrics() ?? []),
      ];
    },
    async start(c) {
      ctx = c;
      pusher = new Pusher({ ...deps.push, log: c.log });
      deps.twin.events.on('device', onDevice);
      deps.twin.events.on('delta', onDelta);
      for (const id of deps.twin.deviceIds()) onDevice(id, deps.twin.spec(id)?.device);
    },
    async stop() {
      deps.twin.events.off('device', onDevice);
      deps.twin.events.off('delta', onDelta);
      await Promise.all([...runners.values()].map((r) => r.stop()));
      runners.clear();
      await pusher?.close();
    },
  } satisfies DeviceManager;
}
