/**
 * The GPIO driver (onoff, sysfs). The manifest names the BCM pin; the sysfs number is the chip's
 * base plus the pin (kernels 6.6 and later put the Pi's chip at 512, 571, …, not 0), read from
 * /sys/class/gpio/gpiochip*\/{base,label,ngpio}. Inputs with an `edge` are reported at once on an
 * interrupt (epoll through onoff); where epoll cannot watch the value file, they are sampled every
 * `debounceMs` (at least 10 ms) instead, and that is logged. A change is reported once it has held
 * for `debounceMs`. Outputs take the desired value; `activeLow` inverts through sysfs.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorText } from '../../core/errors.js';
import type { DeviceConnection, DeviceInfo, Driver, DriverHooks, PropertyVisitor, ReadResult } from '../core/types.js';
import { bool, formatNumber, num, parseNumber, str } from '../core/types.js';

export const GPIO_ROOT = '/sys/class/gpio';
const MIN_SAMPLE_MS = 10;

interface OnoffGpio {
  read(): Promise<number>;
  write(v: number): Promise<void>;
  watch(cb: (err: Error | null | undefined, v: number) => void): void;
  unwatchAll(): void;
  unexport(): void;
}
type GpioCtor = (new (n: number, direction: string, edge: string, opts: Record<string, unknown>) => OnoffGpio) & { accessible: boolean };

let loaded: Promise<GpioCtor> | undefined;
function loadOnoff(): Promise<GpioCtor> {
  return (loaded ??= import('onoff').then(
    (m) => ((m as unknown as { Gpio?: GpioCtor }).Gpio ?? (m as unknown as { default: { Gpio: GpioCtor } }).default.Gpio) as GpioCtor,
    (err: unknown) => {
      loaded = undefined;
      throw new Error(`GPIO devices need the onoff add-on (and its epoll), which cannot be loaded here (${errorText(err).split('\n')[0]}); install onoff beside edgecore`);
    },
  ));
}

export interface GpioChip {
  name: string;
  base: number;
  label: string;
  ngpio: number;
}

export function gpioChips(root = GPIO_ROOT): GpioChip[] {
  let names: string[] = [];
  try {
    names = readdirSync(root).filter((n) => /^gpiochip\d+$/.test(n));
  } catch {
    return [];
  }
  return names
    .map((name) => {
      const read = (f: string): string => readFileSync(join(root, name, f), 'utf8').trim();
      try {
        return { name, base: Number(read('base')), label: read('label'), ngpio: Number(read('ngpio')) };
      } catch {
        return undefined;
      }
    })
    .filter((c): c is GpioChip => c !== undefined)
    .sort((a, b) => a.base - b.base);
}

/** The chip a device's pins are on: `chip` (a label or gpiochipN) if given, else the Pi's pin controller, else the first. */
export function pickChip(chips: readonly GpioChip[], chip?: string): GpioChip {
  if (chips.length === 0) throw new Error(`no GPIO chip under ${GPIO_ROOT}`);
  if (chip) {
    const c = chips.find((x) => x.label === chip || x.name === chip);
    if (!c) throw new Error(`GPIO chip ${JSON.stringify(chip)} not found; there are ${chips.map((x) => `${x.name} (${x.label})`).join(', ')}`);
    return c;
  }
  return chips.find((c) => /^pinctrl-(bcm2\d+|rp1)/.test(c.label)) ?? (chips[0] as GpioChip);
}

/** Exports a line without onoff's busy wait: writes `export`, then waits (asynchronously) for its files. */
async function exportLine(n: number): Promise<void> {
  const dir = join(GPIO_ROOT, `gpio${n}`);
  if (existsSync(join(dir, 'value'))) return;
  try {
    writeFileSync(join(GPIO_ROOT, 'export'), String(n));
  } catch (err) {
    // a line requested through the character device (libgpiod's gpioset, a kernel driver) cannot be exported
    if ((err as NodeJS.ErrnoException).code === 'EBUSY') throw new Error(`gpio${n} is held by another user of the line (a program through /dev/gpiochip*, such as gpioset, or a kernel driver): EBUSY`);
    throw err;
  }
  for (let i = 0; i < 200; i++) {
    if (existsSync(join(dir, 'value')) && existsSync(join(dir, 'direction'))) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`gpio${n} did not appear after export`);
}

/**
 * Edges out of samples, for a line without interrupts: a level counts once it held `debounceMs`;
 * a change to it is an edge, reported when the property's `edge` asks for that direction.
 */
export class EdgeSampler {
  private candidate: number;
  private since: number;

  constructor(
    private stable: number,
    private readonly edge: string,
    private readonly debounceMs: number,
    now: number,
  ) {
    this.candidate = stable;
    this.since = now;
  }

