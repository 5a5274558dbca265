/**
 * Device and DeviceModel specs, checked as KubeEdge's v1beta1 CRDs describe them (the fields, types
 * and enums of shared/spec/kubeedge-crds), plus the protocols this runtime drives and their
 * configData keys (CONTRACT.md section 5). Each problem names its field path.
 */
import { isObj } from '../../core/guards.js';
import { Checker, type Obj, type Problem } from '../check.js';
/** property names become twin keys, so they follow KubeEdge's twin key rule */
const PROPERTY_NAME = /^[a-zA-Z0-9-_.,:/@#]{1,128}$/;
export const PROPERTY_TYPES = ['INT', 'FLOAT', 'DOUBLE', 'STRING', 'BOOLEAN', 'BYTES', 'STREAM'] as const;
export const ACCESS_MODES = ['ReadWrite', 'ReadOnly'] as const;
export const PROTOCOLS = ['modbus', 'serial', 'gpio'] as const;
const REGISTERS = ['CoilRegister', 'DiscreteInputRegister', 'HoldingRegister', 'InputRegister'];
const MODBUS_TYPES = ['int16', 'uint16', 'int32', 'uint32', 'float32', 'float64', 'boolean', 'string'];
const SERIAL_TYPES = ['int', 'float', 'boolean', 'string'];
const PARITY = ['none', 'even', 'odd', 'mark', 'space'];

/** the keys each protocol's driver reads from `spec.protocol.configData` (the checks below, one by one) */
export const PROTOCOL_CONFIG_KEYS: Record<Protocol, readonly string[]> = {
  modbus: ['ip', 'port', 'serialPort', 'baudRate', 'dataBits', 'parity', 'stopBits', 'slaveID', 'timeout'],
  serial: ['serialPort', 'baudRate', 'dataBits', 'parity', 'stopBits', 'timeout'],
  gpio: ['chip'],
};
/** the keys each protocol's driver reads from a property's `visitors.configData` */
export const VISITOR_CONFIG_KEYS: Record<Protocol, readonly string[]> = {
  modbus: ['register', 'offset', 'limit', 'scale', 'isSwap', 'isRegisterSwap', 'dataType'],
  serial: ['command', 'writeCommand', 'delimiter', 'pattern', 'dataType', 'scale'],
  gpio: ['pin', 'direction', 'edge', 'activeLow', 'debounceMs'],
};
export type Protocol = (typeof PROTOCOLS)[number];
const isProtocol = (p: unknown): p is Protocol => (PROTOCOLS as readonly unknown[]).includes(p);

/**
 * A Device spec's configData objects with the keys their driver reads: KubeEdge's CRD keeps any key
 * there, so a misspelt one (`slaveId`) would be stored and never read; field validation names them.
 */
export function deviceConfigData(spec: Obj): { path: string; config: Obj; keys: readonly string[] }[] {
  const out: { path: string; config: Obj; keys: readonly string[] }[] = [];
  const protocol = isObj(spec.protocol) ? spec.protocol : undefined;
  const protocolName = protocol?.protocolName;
  if (protocol && isProtocol(protocolName) && isObj(protocol.configData)) out.push({ path: 'spec.protocol.configData', config: protocol.configData, keys: PROTOCOL_CONFIG_KEYS[protocolName] });
  if (!Array.isArray(spec.properties)) return out;
  spec.properties.forEach((p: unknown, i) => {
    const visitors = isObj(p) && isObj(p.visitors) ? p.visitors : undefined;
    const name = visitors?.protocolName ?? protocolName;
    if (visitors && isProtocol(name) && isObj(visitors.configData)) out.push({ path: `spec.properties[${i}].visitors.configData`, config: visitors.configData, keys: VISITOR_CONFIG_KEYS[name] });
  });
  return out;
}

function protocolConfig(c: Checker, protocol: string, cfg: Obj, path: string): void {
  switch (protocol) {
    case 'modbus':
      if (cfg.serialPort !== undefined) {
        c.str(cfg, 'serialPort', path, { required: true });
        c.num(cfg, 'baudRate', path, { integer: true, min: 1 });
        c.num(cfg, 'dataBits', path, { integer: true, min: 5, max: 8 });
        c.str(cfg, 'parity', path, { oneOf: PARITY });
        c.num(cfg, 'stopBits', path, { integer: true, min: 1, max: 2 });
      } else {
        c.str(cfg, 'ip', path, { required: true });
        c.num(cfg, 'port', path, { integer: true, min: 1, max: 65535 });
      }
      c.num(cfg, 'slaveID', path, { integer: true, min: 0, max: 255 });
      c.num(cfg, 'timeout', path, { integer: true, min: 1 });
      return;
    case 'serial':
      c.str(cfg, 'serialPort', path, { required: true });
      c.num(cfg, 'baudRate', path, { integer: true, min: 1 });
      c.num(cfg, 'dataBits', path, { integer: true, min: 5, max: 8 });
      c.str(cfg, 'parity', path, { oneOf: PARITY });
      c.num(cfg, 'stopBits', path, { integer: true, min: 1, max: 2 });
      c.num(cfg, 'timeout', path, { integer: true, min: 1 });
      return;
    case 'gpio':
      c.str(cfg, 'chip', path);
      return;
  }
}

function visitorConfig(c: Checker, protocol: string, cfg: Obj, path: string): void {
  switch (protocol) {
    case 'modbus':
      c.str(cfg, 'register', path, { required: true, oneOf: REGISTERS });
      c.num(cfg, 'offset', path, { required: true, integer: true, min: 0, max: 65535 });
      c.num(cfg, 'limit', path, { integer: true, min: 1, max: 125 });
      c.num(cfg, 'scale', path);
      c.bool(cfg, 'isSwap', path);
      c.bool(cfg, 'isRegisterSwap', path);
      c.str(cfg, 'dataType', path, { oneOf: MODBUS_TYPES });
      return;
    case 'serial': {
      c.str(cfg, 'command', path);
      c.str(cfg, 'writeCommand', path);
      c.str(cfg, 'delimiter', path);
      const pattern = c.str(cfg, 'pattern', path);
      if (pattern !== undefined) {
        try {
          new RegExp(pattern);
        } catch (err) {
          c.bad(`${path}.pattern`, `is not a regular expression: ${(err as Error).message}`);
        }
      }
      c.str(cfg, 'dataType', path, { oneOf: SERIAL_TYPES });
      c.num(cfg, 'scale', path);
      return;
    }
    case 'gpio':
      c.num(cfg, 'pin', path, { required: true, integer: true, min: 0, max: 1023 });
      c.str(cfg, 'direction', path, { required: true, oneOf: ['in', 'out'] });
      c.str(cfg, 'edge', path, { oneOf: ['none', 'rising', 'falling', 'both'] });
      c.bool(cfg, 'activeLow', path);
      c.num(cfg, 'debounceMs', path, { min: 0 });
      return;
  }
}

const MQTT_ADDRESS = /^(tcp|mqtt|ssl|tls|mqtts|tcps):\/\/([^/@]+@)?([^:/@]+|\[[^\]]+\]):\d+\/?$/;

