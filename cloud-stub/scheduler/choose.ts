/**
 * Which node a pod goes to: of the nodes whose labels match its `nodeSelector` (every node matches an
 * empty one), that are not cordoned (`spec.unschedulable`) and are Ready, the one running the fewest
 * pods (the first such, in the order given, on a tie). When none can take it, the message says why
 * in kube-scheduler's words.
 */
export interface Candidate {
  name: string;
  labels: Readonly<Record<string, string>>;
  unschedulable: boolean;
  ready: boolean;
  /** pods bound to it now */
  pods: number;
}

export type Choice = { node: string } | { unschedulable: string };

export function chooseNode(nodeSelector: Readonly<Record<string, string>>, nodes: readonly Candidate[]): Choice {
  let mismatched = 0;
  let cordoned = 0;
  let notReady = 0;
  let best: Candidate | undefined;
  for (const n of nodes) {
    if (!Object.entries(nodeSelector).every(([k, v]) => n.labels[k] === v)) mismatched++;
    else if (n.unschedulable) cordoned++; // kubectl cordon: no new pods (its NoSchedule taint)
    else if (!n.ready) notReady++;
    else if (best === undefined || n.pods < best.pods) best = n;
  }
  if (best !== undefined) return { node: best.name };
  const why = [
    mismatched ? `${mismatched} node(s) didn't match Pod's node selector` : '',
    cordoned ? `${cordoned} node(s) were unschedulable` : '',
    notReady ? `${notReady} node(s) were not ready` : '',
  ].filter(Boolean);
  return { unschedulable: `0/${nodes.length} nodes are available${why.length ? `: ${why.join(', ')}` : ''}.` };
}
