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
  fingerprint: string;
}

/** What to run for a device: undefined when it has no protocol this build drives (an app drives it). */
export function planDevice(id: string, spec: DeviceSpec, model: DeviceModelSpec | undefined, drivers: ReadonlyMap<string, Driver>): Plan | undefined {
  const protocol = spec.protocol?.protocolName;
  if (!protocol || !drivers.has(protocol) || !model) return undefined;
  const properties: PropertyVisitor[] = [];
  const cycles = new Map<number, PropertyVisitor[]>();
  const reportCycle = new Map<string, number>();
  for (const p of spec.properties ?? []) {
    const m = model.properties.find((x) => x.name === p.name);
    if (!m || !p.visitors?.configData) continue;
    const v: PropertyVisitor = { name: p.name, type: twinTypeOf(m.type), writable: m.accessMode === 'ReadWrite', config: p.visitors.configData };
    properties.push(v);
    const cycle = Math.max(MIN_CYCLE_MS, p.collectCycle && p.collectCycle > 0 ? p.collectCycle : DEFAULT_COLLECT_CYCLE_MS);
    cycles.set(cycle, [...(cycles.get(cycle) ?? []), v]);
    reportCycle.set(p.name, p.reportCycle && p.reportCycle > 0 ? p.reportCycle : 0);
  }
  if (properties.length === 0) return undefined;
  const info: DeviceInfo = { id, config: spec.protocol?.configData ?? {}, properties };
  return { info, protocol, cycles, reportCycle, fingerprint: JSON.stringify([protocol, info, [...cycles.keys()], [...reportCycle]]) };
}

interface Runner {
  fingerprint: string;
  stats: ReadStats;
  reconcile(): void;
  stop(): Promise<void>;
}

