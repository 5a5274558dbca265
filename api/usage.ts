/** What an edge answers when the cloud asks what it uses (kubectl top): one side writes it, the other reads it. */

/** the resource of the request, in group `edged` */
export const USAGE_RESOURCE = 'node/usage';

export interface NodeUsage {
  timestamp: string;
  /** the rates' window */
  windowSeconds: number;
  node: { cpuNanocores: number; memoryBytes: number };
  pods: { namespace: string; name: string; containers: { name: string; cpuNanocores: number; memoryBytes: number }[] }[];
}
