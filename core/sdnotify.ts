/**
 * systemd's notify protocol (sd_notify(3)) for a `Type=notify` unit with `WatchdogSec=`: READY=1
 * once started, WATCHDOG=1 every half watchdog interval while the process is healthy, STOPPING=1 on
 * the way out. Node has no AF_UNIX datagram sockets, so the datagram is sent by systemd's own
 * `systemd-notify` (the unit needs `NotifyAccess=all`: the sender is a child); it waits until systemd
 * has taken the message (BARRIER=1), so a short-lived sender is not lost. One spawn costs a few ms of
 * CPU every half interval (bench/sdnotify). Outside systemd (no $NOTIFY_SOCKET) all of it is a no-op.
 */
import { spawn } from 'node:child_process';
import type { Logger } from './log.js';

export interface Notifier {
  /** the watchdog interval systemd asked for, in ms (undefined: no watchdog) */
  readonly watchdogMs: number | undefined;
  ready(status?: string): void;
  /** pets the watchdog when `healthy()` says so; says why not in the log once per spell */
  startWatchdog(healthy: () => string | undefined, log: Logger): void;
  stopping(): void;
}

export function systemdNotifier(env: NodeJS.ProcessEnv = process.env, command = 'systemd-notify'): Notifier {
  const socket = env.NOTIFY_SOCKET;
  const usec = Number(env.WATCHDOG_USEC);
  // WATCHDOG_PID names the process the watchdog is for (a child that inherited the environment is not)
  const forUs = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === process.pid;
  const watchdogMs = socket && forUs && Number.isFinite(usec) && usec > 0 ? usec / 1000 : undefined;
  let timer: NodeJS.Timeout | undefined;
  let sending = false;

  const send = (...assignments: string[]): void => {
    if (!socket || sending) return; // one at a time: a pet still in flight makes the next one moot
    sending = true;
    const child = spawn(command, assignments, { stdio: 'ignore', env: { ...env, NOTIFY_SOCKET: socket } });
    child.on('error', () => (sending = false));
    child.on('exit', () => (sending = false));
  };

  return {
    watchdogMs,
    ready(status) {
      send('READY=1', `MAINPID=${process.pid}`, ...(status ? [`STATUS=${status}`] : []));
    },
    startWatchdog(healthy, log) {
      if (watchdogMs === undefined || timer) return;
      let sick: string | undefined;
      timer = setInterval(() => {
        // the timer firing at all says the event loop turns
        const why = healthy();
        if (why === undefined) {
          if (sick !== undefined) log.info(`healthy again: petting the systemd watchdog`);
          sick = undefined;
          return send('WATCHDOG=1');
        }
        if (sick !== why) log.error(`unhealthy (${why}): not petting the systemd watchdog, which restarts edgecore after ${watchdogMs / 1000} s`);
        sick = why;
      }, watchdogMs / 2);
      timer.unref();
    },
    stopping() {
      clearInterval(timer);
      timer = undefined;
      send('STOPPING=1');
    },
  };
}
