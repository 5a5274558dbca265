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

export function gpioDriver(): Driver {
  return {
    protocol: 'gpio',
    async open(device: DeviceInfo, hooks: DriverHooks): Promise<DeviceConnection> {
      const Gpio = await loadOnoff();
      if (!Gpio.accessible) {
        throw new Error(
          existsSync(GPIO_ROOT)
            ? `GPIO is not available on this machine: ${GPIO_ROOT}/export cannot be opened (no permission: edgecore runs as root under its unit)`
            : `this kernel has no sysfs GPIO (${GPIO_ROOT}: built without CONFIG_GPIO_SYSFS); the GPIO driver needs it (the character device /dev/gpiochip* is not driven yet)`,
        );
      }
      const chip = pickChip(gpioChips(), typeof device.config.chip === 'string' && device.config.chip !== '' ? device.config.chip : undefined);
      const lines = new Map<string, { gpio: OnoffGpio; prop: PropertyVisitor; output: boolean }>();
      const timers: NodeJS.Timeout[] = [];
      const fmt = (v: number, p: PropertyVisitor): string => formatNumber(v, p.type === 'string' ? 'int' : p.type);
      try {
        for (const p of device.properties) {
          const pin = num(p.config.pin, -1);
          if (pin < 0 || pin >= chip.ngpio) throw new Error(`${p.name}: pin ${pin} is not on ${chip.name} (${chip.label}, ${chip.ngpio} lines)`);
          const n = chip.base + pin;
          const output = str(p.config.direction, 'in') === 'out';
          const edge = output ? 'none' : str(p.config.edge, 'none');
          const debounceMs = num(p.config.debounceMs, 0);
          await exportLine(n);
          const gpio = new Gpio(n, output ? 'out' : 'in', edge, { activeLow: bool(p.config.activeLow), debounceTimeout: debounceMs, reconfigureDirection: true });
          lines.set(p.name, { gpio, prop: p, output });
          if (output || edge === 'none') continue;
          const rising = edge === 'rising' || edge === 'both';
          const falling = edge === 'falling' || edge === 'both';
          try {
            gpio.watch((err, v) => {
              if (err) hooks.log.warn(`${device.id}: ${p.name}: ${err.message}`);
              else hooks.pushed(p.name, fmt(v, p));
            });
          } catch (err) {
            // epoll refuses files that are not sysfs attributes (a fake tree in tests, some containers): sample instead
            const every = Math.max(MIN_SAMPLE_MS, debounceMs || MIN_SAMPLE_MS);
            hooks.log.warn(`${device.id}: ${p.name}: no interrupts on gpio${n} (${errorText(err)}); sampling every ${every} ms`);
            let stable = await gpio.read();
            let candidate = stable;
            let since = Date.now();
            timers.push(
              setInterval(() => {
                gpio.read().then(
                  (v) => {
                    if (v !== candidate) {
                      candidate = v;
                      since = Date.now();
                    }
                    if (candidate !== stable && Date.now() - since >= debounceMs) {
                      stable = candidate;
                      if ((stable === 1 && rising) || (stable === 0 && falling)) hooks.pushed(p.name, fmt(stable, p));
                    }
                  },
                  (e: unknown) => hooks.lost(`gpio${n}: ${errorText(e)}`),
                );
              }, every),
            );
          }
        }
      } catch (err) {
        for (const { gpio } of lines.values()) gpio.unexport();
        throw err;
      }
      hooks.log.info(`${device.id}: GPIO on ${chip.name} (${chip.label}, base ${chip.base})`);
      return {
        async read(props): Promise<ReadResult> {
          const out: ReadResult = new Map();
          for (const p of props) {
            const l = lines.get(p.name);
            if (!l) continue;
            try {
              out.set(p.name, fmt(await l.gpio.read(), p));
            } catch (err) {
              out.set(p.name, new Error(`${p.name}: ${errorText(err)}`));
            }
          }
          return out;
        },
        async write(prop, value) {
          const l = lines.get(prop.name);
          if (!l?.output) throw new Error(`${prop.name} is not an output`);
          const n = parseNumber(value);
          if (n !== 0 && n !== 1) throw new Error(`${JSON.stringify(value)} is not a GPIO level (true, false, 1 or 0)`);
          await l.gpio.write(n);
        },
        async close() {
          for (const t of timers) clearInterval(t);
          for (const { gpio } of lines.values()) {
            try {
              gpio.unexport();
            } catch {
              /* already gone */
            }
          }
        },
      };
    },
  };
}
