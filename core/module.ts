/**
 * A module, as KubeEdge's beehive has them: a name and a group, started and stopped by the core.
 * Factories only store their dependencies; start() does the I/O; stop() is safe to call twice.
 */
import type { Bus } from './bus.js';
import type { Clock } from './clock.js';
import type { Logger } from './log.js';
import { errorText } from './errors.js';

export interface ModuleContext {
  bus: Bus;
  log: Logger;
  clock: Clock;
}

export interface Module {
  readonly name: string;
  readonly group: string;
  start(ctx: ModuleContext): Promise<void>;
  stop(): Promise<void>;
}

export interface ModuleEntry {
  module: Module;
  enabled: boolean;
}

/** Starts the enabled modules in order and returns a function that stops them in reverse order. */
export async function startModules(entries: readonly ModuleEntry[], ctx: ModuleContext): Promise<() => Promise<void>> {
  const started: Module[] = [];
  for (const { module, enabled } of entries) {
    if (!enabled) {
      ctx.log.info(`module ${module.name} is disabled`);
      continue;
    }
    await module.start({ ...ctx, log: ctx.log.child(module.name) });
    started.push(module);
    ctx.log.info(`module ${module.name} (group ${module.group}) started`);
  }
  let stopped = false;
  return async () => {
    if (stopped) return;
    stopped = true;
    for (const m of started.reverse()) {
      try {
        await m.stop();
      } catch (err) {
        ctx.log.error(`module ${m.name} failed to stop: ${errorText(err)}`);
      }
    }
  };
}
