/**
 * A container's environment as kubelet builds it: `envFrom` first (ConfigMaps, Secrets, with their
 * prefix), then `env` (values, or keys of ConfigMaps and Secrets), `$(VAR)` expanded from what is
 * defined before it. A missing object or key is kubelet's CreateContainerConfigError, with its words.
 */
import type { ConfigMap, Container, Secret } from '../../api/pods/types.js';
import { RuntimeError } from '../../containers/runtime.js';

export interface ConfigLookup {
  configMap(name: string): ConfigMap | undefined;
  secret(name: string): Secret | undefined;
}

const VALID_ENV = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** `$(NAME)` → its value when defined; `$$(` stays a literal `$(` */
export function expand(text: string, env: Readonly<Record<string, string>>): string {
  return text.replace(/\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)/g, (m, name?: string) => (m === '$$' ? '$' : name !== undefined && name in env ? (env[name] as string) : m));
}

function configValues(cm: ConfigMap): Record<string, string> {
  const out: Record<string, string> = { ...(cm.data ?? {}) };
  for (const [k, v] of Object.entries(cm.binaryData ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8');
  return out;
}

function secretValues(s: Secret): Record<string, string> {
  return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
}

export function resolveEnv(c: Container, namespace: string, lookup: ConfigLookup): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    if (from.configMapRef) {
      const cm = lookup.configMap(from.configMapRef.name);
      if (!cm) {
        if (from.configMapRef.optional) continue;
        throw new RuntimeError('CreateContainerConfigError', `configmap "${from.configMapRef.name}" not found`);
      }
      for (const [k, v] of Object.entries(configValues(cm))) if (VALID_ENV.test(prefix + k)) env[prefix + k] = v;
    }
    if (from.secretRef) {
      const s = lookup.secret(from.secretRef.name);
      if (!s) {
        if (from.secretRef.optional) continue;
        throw new RuntimeError('CreateContainerConfigError', `secret "${from.secretRef.name}" not found`);
      }
      for (const [k, v] of Object.entries(secretValues(s))) if (VALID_ENV.test(prefix + k)) env[prefix + k] = v;
    }
  }
  for (const e of c.env ?? []) {
    const cmRef = e.valueFrom?.configMapKeyRef;
    const secretRef = e.valueFrom?.secretKeyRef;
    if (cmRef) {
      const cm = lookup.configMap(cmRef.name);
      const v = cm ? configValues(cm)[cmRef.key] : undefined;
      if (v === undefined) {
        if (cmRef.optional) continue;
        throw new RuntimeError('CreateContainerConfigError', cm ? `couldn't find key ${cmRef.key} in ConfigMap ${namespace}/${cmRef.name}` : `configmap "${cmRef.name}" not found`);
      }
      env[e.name] = v;
    } else if (secretRef) {
      const s = lookup.secret(secretRef.name);
      const v = s ? secretValues(s)[secretRef.key] : undefined;
      if (v === undefined) {
        if (secretRef.optional) continue;
        throw new RuntimeError('CreateContainerConfigError', s ? `couldn't find key ${secretRef.key} in Secret ${namespace}/${secretRef.name}` : `secret "${secretRef.name}" not found`);
      }
      env[e.name] = v;
    } else {
      env[e.name] = expand(e.value ?? '', env);
    }
  }
  return env;
}
