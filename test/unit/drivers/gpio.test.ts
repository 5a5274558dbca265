import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../core/log.js';
import { EdgeSampler, gpioDriver, pickChip, type GpioChip } from '../../../drivers/gpio/index.js';

const chips: GpioChip[] = [
  { name: 'gpiochip0', base: 0, label: 'other-chip', ngpio: 8 },
  { name: 'gpiochip512', base: 512, label: 'pinctrl-bcm2711', ngpio: 58 },
  { name: 'gpiochip570', base: 570, label: 'raspberrypi-exp-gpio', ngpio: 8 },
];

describe('GPIO: which chip a BCM pin is on', () => {
  it('takes the Pi’s pin controller by default, wherever the kernel put its base', () => {
    expect(pickChip(chips).base).toBe(512);
    expect(pickChip([{ name: 'gpiochip0', base: 0, label: 'pinctrl-bcm2835', ngpio: 54 }]).base).toBe(0); // kernels before 6.6
    expect(pickChip([{ name: 'gpiochip571', base: 571, label: 'pinctrl-rp1', ngpio: 54 }]).base).toBe(571); // Pi 5
  });
  it('takes the chip the manifest names, by label or name, and says which exist when it is not there', () => {
    expect(pickChip(chips, 'raspberrypi-exp-gpio').base).toBe(570);
    expect(pickChip(chips, 'gpiochip0').base).toBe(0);
    expect(() => pickChip(chips, 'nope')).toThrow(/GPIO chip "nope" not found; there are gpiochip0 \(other-chip\), gpiochip512/);
    expect(() => pickChip([])).toThrow(/no GPIO chip/);
  });
});

describe('GPIO on a kernel without sysfs GPIO', () => {
  it('refuses to open a device, saying the kernel has no sysfs GPIO', async () => {
    expect(existsSync('/sys/class/gpio')).toBe(false); // this machine's kernel has none (the fake tree is in gpio e2e, the real one on the board)
    const open = gpioDriver().open(
      { id: 'default/p', config: {}, properties: [{ name: 'led', type: 'boolean', writable: true, config: { pin: 18, direction: 'out' } }] },
      { log: createLogger({ level: 'error' }), pushed: () => undefined, lost: () => undefined },
    );
    await expect(open).rejects.toThrow('this kernel has no sysfs GPIO (/sys/class/gpio: built without CONFIG_GPIO_SYSFS); the GPIO driver needs it (the character device /dev/gpiochip* is not driven yet)');
  });
});

describe('edges from samples, on a line without interrupts', () => {
  const run = (edge: string, debounceMs: number, samples: [number, number][]): [number, number][] => {
    const s = new EdgeSampler(0, edge, debounceMs, 0);
    const out: [number, number][] = [];
    for (const [at, v] of samples) {
      const level = s.sample(v, at);
      if (level !== undefined) out.push([at, level]);
    }
    return out;
  };

  it('reports a rising and a falling edge for "both"', () => {
    expect(run('both', 0, [[10, 1], [20, 1], [30, 0]])).toEqual([[10, 1], [30, 0]]);
  });

  it('reports only the direction asked for', () => {
    expect(run('rising', 0, [[10, 1], [20, 0], [30, 1]])).toEqual([[10, 1], [30, 1]]);
    expect(run('falling', 0, [[10, 1], [20, 0], [30, 1]])).toEqual([[20, 0]]);
  });

  it('takes a level once it held debounceMs: a bounce shorter than that is no edge', () => {
    expect(run('both', 50, [[10, 1], [20, 0], [30, 1], [60, 1], [90, 1]])).toEqual([[90, 1]]);
    expect(run('both', 50, [[10, 1], [40, 0], [200, 0]])).toEqual([]);
  });
});