  /** the level sampled at `now`; the new level when it is an edge to report */
  sample(v: number, now: number): number | undefined {
    if (v !== this.candidate) {
      this.candidate = v;
      this.since = now;
    }
    if (this.candidate === this.stable || now - this.since < this.debounceMs) return undefined;
    this.stable = this.candidate;
    const rising = this.edge === 'rising' || this.edge === 'both';
    const falling = this.edge === 'falling' || this.edge === 'both';
    return (this.stable === 1 && rising) || (this.stable === 0 && falling) ? this.stable : undefined;
  }
}

type Line = { gpio: OnoffGpio; prop: PropertyVisitor; output: boolean };

const levelText = (v: number, p: PropertyVisitor): string => formatNumber(v, p.type === 'string' ? 'int' : p.type);

function unavailable(): Error {
  return new Error(
    existsSync(GPIO_ROOT)
      ? `GPIO is not available on this machine: ${GPIO_ROOT}/export cannot be opened (no permission: edgecore runs as root under its unit)`
      : `this kernel has no sysfs GPIO (${GPIO_ROOT}: built without CONFIG_GPIO_SYSFS); the GPIO driver needs it (the character device /dev/gpiochip* is not driven yet)`,
  );
}

export function gpioDriver(): Driver {
  return {
    protocol: 'gpio',
    async open(device: DeviceInfo, hooks: DriverHooks): Promise<DeviceConnection> {
      const Gpio = await loadOnoff();
      if (!Gpio.accessible) throw unavailable();
      const chip = pickChip(gpioChips(), typeof device.config.chip === 'string' && device.config.chip !== '' ? device.config.chip : undefined);
      const conn = new GpioConnection(device, hooks);
      try {
        for (const p of device.properties) await conn.openLine(Gpio, chip, p);
      } catch (err) {
        await conn.close();
        throw err;
      }
      hooks.log.info(`${device.id}: GPIO on ${chip.name} (${chip.label}, base ${chip.base})`);
      return conn;
    },
  };
}

class GpioConnection implements DeviceConnection {
  private readonly lines = new Map<string, Line>();
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly device: DeviceInfo,
    private readonly hooks: DriverHooks,
  ) {}

  async openLine(Gpio: Awaited<ReturnType<typeof loadOnoff>>, chip: ReturnType<typeof pickChip>, p: PropertyVisitor): Promise<void> {
    const pin = num(p.config.pin, -1);
    if (pin < 0 || pin >= chip.ngpio) throw new Error(`${p.name}: pin ${pin} is not on ${chip.name} (${chip.label}, ${chip.ngpio} lines)`);
    const n = chip.base + pin;
    const output = str(p.config.direction, 'in') === 'out';
    const edge = output ? 'none' : str(p.config.edge, 'none');
    const debounceMs = num(p.config.debounceMs, 0);
    await exportLine(n);
    const gpio = new Gpio(n, output ? 'out' : 'in', edge, { activeLow: bool(p.config.activeLow), debounceTimeout: debounceMs, reconfigureDirection: true });
    this.lines.set(p.name, { gpio, prop: p, output });
    if (output || edge === 'none') return;
    try {
      gpio.watch((err, v) => {
        if (err) this.hooks.log.warn(`${this.device.id}: ${p.name}: ${err.message}`);
        else this.hooks.pushed(p.name, levelText(v, p));
      });
    } catch (err) {
      // epoll refuses files that are not sysfs attributes (a fake tree in tests, some containers): sample instead
      const every = Math.max(MIN_SAMPLE_MS, debounceMs || MIN_SAMPLE_MS);
      this.hooks.log.warn(`${this.device.id}: ${p.name}: no interrupts on gpio${n} (${errorText(err)}); sampling every ${every} ms`);
      const sampler = new EdgeSampler(await gpio.read(), edge, debounceMs, Date.now());
      const sample = (): void => {
        gpio.read().then(
          (v) => {
            const level = sampler.sample(v, Date.now());
            if (level !== undefined) this.hooks.pushed(p.name, levelText(level, p));
          },
          (e: unknown) => this.hooks.lost(`gpio${n}: ${errorText(e)}`),
        );
      };
      this.timers.push(setInterval(sample, every));
    }
  }

  async read(props: readonly PropertyVisitor[]): Promise<ReadResult> {
    const out: ReadResult = new Map();
    for (const p of props) {
      const l = this.lines.get(p.name);
      if (!l) continue;
      try {
        out.set(p.name, levelText(await l.gpio.read(), p));
      } catch (err) {
        out.set(p.name, new Error(`${p.name}: ${errorText(err)}`));
      }
    }
    return out;
  }

  async write(prop: PropertyVisitor, value: string): Promise<void> {
    const l = this.lines.get(prop.name);
    if (!l?.output) throw new Error(`${prop.name} is not an output`);
    const n = parseNumber(value);
    if (n !== 0 && n !== 1) throw new Error(`${JSON.stringify(value)} is not a GPIO level (true, false, 1 or 0)`);
    await l.gpio.write(n);
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    for (const { gpio } of this.lines.values()) {
      try {
        gpio.unexport();
      } catch {
        /* already gone */
      }
    }
  }
}
