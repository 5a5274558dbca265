/**
 * Pods, ConfigMaps and Secrets, checked as Kubernetes checks the fields this runtime runs. Every
 * field it does not run is refused by name (`Checker.only`), never silently ignored.
 */
import { Checker, type Obj, type Problem } from '../check.js';
import { isObj } from '../../core/guards.js';
import { parseQuantity } from '../quantity.js';
import { PROCESS_RUNTIME_CLASS } from './types.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]{1,253}$/;
const PORT_NAME = /^(?=.*[a-z])[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** Kubernetes' limit on a ConfigMap's or Secret's data */
export const MAX_CONFIG_BYTES = 1024 * 1024;

const HOST_PATH_TYPES = ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'];
const POD_SPEC_FIELDS = ['containers', 'volumes', 'restartPolicy', 'terminationGracePeriodSeconds', 'nodeName', 'nodeSelector', 'hostNetwork', 'runtimeClassName'];
const CONTAINER_FIELDS = ['name', 'image', 'command', 'args', 'workingDir', 'env', 'envFrom', 'ports', 'resources', 'volumeMounts', 'livenessProbe', 'readinessProbe', 'imagePullPolicy'];
const PROBE_FIELDS = ['exec', 'httpGet', 'tcpSocket', 'initialDelaySeconds', 'periodSeconds', 'timeoutSeconds', 'failureThreshold', 'successThreshold'];

function named(c: Checker, o: Obj, key: string, path: string, rule: RegExp, what: string): string | undefined {
  const v = c.str(o, key, path, { required: true });
  if (v !== undefined && !rule.test(v)) c.bad(`${path}.${key}`, `${JSON.stringify(v)} is not a valid ${what}`);
  return v;
}

function keyRef(c: Checker, o: Obj | undefined, path: string): void {
  if (!o) return;
  c.only(o, path, ['name', 'key', 'optional']);
  named(c, o, 'name', path, DNS_SUBDOMAIN, 'object name');
  const key = c.str(o, 'key', path, { required: true });
  if (key !== undefined && !CONFIG_KEY.test(key)) c.bad(`${path}.key`, `${JSON.stringify(key)} is not a valid key`);
  c.bool(o, 'optional', path);
}

function quantity(c: Checker, o: Obj, key: string, path: string): void {
  const v = o[key];
  if (v === undefined || v === null) return;
  const n = parseQuantity(v);
  if (n === undefined || n <= 0) c.bad(`${path}.${key}`, `${JSON.stringify(v)} is not a positive quantity (like 64Mi or 500m)`);
}

function port(c: Checker, o: Obj, key: string, path: string, names: ReadonlySet<string>): void {
  const v = o[key];
  if (typeof v === 'number') c.num(o, key, path, { integer: true, min: 1, max: 65535 });
  else if (typeof v === 'string') {
    if (!names.has(v)) c.bad(`${path}.${key}`, `${JSON.stringify(v)} names no port of this container`);
  } else c.bad(`${path}.${key}`, v === undefined ? 'is required' : 'must be a port number or the name of a container port');
}

function probe(c: Checker, o: Obj | undefined, path: string, portNames: ReadonlySet<string>): void {
  if (!o) return;
  c.only(o, path, PROBE_FIELDS);
  const handlers = ['exec', 'httpGet', 'tcpSocket'].filter((k) => o[k] !== undefined && o[k] !== null);
  if (handlers.length !== 1) c.bad(path, 'must have exactly one of exec, httpGet, tcpSocket');
  const exec = c.obj(o, 'exec', path);
  if (exec) {
    c.only(exec, `${path}.exec`, ['command']);
    const cmd = c.strs(exec, 'command', `${path}.exec`);
    if (!cmd?.length) c.bad(`${path}.exec.command`, 'is required');
  }
  const http = c.obj(o, 'httpGet', path);
  if (http) {
    c.only(http, `${path}.httpGet`, ['path', 'port', 'host', 'scheme', 'httpHeaders']);
    c.str(http, 'path', `${path}.httpGet`);
    c.str(http, 'host', `${path}.httpGet`);
    c.str(http, 'scheme', `${path}.httpGet`, { oneOf: ['HTTP', 'HTTPS'] });
    port(c, http, 'port', `${path}.httpGet`, portNames);
    (c.list(http, 'httpHeaders', `${path}.httpGet`) ?? []).forEach((h, i) => {
      const p = `${path}.httpGet.httpHeaders[${i}]`;
      if (!isObj(h)) return c.bad(p, 'must be an object');
      c.only(h, p, ['name', 'value']);
      c.str(h, 'name', p, { required: true });
      c.str(h, 'value', p, { required: true });
    });
  }
  const tcp = c.obj(o, 'tcpSocket', path);
  if (tcp) {
    c.only(tcp, `${path}.tcpSocket`, ['port', 'host']);
    c.str(tcp, 'host', `${path}.tcpSocket`);
    port(c, tcp, 'port', `${path}.tcpSocket`, portNames);
  }
  c.num(o, 'initialDelaySeconds', path, { integer: true, min: 0 });
  c.num(o, 'periodSeconds', path, { integer: true, min: 1 });
  c.num(o, 'timeoutSeconds', path, { integer: true, min: 1 });
  c.num(o, 'failureThreshold', path, { integer: true, min: 1 });
  c.num(o, 'successThreshold', path, { integer: true, min: 1 });
}

function env(c: Checker, o: Obj, path: string): void {
  (c.list(o, 'env', path) ?? []).forEach((e, i) => {
    const p = `${path}.env[${i}]`;
    if (!isObj(e)) return c.bad(p, 'must be an object');
    c.only(e, p, ['name', 'value', 'valueFrom']);
    named(c, e, 'name', p, ENV_NAME, 'environment variable name');
    c.str(e, 'value', p);
    const from = c.obj(e, 'valueFrom', p);
    if (!from) return;
    c.only(from, `${p}.valueFrom`, ['configMapKeyRef', 'secretKeyRef']);
    const refs = ['configMapKeyRef', 'secretKeyRef'].filter((k) => from[k] !== undefined);
    if (refs.length !== 1) c.bad(`${p}.valueFrom`, 'must have exactly one of configMapKeyRef, secretKeyRef');
    keyRef(c, c.obj(from, 'configMapKeyRef', `${p}.valueFrom`), `${p}.valueFrom.configMapKeyRef`);
    keyRef(c, c.obj(from, 'secretKeyRef', `${p}.valueFrom`), `${p}.valueFrom.secretKeyRef`);
    if (e.value !== undefined) c.bad(`${p}.value`, 'may not be given with valueFrom');
  });
  (c.list(o, 'envFrom', path) ?? []).forEach((e, i) => {
    const p = `${path}.envFrom[${i}]`;
    if (!isObj(e)) return c.bad(p, 'must be an object');
    c.only(e, p, ['prefix', 'configMapRef', 'secretRef']);
    c.str(e, 'prefix', p);
    const refs = ['configMapRef', 'secretRef'].filter((k) => e[k] !== undefined);
    if (refs.length !== 1) c.bad(p, 'must have exactly one of configMapRef, secretRef');
    for (const k of refs) {
      const ref = c.obj(e, k, p);
      if (!ref) continue;
      c.only(ref, `${p}.${k}`, ['name', 'optional']);
      named(c, ref, 'name', `${p}.${k}`, DNS_SUBDOMAIN, 'object name');
      c.bool(ref, 'optional', `${p}.${k}`);
    }
  });
}

/** a container's ports; the names they give, for probes that name one */
function ports(c: Checker, o: Obj, path: string): Set<string> {
  const portNames = new Set<string>();
  (c.list(o, 'ports', path) ?? []).forEach((pt, i) => {
    const p = `${path}.ports[${i}]`;
    if (!isObj(pt)) return c.bad(p, 'must be an object');
    c.only(pt, p, ['name', 'containerPort', 'hostPort', 'hostIP', 'protocol']);
    c.num(pt, 'containerPort', p, { required: true, integer: true, min: 1, max: 65535 });
    c.num(pt, 'hostPort', p, { integer: true, min: 0, max: 65535 });
    c.str(pt, 'hostIP', p);
    c.str(pt, 'protocol', p, { oneOf: ['TCP', 'UDP'] });
    const name = c.str(pt, 'name', p);
    if (name === undefined) return;
    if (!PORT_NAME.test(name)) c.bad(`${p}.name`, `${JSON.stringify(name)} is not a valid port name (at most 15 lowercase letters, digits and -)`);
    portNames.add(name);
  });
  return portNames;
}

function resources(c: Checker, o: Obj, path: string): void {
  const res = c.obj(o, 'resources', path);
  if (!res) return;
  c.only(res, `${path}.resources`, ['limits', 'requests']);
  for (const k of ['limits', 'requests']) {
    const r = c.obj(res, k, `${path}.resources`);
    if (!r) continue;
    c.only(r, `${path}.resources.${k}`, ['memory', 'cpu']);
    quantity(c, r, 'memory', `${path}.resources.${k}`);
    quantity(c, r, 'cpu', `${path}.resources.${k}`);
  }
}

function volumeMounts(c: Checker, o: Obj, path: string, volumes: ReadonlySet<string>): void {
  const paths = new Set<string>();
  (c.list(o, 'volumeMounts', path) ?? []).forEach((m, i) => {
    const p = `${path}.volumeMounts[${i}]`;
    if (!isObj(m)) return c.bad(p, 'must be an object');
    c.only(m, p, ['name', 'mountPath', 'readOnly']);
    const name = c.str(m, 'name', p, { required: true });
    if (name !== undefined && !volumes.has(name)) c.bad(`${p}.name`, `${JSON.stringify(name)} is not a volume of this pod`);
    const mp = c.str(m, 'mountPath', p, { required: true });
    if (mp !== undefined) {
      if (!mp.startsWith('/') || mp.split('/').includes('..') || mp.includes(':')) c.bad(`${p}.mountPath`, 'must be an absolute path without ".." or ":"');
      if (paths.has(mp)) c.bad(`${p}.mountPath`, `${mp} is mounted twice`);
      paths.add(mp);
    }
    c.bool(m, 'readOnly', p);
  });
}

function container(c: Checker, o: Obj, path: string, volumes: ReadonlySet<string>, processRuntime: boolean): void {
  c.only(o, path, CONTAINER_FIELDS);
  named(c, o, 'name', path, DNS_LABEL, 'container name (a DNS label)');
  const image = c.str(o, 'image', path, { required: true });
  if (image === '') c.bad(`${path}.image`, 'is required');
  const command = c.strs(o, 'command', path);
  c.strs(o, 'args', path);
  if (processRuntime && !command?.length) c.bad(`${path}.command`, `is required with runtimeClassName: ${PROCESS_RUNTIME_CLASS} (a process has no image entrypoint)`);
  c.str(o, 'workingDir', path);
  c.str(o, 'imagePullPolicy', path, { oneOf: ['Always', 'IfNotPresent', 'Never'] });
  env(c, o, path);
  const portNames = ports(c, o, path);
  resources(c, o, path);
  volumeMounts(c, o, path, volumes);
  probe(c, c.obj(o, 'livenessProbe', path), `${path}.livenessProbe`, portNames);
  probe(c, c.obj(o, 'readinessProbe', path), `${path}.readinessProbe`, portNames);
}

function items(c: Checker, o: Obj, path: string): void {
  (c.list(o, 'items', path) ?? []).forEach((it, i) => {
    const p = `${path}.items[${i}]`;
    if (!isObj(it)) return c.bad(p, 'must be an object');
    c.only(it, p, ['key', 'path', 'mode']);
    c.str(it, 'key', p, { required: true });
    const rel = c.str(it, 'path', p, { required: true });
    if (rel !== undefined && (rel === '' || rel.startsWith('/') || rel.split('/').includes('..'))) c.bad(`${p}.path`, 'must be a relative path without ".."');
    c.num(it, 'mode', p, { integer: true, min: 0, max: 0o777 });
  });
}

function volume(c: Checker, o: Obj, path: string): void {
  c.only(o, path, ['name', 'configMap', 'secret', 'emptyDir', 'hostPath']);
  named(c, o, 'name', path, DNS_LABEL, 'volume name (a DNS label)');
  const sources = ['configMap', 'secret', 'emptyDir', 'hostPath'].filter((k) => o[k] !== undefined && o[k] !== null);
  if (sources.length !== 1) c.bad(path, 'must have exactly one of configMap, secret, emptyDir, hostPath');
  const cm = c.obj(o, 'configMap', path);
  if (cm) {
    c.only(cm, `${path}.configMap`, ['name', 'items', 'defaultMode', 'optional']);
    named(c, cm, 'name', `${path}.configMap`, DNS_SUBDOMAIN, 'ConfigMap name');
    items(c, cm, `${path}.configMap`);
    c.num(cm, 'defaultMode', `${path}.configMap`, { integer: true, min: 0, max: 0o777 });
    c.bool(cm, 'optional', `${path}.configMap`);
  }
  const secret = c.obj(o, 'secret', path);
  if (secret) {
    c.only(secret, `${path}.secret`, ['secretName', 'items', 'defaultMode', 'optional']);
    named(c, secret, 'secretName', `${path}.secret`, DNS_SUBDOMAIN, 'Secret name');
    items(c, secret, `${path}.secret`);
    c.num(secret, 'defaultMode', `${path}.secret`, { integer: true, min: 0, max: 0o777 });
    c.bool(secret, 'optional', `${path}.secret`);
  }
  const empty = c.obj(o, 'emptyDir', path);
  if (empty) {
    c.only(empty, `${path}.emptyDir`, ['medium', 'sizeLimit']);
    c.str(empty, 'medium', `${path}.emptyDir`, { oneOf: ['', 'Memory'] });
    quantity(c, empty, 'sizeLimit', `${path}.emptyDir`);
  }
  const host = c.obj(o, 'hostPath', path);
  if (host) {
    c.only(host, `${path}.hostPath`, ['path', 'type']);
    const hp = c.str(host, 'path', `${path}.hostPath`, { required: true });
    if (hp !== undefined && !hp.startsWith('/')) c.bad(`${path}.hostPath.path`, 'must be an absolute path');
    c.str(host, 'type', `${path}.hostPath`, { oneOf: HOST_PATH_TYPES });
  }
}

export function checkPodSpec(spec: Obj): Problem[] {
  const c = new Checker();
  c.only(spec, 'spec', POD_SPEC_FIELDS);
  const runtimeClass = c.str(spec, 'runtimeClassName', 'spec');
  if (runtimeClass !== undefined && runtimeClass !== PROCESS_RUNTIME_CLASS) {
    c.bad('spec.runtimeClassName', `must be ${JSON.stringify(PROCESS_RUNTIME_CLASS)} (host processes) or left out (the node's container runtime), not ${JSON.stringify(runtimeClass)}`);
  }
  const volumes = new Set<string>();
  (c.list(spec, 'volumes', 'spec') ?? []).forEach((v, i) => {
    if (!isObj(v)) return c.bad(`spec.volumes[${i}]`, 'must be an object');
    volume(c, v, `spec.volumes[${i}]`);
    if (typeof v.name === 'string') {
      if (volumes.has(v.name)) c.bad(`spec.volumes[${i}].name`, `${JSON.stringify(v.name)} is declared twice`);
      volumes.add(v.name);
    }
  });
  const containers = c.list(spec, 'containers', 'spec', true);
  if (containers?.length === 0) c.bad('spec.containers', 'must have at least one container');
  const names = new Set<string>();
  (containers ?? []).forEach((ct, i) => {
    if (!isObj(ct)) return c.bad(`spec.containers[${i}]`, 'must be an object');
    container(c, ct, `spec.containers[${i}]`, volumes, runtimeClass === PROCESS_RUNTIME_CLASS);
    if (typeof ct.name === 'string') {
      if (names.has(ct.name)) c.bad(`spec.containers[${i}].name`, `${JSON.stringify(ct.name)} is declared twice`);
      names.add(ct.name);
    }
  });
  c.str(spec, 'restartPolicy', 'spec', { oneOf: ['Always', 'OnFailure', 'Never'] });
  c.num(spec, 'terminationGracePeriodSeconds', 'spec', { integer: true, min: 0 });
  const node = c.str(spec, 'nodeName', 'spec');
  if (node !== undefined && node !== '' && !DNS_SUBDOMAIN.test(node)) c.bad('spec.nodeName', `${JSON.stringify(node)} is not a valid node name`);
  c.strMap(spec, 'nodeSelector', 'spec');
  c.bool(spec, 'hostNetwork', 'spec');
  return c.problems;
}

/** ConfigMap and Secret bodies; a Secret's `stringData` is folded into `data` (base64), as Kubernetes does. */
export function checkConfigData(kind: 'configmap' | 'secret', body: Obj): Problem[] {
  const c = new Checker();
  c.only(body, '', kind === 'configmap' ? ['apiVersion', 'kind', 'metadata', 'data', 'binaryData', 'immutable'] : ['apiVersion', 'kind', 'metadata', 'data', 'stringData', 'type', 'immutable']);
  c.bool(body, 'immutable', '');
  const seen = new Set<string>();
  let bytes = 0;
  const keys = (field: string, base64: boolean): void => {
    const m = c.strMap(body, field, '');
    for (const [k, v] of Object.entries(m ?? {})) {
      if (!CONFIG_KEY.test(k)) c.bad(`${field}.${k}`, 'is not a valid key (letters, digits, "-", "_", ".")');
      if (seen.has(k) && field !== 'stringData') c.bad(`${field}.${k}`, 'is in both data and binaryData');
      seen.add(k);
      if (typeof v !== 'string') continue;
      if (base64 && !BASE64.test(v)) c.bad(`${field}.${k}`, 'is not base64');
      bytes += base64 ? Math.floor((v.length * 3) / 4) : Buffer.byteLength(v);
    }
  };
  keys('data', kind === 'secret');
  keys(kind === 'configmap' ? 'binaryData' : 'stringData', kind === 'configmap');
  if (kind === 'secret') c.str(body, 'type', '');
  if (bytes > MAX_CONFIG_BYTES) c.bad('data', `holds ${bytes} bytes, over the ${MAX_CONFIG_BYTES}-byte limit`);
  return c.problems.map((p) => ({ ...p, field: p.field.replace(/^\./, '') }));
}

/** A Secret as it is stored: `stringData` folded into base64 `data`. */
export function normalizeSecret(body: Obj): Obj {
  const { stringData, ...rest } = body;
  if (!isObj(stringData)) return rest;
  const data: Record<string, string> = { ...((isObj(rest.data) ? rest.data : {}) as Record<string, string>) };
  for (const [k, v] of Object.entries(stringData)) data[k] = Buffer.from(String(v)).toString('base64');
  return { ...rest, data, type: rest.type ?? 'Opaque' };
}
