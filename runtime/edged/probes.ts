/**
 * Liveness and readiness probes, as kubelet runs them: after `initialDelaySeconds`, every
 * `periodSeconds`, each attempt given `timeoutSeconds`; `failureThreshold` failures in a row change
 * the result to failed, `successThreshold` successes back to passed. exec runs in the container;
 * httpGet passes on 200–399; tcpSocket passes when a connection opens.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tcpReachable } from '../../core/net.js';
import type { ContainerPort, Probe } from '../../api/pods/types.js';
import type { ContainerRuntime, RuntimeContainer } from '../../containers/runtime.js';

export interface ProbeTarget {
  runtime: ContainerRuntime;
  container: RuntimeContainer;
  ports: readonly ContainerPort[];
  env: Record<string, string>;
}

function portOf(port: number | string, ports: readonly ContainerPort[]): number | undefined {
  return typeof port === 'number' ? port : ports.find((p) => p.name === port)?.containerPort;
}

export async function probeOnce(probe: Probe, t: ProbeTarget): Promise<boolean> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  if (probe.exec) return (await t.runtime.exec(t.container, probe.exec.command, timeoutMs, t.env)) === 0;
  const host = probe.httpGet?.host ?? probe.tcpSocket?.host ?? t.container.ip ?? '127.0.0.1';
  if (probe.httpGet) {
    const port = portOf(probe.httpGet.port, t.ports);
    if (port === undefined) return false;
    const get = probe.httpGet.scheme === 'HTTPS' ? httpsRequest : httpRequest;
    const headers = Object.fromEntries((probe.httpGet.httpHeaders ?? []).map((h) => [h.name, h.value]));
    return new Promise<boolean>((resolve) => {
      const req = get({ host, port, path: probe.httpGet?.path ?? '/', headers: { 'user-agent': 'kube-probe/kubeedge-lite', ...headers }, timeout: timeoutMs, rejectUnauthorized: false }, (res) => {
        res.resume();
        resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
      req.end();
    });
  }
  if (probe.tcpSocket) {
    const port = portOf(probe.tcpSocket.port, t.ports);
    if (port === undefined) return false;
    return (await tcpReachable(host, port, timeoutMs)) === undefined;
  }
  return false;
}

/** Runs one probe on one container until stopped; `onResult` hears each change of result. */
export class ProbeRunner {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private failures = 0;
  private successes = 0;
  /** undefined until the first result */
  result: boolean | undefined;

  constructor(
    private readonly probe: Probe,
    private readonly target: ProbeTarget,
    private readonly onResult: (passed: boolean) => void,
  ) {}

  start(): void {
    this.timer = setTimeout(() => void this.tick(), (this.probe.initialDelaySeconds ?? 0) * 1000);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const ok = await probeOnce(this.probe, this.target).catch(() => false);
    if (this.stopped) return;
    if (ok) {
      this.failures = 0;
      this.successes++;
      if (this.result !== true && this.successes >= (this.probe.successThreshold ?? 1)) this.set(true);
    } else {
      this.successes = 0;
      this.failures++;
      if (this.result !== false && this.failures >= (this.probe.failureThreshold ?? 3)) this.set(false);
    }
    this.timer = setTimeout(() => void this.tick(), (this.probe.periodSeconds ?? 10) * 1000);
  }

  private set(passed: boolean): void {
    this.result = passed;
    this.onResult(passed);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