/** a property's pushMethod: mqtt and http as KubeEdge's mapper-framework takes them; the others are refused by name */
function pushMethod(c: Checker, p: Obj, path: string): void {
  const push = c.obj(p, 'pushMethod', path);
  if (!push) return;
  const pp = `${path}.pushMethod`;
  const http = c.obj(push, 'http', pp);
  if (http) {
    c.str(http, 'hostName', `${pp}.http`, { required: true });
    c.num(http, 'port', `${pp}.http`, { integer: true, min: 1, max: 65535 });
    c.str(http, 'requestPath', `${pp}.http`);
    c.num(http, 'timeout', `${pp}.http`, { integer: true, min: 0 });
  }
  const mqtt = c.obj(push, 'mqtt', pp);
  if (mqtt) {
    const address = c.str(mqtt, 'address', `${pp}.mqtt`, { required: true });
    if (address !== undefined && !MQTT_ADDRESS.test(address)) c.bad(`${pp}.mqtt.address`, 'must be tcp://HOST:PORT, or ssl://HOST:PORT for TLS (user:password@ before HOST for credentials)');
    c.str(mqtt, 'topic', `${pp}.mqtt`, { required: true });
    c.num(mqtt, 'qos', `${pp}.mqtt`, { integer: true, min: 0, max: 2 });
    c.bool(mqtt, 'retained', `${pp}.mqtt`);
  }
  for (const k of ['dbMethod', 'otel', 'anomalyDetection']) {
    if (push[k] === undefined) continue;
    const backends = k === 'dbMethod' && isObj(push[k]) && Object.keys(push[k]).length > 0 ? Object.keys(push[k]).map((b) => `${pp}.dbMethod.${b}`) : [`${pp}.${k}`];
    for (const field of backends) c.bad(field, 'is not implemented by this edge: pushMethod takes mqtt and http');
  }
}

