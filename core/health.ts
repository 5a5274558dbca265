/** Readiness as Kubernetes reports it, shared by edgecore's MetaServer and cloudcore's API. */

export interface ReadinessCheck {
  name: string;
  ok: boolean;
  detail: string;
}

/** Kubernetes' verbose health text: `[+]name ok` or `[-]name failed: why`, then the verdict */
export function readinessText(checks: readonly ReadinessCheck[]): { ok: boolean; text: string } {
  const ok = checks.every((c) => c.ok);
  const lines = checks.map((c) => (c.ok ? `[+]${c.name} ok${c.detail ? ` (${c.detail})` : ''}` : `[-]${c.name} failed: ${c.detail}`));
  return { ok, text: `${lines.join('\n')}\nreadyz check ${ok ? 'passed' : 'failed'}\n` };
}
