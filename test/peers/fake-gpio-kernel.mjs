// The kernel's side of sysfs GPIO, for a fake /sys/class/gpio on tmpfs (in a mount namespace):
// a number written to `export` makes gpioN/{direction,value,edge,active_low}; `unexport` removes it.
// usage: node fake-gpio-kernel.mjs PID — exits when process PID does.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = '/sys/class/gpio';
const owner = Number(process.argv[2]);
const take = (file) => {
  const text = readFileSync(join(root, file), 'utf8').trim();
  if (text !== '') writeFileSync(join(root, file), '');
  return text.split(/\s+/).filter(Boolean).map(Number);
};
setInterval(() => {
  for (const n of take('export')) {
    const dir = join(root, `gpio${n}`);
    if (existsSync(dir)) continue;
    mkdirSync(dir);
    for (const [f, v] of [['active_low', '0'], ['edge', 'none'], ['value', '0'], ['direction', 'in']]) writeFileSync(join(dir, f), `${v}\n`);
  }
  for (const n of take('unexport')) rmSync(join(root, `gpio${n}`), { recursive: true, force: true });
}, 2);
setInterval(() => {
  try {
    process.kill(owner, 0);
  } catch {
    process.exit(0);
  }
}, 200);