function uniqueNames(c: Checker, items: unknown[], path: string): Obj[] {
  const seen = new Set<string>();
  const out: Obj[] = [];
  items.forEach((item, i) => {
    const p = `${path}[${i}]`;
    if (!isObj(item)) return c.bad(p, 'must be an object');
    const name = c.str(item, 'name', p, { required: true });
    if (name !== undefined && !PROPERTY_NAME.test(name)) c.bad(`${p}.name`, 'must be 1–128 of a-z A-Z 0-9 - _ . , : / @ #');
    if (name !== undefined && seen.has(name)) c.bad(`${p}.name`, `${JSON.stringify(name)} is declared twice`);
    if (name !== undefined) seen.add(name);
    out.push(item);
  });
  return out;
}


export function checkDeviceModelSpec(spec: Obj): Problem[] {
  const c = new Checker();
  const props = c.list(spec, 'properties', 'spec', true);
  if (props && props.length === 0) c.bad('spec.properties', 'must declare at least one property');
  c.str(spec, 'protocol', 'spec');
  uniqueNames(c, props ?? [], 'spec.properties').forEach((p, i) => {
    const path = `spec.properties[${i}]`;
    c.str(p, 'type', path, { required: true, oneOf: PROPERTY_TYPES });
    c.str(p, 'accessMode', path, { required: true, oneOf: ACCESS_MODES });
    for (const k of ['minimum', 'maximum', 'unit', 'description']) c.str(p, k, path);
  });
  return c.problems;
}

/** `modelProperties`: the property names of the referenced model, when it exists. */
export function checkDeviceSpec(spec: Obj, modelProperties?: ReadonlySet<string>): Problem[] {
  const c = new Checker();
  const ref = c.obj(spec, 'deviceModelRef', 'spec', true);
  if (ref) c.str(ref, 'name', 'spec.deviceModelRef', { required: true });
  c.str(spec, 'nodeName', 'spec');
  const protocol = c.obj(spec, 'protocol', 'spec');
  let protocolName: string | undefined;
  if (protocol) {
    // any protocol, as KubeEdge's CRD: one without a driver here is a mapper's, and its configData the mapper's to judge
    protocolName = c.str(protocol, 'protocolName', 'spec.protocol', { required: true });
    const cfg = c.obj(protocol, 'configData', 'spec.protocol');
    if (cfg && protocolName && (PROTOCOLS as readonly string[]).includes(protocolName)) protocolConfig(c, protocolName, cfg, 'spec.protocol.configData');
  }
  uniqueNames(c, c.list(spec, 'properties', 'spec') ?? [], 'spec.properties').forEach((p, i) => {
    const path = `spec.properties[${i}]`;
    const name = typeof p.name === 'string' ? p.name : undefined;
    if (name !== undefined && modelProperties && !modelProperties.has(name)) c.bad(`${path}.name`, `${JSON.stringify(name)} is not a property of the device's model`);
    const desired = c.obj(p, 'desired', path);
    if (desired) c.str(desired, 'value', `${path}.desired`);
    c.num(p, 'collectCycle', path, { integer: true, min: 0 });
    c.num(p, 'reportCycle', path, { integer: true, min: 0 });
    c.bool(p, 'reportToCloud', path);
    pushMethod(c, p, path);
    const visitors = c.obj(p, 'visitors', path);
    if (visitors) {
      const vp = c.str(visitors, 'protocolName', `${path}.visitors`);
      if (vp !== undefined && protocolName !== undefined && vp !== protocolName) c.bad(`${path}.visitors.protocolName`, `must be the device's protocol ${JSON.stringify(protocolName)}, not ${JSON.stringify(vp)}`);
      const cfg = c.obj(visitors, 'configData', `${path}.visitors`);
      const proto = vp ?? protocolName;
      if (cfg && proto && (PROTOCOLS as readonly string[]).includes(proto)) visitorConfig(c, proto, cfg, `${path}.visitors.configData`);
    }
  });
  return c.problems;
}
