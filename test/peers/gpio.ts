/**
 * GPIO for tests on a machine without it: edgecore runs in its own mount namespace with a fake
 * /sys/class/gpio on tmpfs: two chips, the Pi's pin controller at base 512 (as kernels 6.6+ number
 * it) and another at 0, and a fake kernel (fake-gpio-kernel.mjs) that makes gpioN/ on export. A
 * test reaches the same files through /proc/<edgecore's pid>/root/sys/class/gpio.
 */
import { fileURLToPath } from 'node:url';

const KERNEL = fileURLToPath(new URL('./fake-gpio-kernel.mjs', import.meta.url));

const fakeSysfs = `set -e
mount -t tmpfs none /sys/class
G=/sys/class/gpio
mkdir -p $G/gpiochip0 $G/gpiochip512
echo 0 > $G/gpiochip0/base; echo other-chip > $G/gpiochip0/label; echo 8 > $G/gpiochip0/ngpio
echo 512 > $G/gpiochip512/base; echo pinctrl-bcm2711 > $G/gpiochip512/label; echo 58 > $G/gpiochip512/ngpio
: > $G/export; : > $G/unexport
"$0" ${KERNEL} $$ &
exec "$0" "$@"`;

/** the launcher for cluster.startEdge that gives edgecore the fake GPIO */
export function fakeGpioLauncher(): string[] {
  return ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', fakeSysfs, process.execPath];
}
