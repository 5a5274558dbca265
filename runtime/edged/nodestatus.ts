/**
 * What a node says of itself, as edged registers it: capacity and allocatable (cpu, memory, pods),
 * nodeInfo, addresses, how many pods run, and the labels it asks for (KubeEdge's nodeLabels, beside
 * the standard ones). Readiness is not in it: the cloud knows that from the link.
 */
import { cpus, totalmem } from 'node:os';
import { VERSION } from '../../core/cli.js';
import { kernelVersion, kubeArch, machineId, osImage } from '../../containers/host.js';

/** as kubelet's default maxPods */
const MAX_PODS = 110;

export interface NodeStatusInput {
  nodeName: string;
  labels: Record<string, string>;
  runtimeVersion: string;
  pods: { running: number; total: number };
  ip: string;
}

export function nodeStatus(i: NodeStatusInput): { status: Record<string, unknown>; labels: Record<string, string> } {
  const capacity = { cpu: String(cpus().length), memory: `${Math.floor(totalmem() / 1024)}Ki`, pods: String(MAX_PODS) };
  return {
    status: {
      capacity,
      allocatable: capacity,
      addresses: [
        { type: 'InternalIP', address: i.ip },
        { type: 'Hostname', address: i.nodeName },
      ],
      nodeInfo: {
        machineID: machineId(),
        kernelVersion: kernelVersion(),
        osImage: osImage(),
        containerRuntimeVersion: i.runtimeVersion,
        kubeletVersion: `v${VERSION}-kubeedge-lite`,
        operatingSystem: 'linux',
        architecture: kubeArch(),
      },
      pods: i.pods,
    },
    labels: {
      'kubernetes.io/arch': kubeArch(),
      'kubernetes.io/os': 'linux',
      'kubernetes.io/hostname': i.nodeName,
      'node-role.kubernetes.io/edge': '',
      'node-role.kubernetes.io/agent': '',
      ...i.labels,
    },
  };
}
