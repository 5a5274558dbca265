/**
 * Kubernetes' and KubeEdge's own OpenAPI v3 schemas for the kinds the cloud serves, taken from a real
 * kube-apiserver v1.32 with KubeEdge v1.23's CRDs by snapshot.sh (schemas.json). They drive `kubectl
 * explain` and field validation. Here they are read from the file beside this one (tests,
 * development); in a bundle, build.mjs puts in its place a module that holds them brotli-compressed,
 * unpacked on first use only (most cloudcores never serve them).
 */
import { readFileSync } from 'node:fs';

export interface Schema {
  type?: string;
  description?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  allOf?: Schema[];
  $ref?: string;
  required?: string[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-group-version-kind'?: { group: string; version: string; kind: string }[];
  [extension: string]: unknown;
}

export function schemasText(): string {
  return readFileSync(new URL('./schemas.json', import.meta.url), 'utf8');
}
