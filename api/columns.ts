/**
 * The columns kubectl shows for each type (`NAME READY STATUS RESTARTS AGE` for pods…, more with
 * `-o wide`): the API server answers kubectl's Table requests with them, and keadm prints them.
 */
import type { ResourceKind } from './resources.js';

interface ContainerStatus {
  name: string;
  ready?: boolean;
  restartCount?: number;
  state?: { waiting?: { reason?: string }; running?: unknown; terminated?: { reason?: string; exitCode?: number } };
}

export interface Obj {
  metadata?: { name?: string; namespace?: string; creationTimestamp?: string; labels?: Record<string, string> };
  spec?: { unschedulable?: boolean; nodeName?: string; deviceModelRef?: { name?: string }; protocol?: { protocolName?: string }; properties?: unknown[]; containers?: unknown[]; source?: string; target?: string; ruleEndpointType?: string };
  status?: {
    conditions?: { type: string; status: string; reason?: string }[];
    state?: string;
    successMessages?: number;
    failMessages?: number;
    phase?: string;
    reason?: string;
    podIP?: string;
    containerStatuses?: ContainerStatus[];
    addresses?: { type: string; address: string }[];
    nodeInfo?: { osImage?: string; kernelVersion?: string; containerRuntimeVersion?: string; kubeletVersion?: string };
  };
  data?: Record<string, unknown>;
  binaryData?: Record<string, unknown>;
  type?: string;
}

export function age(ts: string | undefined, now = Date.now()): string {
  if (!ts) return '<unknown>';
  const s = Math.max(0, Math.floor((now - Date.parse(ts)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** kubectl's STATUS column: the reason a container waits or ended, else the phase */
export function podStatusWord(o: Obj): string {
  let reason = o.status?.reason ?? o.status?.phase ?? 'Pending';
  let running = false;
  for (const c of [...(o.status?.containerStatuses ?? [])].reverse()) {
    if (c.state?.waiting?.reason) reason = c.state.waiting.reason;
    else if (c.state?.terminated) reason = c.state.terminated.reason ?? `ExitCode:${c.state.terminated.exitCode ?? '?'}`;
    else if (c.state?.running) running = true;
  }
  return reason === 'Completed' && running ? 'Running' : reason;
}

/** the columns of a type: their names, how many are shown without `-o wide`, and a row's cells */
export function columns(kind: ResourceKind, wide: boolean, ns: boolean): { head: string[]; row: (o: Obj) => string[] } {
  const name = (o: Obj): string => o.metadata?.name ?? '';
  const since = (o: Obj): string => age(o.metadata?.creationTimestamp);
  const base = (head: string[], row: (o: Obj) => string[]) =>
    ns ? { head: ['NAMESPACE', ...head], row: (o: Obj) => [o.metadata?.namespace ?? '', ...row(o)] } : { head, row };
  switch (kind) {
    case 'node': {
      // as kubectl: Ready,SchedulingDisabled for a cordoned node
      const ready = (o: Obj): string => `${o.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? 'Ready' : 'NotReady'}${o.spec?.unschedulable ? ',SchedulingDisabled' : ''}`;
      const roles = (o: Obj): string => Object.keys(o.metadata?.labels ?? {}).filter((l) => l.startsWith('node-role.kubernetes.io/')).map((l) => l.slice(24)).sort().join(',') || 'agent,edge';
      const head = ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION'];
      const row = (o: Obj): string[] => [name(o), ready(o), roles(o), since(o), o.status?.nodeInfo?.kubeletVersion ?? ''];
      if (!wide) return { head, row };
      return {
        head: [...head, 'INTERNAL-IP', 'OS-IMAGE', 'KERNEL-VERSION', 'CONTAINER-RUNTIME'],
        row: (o) => [...row(o), o.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '<none>', o.status?.nodeInfo?.osImage ?? '', o.status?.nodeInfo?.kernelVersion ?? '', o.status?.nodeInfo?.containerRuntimeVersion ?? ''],
      };
    }
    case 'pod': {
      const cs = (o: Obj): ContainerStatus[] => o.status?.containerStatuses ?? [];
      const head = ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE'];
      const row = (o: Obj): string[] => [
        name(o),
        `${cs(o).filter((c) => c.ready).length}/${o.spec?.containers?.length ?? cs(o).length}`,
        podStatusWord(o),
        String(cs(o).reduce((n, c) => n + (c.restartCount ?? 0), 0)),
        since(o),
      ];
      return base(wide ? [...head, 'IP', 'NODE'] : head, wide ? (o) => [...row(o), o.status?.podIP ?? '<none>', o.spec?.nodeName ?? '<none>'] : row);
    }
    case 'configmap':
      return base(['NAME', 'DATA', 'AGE'], (o) => [name(o), String(Object.keys(o.data ?? {}).length + Object.keys(o.binaryData ?? {}).length), since(o)]);
    case 'secret':
      return base(['NAME', 'TYPE', 'DATA', 'AGE'], (o) => [name(o), o.type ?? 'Opaque', String(Object.keys(o.data ?? {}).length), since(o)]);
    case 'device':
      // REASON: why it is not Ready (ModelMissing, DeviceUnreachable, PropertyFailing), as the edge says
      return base(['NAME', 'NODE', 'MODEL', 'PROTOCOL', 'STATE', 'REASON', 'AGE'], (o) => {
        const ready = o.status?.conditions?.find((c) => c.type === 'Ready');
        return [name(o), o.spec?.nodeName ?? '', o.spec?.deviceModelRef?.name ?? '', o.spec?.protocol?.protocolName ?? '', o.status?.state ?? '', ready?.status === 'False' ? (ready.reason ?? '') : '', since(o)];
      });
    case 'devicemodel':
      return base(['NAME', 'PROPERTIES', 'AGE'], (o) => [name(o), String(o.spec?.properties?.length ?? 0), since(o)]);
    case 'devicestatus':
      return base(['NAME', 'STATE', 'AGE'], (o) => [name(o), o.status?.state ?? '', since(o)]);
    case 'rule':
      return base(['NAME', 'SOURCE', 'TARGET', 'SUCCESS', 'FAIL', 'AGE'], (o) => [name(o), o.spec?.source ?? '', o.spec?.target ?? '', String(o.status?.successMessages ?? 0), String(o.status?.failMessages ?? 0), since(o)]);
    case 'ruleendpoint':
      return base(['NAME', 'TYPE', 'AGE'], (o) => [name(o), o.spec?.ruleEndpointType ?? '', since(o)]);
  }
}