function runDevice(plan: Plan, driver: Driver, twin: DeviceTwin, log: Logger): Runner {
  const { id } = plan.info;
  const backoff = createBackoff(1000, 30_000);
  const timers = new Set<NodeJS.Timeout>();
  let conn: DeviceConnection | undefined;
  let opening = false;
  let stopped = false;
  let state: string | undefined;
  /** generation of the connection: a cycle of an older one stops */
  let gen = 0;
  const lastError = new Map<string, string>();
  const lastReport = new Map<string, { value: string; at: number }>();
  const pendingReport = new Map<string, string>();
  /** the desired value last written to each property (successfully), so it is written once */
  const written = new Map<string, string>();
  let writing = false;
  const stats: ReadStats = { reads: 0, errors: 0, latency: new Histogram() };

  const later = (fn: () => void, ms: number): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      if (!stopped) fn();
    }, ms);
    timers.add(t);
  };

  const setState = (s: string): void => {
    if (s === state || stopped) return;
    state = s;
    twin.setState(id, s).catch((err: unknown) => log.debug(`${id}: state ${s} not stored: ${errorText(err)}`));
  };

  /** the device's Ready condition: what fails, in its status, where users look */
  const setCondition = (c: Parameters<DeviceTwin['setCondition']>[1]): void => {
    if (stopped) return;
    twin.setCondition(id, c).catch((err: unknown) => log.debug(`${id}: condition not stored: ${errorText(err)}`));
  };
  const conditionFromReads = (): void => {
    const failing = plan.info.properties.filter((p) => lastError.has(p.name));
    if (failing.length === 0) return setCondition({ status: 'True', reason: 'Reading', message: `${plan.info.properties.length} ${plan.info.properties.length === 1 ? 'property' : 'properties'} read` });
    const said = failing.map((p) => `${p.name}: ${lastError.get(p.name) ?? ''}`).join('; ');
    if (failing.length === plan.info.properties.length) return setCondition({ status: 'False', reason: 'DeviceUnreachable', message: `no property can be read (${said})` });
    setCondition({ status: 'False', reason: 'PropertyFailing', message: said });
  };

  let flushTimer = false;
  /** reports the queued values whose reportCycle allows it now, and comes back for the others */
  const flushReports = (): void => {
    if (stopped) return;
    const now = Date.now();
    const values: Record<string, string> = {};
    let nextDue = Infinity;
    for (const [name, value] of pendingReport) {
      const last = lastReport.get(name);
      const due = last ? last.at + (plan.reportCycle.get(name) ?? 0) : 0;
      if (due > now) {
        nextDue = Math.min(nextDue, due);
        continue;
      }
      values[name] = value;
      pendingReport.delete(name);
      lastReport.set(name, { value, at: now });
    }
    if (nextDue < Infinity && !flushTimer) {
      flushTimer = true;
      later(() => {
        flushTimer = false;
        flushReports();
      }, nextDue - now);
    }
    if (Object.keys(values).length === 0) return;
    twin.report(id, values).catch((err: unknown) => log.warn(`${id}: values not taken by the twin: ${errorText(err)}`));
  };

  /** queues a value read, unless it is the one last reported */
  const take = (name: string, value: string): void => {
    if (lastReport.get(name)?.value === value) pendingReport.delete(name);
    else pendingReport.set(name, value);
  };

  const noteError = (name: string, err: Error): void => {
    if (lastError.get(name) === err.message) return;
    lastError.set(name, err.message);
    log.warn(`${id}: ${name}: ${err.message}`);
  };

  const readAndReport = async (props: readonly PropertyVisitor[], c: DeviceConnection): Promise<void> => {
    const t0 = performance.now();
    const result = await c.read(props);
    stats.latency.observe((performance.now() - t0) / 1000);
    stats.reads += props.length;
    let ok = 0;
    for (const p of props) {
      const v = result.get(p.name);
      if (v instanceof Error || v === undefined) {
        stats.errors++;
        noteError(p.name, v ?? new Error('no value'));
        continue;
      }
      ok++;
      if (lastError.delete(p.name)) log.info(`${id}: ${p.name} reads again`);
      take(p.name, v);
    }
    flushReports();
    if (c === conn) {
      setState(ok > 0 || props.length === 0 ? 'online' : 'unhealthy');
      conditionFromReads();
    }
  };

  const cycle = (ms: number, props: PropertyVisitor[], g: number): void => {
    const c = conn;
    if (!c || g !== gen) return;
    const t0 = Date.now();
    readAndReport(props, c)
      .catch((err: unknown) => log.warn(`${id}: read failed: ${errorText(err)}`))
      .finally(() => {
        reconcile();
        later(() => cycle(ms, props, g), Math.max(0, ms - (Date.now() - t0)));
      });
  };

  /** writes desired values that differ from the reported ones, where the model allows it */
  const reconcile = (): void => {
    const c = conn;
    const dev = twin.device(id);
    if (!c || !dev || writing || stopped) return;
    const todo = Object.entries(deltaOf(dev)).filter(([k, v]) => written.get(k) !== v && plan.info.properties.some((p) => p.name === k));
    if (todo.length === 0) return;
    writing = true;
    void (async () => {
      for (const [name, value] of todo) {
        const p = plan.info.properties.find((x) => x.name === name) as PropertyVisitor;
        if (!p.writable) {
          written.set(name, value);
          log.warn(`${id}: ${name} is ReadOnly in its model; desired value ${value} not written`);
          continue;
        }
        try {
          await c.write(p, value);
          written.set(name, value);
          log.info(`${id}: wrote ${name} = ${value}`);
          await readAndReport([p], c); // read back: the device's own value is what gets reported
        } catch (err) {
          log.warn(`${id}: cannot write ${name} = ${value}: ${errorText(err)}; retrying on the next cycle`);
        }
      }
    })().finally(() => {
      writing = false;
    });
  };

  const open = (): void => {
    if (stopped || conn || opening) return;
    opening = true;
    const hooks = {
      log,
      pushed: (name: string, value: string) => {
        take(name, value);
        flushReports(); // an edge or a pushed line is reported at once
      },
      lost: (reason: string) => {
        const c = conn;
        if (!c || stopped) return;
        conn = undefined;
        gen++;
        setState('offline');
        setCondition({ status: 'False', reason: 'DeviceUnreachable', message: `lost its transport: ${reason}` });
        const delay = backoff.next();
        log.warn(`${id}: lost its transport (${reason}); reopening in ${delay} ms`);
        c.close().catch(() => undefined);
        later(open, delay);
      },
    };
    driver.open(plan.info, hooks).then(
      (c) => {
        opening = false;
        if (stopped) return void c.close().catch(() => undefined);
        conn = c;
        gen++;
        backoff.reset();
        written.clear();
        log.info(`${id}: opened (${plan.protocol}, ${plan.info.properties.length} properties)`);
        for (const [ms, props] of plan.cycles) cycle(ms, props, gen);
      },
      (err: unknown) => {
        opening = false;
        setState('offline');
        setCondition({ status: 'False', reason: 'DeviceUnreachable', message: `cannot open: ${errorText(err)}` });
        const delay = backoff.next();
        log.warn(`${id}: cannot open: ${errorText(err)}; retrying in ${delay} ms`);
        later(open, delay);
      },
    );
  };

  open();
  return {
    fingerprint: plan.fingerprint,
    stats,
    reconcile,
    async stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const c = conn;
      conn = undefined;
      await c?.close().catch(() => undefined);
    },
  };
}

export function createDeviceManager(deps: { twin: DeviceTwin; drivers: readonly Driver[] }): DeviceManager {
  const drivers = new Map(deps.drivers.map((d) => [d.protocol, d]));
  const runners = new Map<string, Runner>();
  let ctx: ModuleContext | undefined;

  const onDevice = (id: string, spec: DeviceSpec | undefined): void => {
    const have = runners.get(id);
    const s = spec ? deps.twin.spec(id) : undefined;
    const plan = s ? planDevice(id, s.device, s.model, drivers) : undefined;
    if (have && plan && have.fingerprint === plan.fingerprint) return;
    if (have) {
      runners.delete(id);
      void have.stop();
      ctx?.log.info(`${id}: stopped${plan ? ' (changed)' : ''}`);
    }
    if (!plan || !ctx) return;
    runners.set(id, runDevice(plan, drivers.get(plan.protocol) as Driver, deps.twin, ctx.log));
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
      ];
    },
    async start(c) {
      ctx = c;
      deps.twin.events.on('device', onDevice);
      deps.twin.events.on('delta', onDelta);
      for (const id of deps.twin.deviceIds()) onDevice(id, deps.twin.spec(id)?.device);
    },
    async stop() {
      deps.twin.events.off('device', onDevice);
      deps.twin.events.off('delta', onDelta);
      await Promise.all([...runners.values()].map((r) => r.stop()));
      runners.clear();
    },
  } satisfies DeviceManager;
}
