/**
 * Every resource's check, with the message a user sees: the API's 422 and a standalone edge's log
 * line both come from describeProblems. Each row breaks one valid manifest in one way.
 */
import { describe, expect, it } from 'vitest';
import { checkManifest, describeProblems, type ManifestKind } from '../../../api/manifest.js';

type Obj = Record<string, unknown>;
const clone = <T>(o: T): T => structuredClone(o);

/** sets `path` (dot and [i] separated) in a copy of `o`; undefined removes it */
function withField(o: Obj, path: string, value: unknown): Obj {
  const out = clone(o);
  const keys = path.replace(/\[(\d+)\]/g, '.$1').split('.');
  let at: Record<string, unknown> = out;
  for (const k of keys.slice(0, -1)) at = at[k] as Record<string, unknown>;
  const last = keys.at(-1) as string;
  if (value === undefined) delete at[last];
  else at[last] = value;
  return out;
}

/** every kind a user applies (DeviceStatus is read only: it shows what edges report) */
type Applied = Exclude<ManifestKind, 'devicestatus'>;
const VALID: Record<Applied, Obj> = {
  devicemodel: { apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'DeviceModel', metadata: { name: 'thermostat-model' }, spec: { protocol: 'modbus', properties: [{ name: 'temperature', type: 'FLOAT', accessMode: 'ReadOnly' }, { name: 'setpoint', type: 'FLOAT', accessMode: 'ReadWrite', minimum: '5', maximum: '30' }] } },
  device: {
    apiVersion: 'devices.kubeedge.io/v1beta1', kind: 'Device', metadata: { name: 'thermostat', namespace: 'default' },
    spec: {
      deviceModelRef: { name: 'thermostat-model' }, nodeName: 'gw-1',
      protocol: { protocolName: 'modbus', configData: { ip: '10.0.0.5', port: 502, slaveID: 1 } },
      properties: [{ name: 'temperature', collectCycle: 1000, reportCycle: 5000, visitors: { protocolName: 'modbus', configData: { register: 'InputRegister', offset: 0, dataType: 'int16', scale: 0.1 } } }],
    },
  },
  pod: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'logger' }, spec: { runtimeClassName: 'process', containers: [{ name: 'app', image: 'host', command: ['/bin/sh', '-c', 'sleep 1000'], volumeMounts: [{ name: 'cfg', mountPath: '/cfg' }], resources: { limits: { memory: '64Mi' } } }], volumes: [{ name: 'cfg', configMap: { name: 'settings' } }] } },
  configmap: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' }, data: { 'level.txt': 'info' } },
  secret: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds' }, stringData: { password: 'p' } },
  node: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'gw-1', labels: { zone: 'hall' } } },
  ruleendpoint: { apiVersion: 'rules.kubeedge.io/v1', kind: 'RuleEndpoint', metadata: { name: 'backend' }, spec: { ruleEndpointType: 'rest', properties: {} } },
  rule: { apiVersion: 'rules.kubeedge.io/v1', kind: 'Rule', metadata: { name: 'readings' }, spec: { source: 'bus', sourceResource: { topic: 'readings', node_name: 'gw-1' }, target: 'backend', targetResource: { resource: 'http://10.0.0.9/in' } } },
};

const message = (kind: Applied, body: Obj): string => {
  const { problems } = checkManifest(kind, body, { namespace: 'default', endpointType: (n) => (n === 'bus' ? 'eventbus' : n === 'backend' ? 'rest' : undefined) });
  return problems.length ? describeProblems(kind, body, problems) : 'valid';
};

describe('a valid manifest of every kind passes', () => {
  it.each(Object.keys(VALID) as Applied[])('%s', (kind) => {
    expect(message(kind, VALID[kind])).toBe('valid');
  });
});

describe('every kind: what the API and the edge say of a broken manifest', () => {
  it.each<[Applied, string, unknown, string]>([
    // what every kind shares
    ['device', 'apiVersion', 'devices.kubeedge.io/v1alpha2', 'Device "thermostat" is invalid: apiVersion: must be devices.kubeedge.io/v1beta1'],
    ['pod', 'kind', 'Deployment', 'Pod "logger" is invalid: kind: must be Pod'],
    ['configmap', 'metadata.name', 'Settings_1', 'ConfigMap "Settings_1" is invalid: metadata.name: must be a DNS subdomain: lowercase letters, digits, "-" and ".", starting and ending with a letter or digit, at most 253'],
    ['device', 'metadata.namespace', 'plant', 'Device "thermostat" is invalid: metadata.namespace: does not match the namespace in the URL (default)'],
    ['node', 'metadata', undefined, 'Node "" is invalid: metadata: is required'],
    // DeviceModel
    ['devicemodel', 'spec.properties', [], 'DeviceModel "thermostat-model" is invalid: spec.properties: must declare at least one property'],
    ['devicemodel', 'spec.properties[0].type', 'DECIMAL', 'DeviceModel "thermostat-model" is invalid: spec.properties[0].type: must be one of INT, FLOAT, DOUBLE, STRING, BOOLEAN, BYTES, STREAM, not "DECIMAL"'],
    ['devicemodel', 'spec.properties[1].accessMode', undefined, 'DeviceModel "thermostat-model" is invalid: spec.properties[1].accessMode: is required'],
    ['devicemodel', 'spec.properties[1].name', 'temperature', 'DeviceModel "thermostat-model" is invalid: spec.properties[1].name: "temperature" is declared twice'],
    // Device
    ['device', 'spec.deviceModelRef', undefined, 'Device "thermostat" is invalid: spec.deviceModelRef: is required'],
    ['device', 'spec.protocol.configData.port', 70000, 'Device "thermostat" is invalid: spec.protocol.configData.port: must be at most 65535, not 70000'],
    ['device', 'spec.protocol.configData.ip', undefined, 'Device "thermostat" is invalid: spec.protocol.configData.ip: is required'],
    ['device', 'spec.properties[0].visitors.configData.register', 'Holding', 'Device "thermostat" is invalid: spec.properties[0].visitors.configData.register: must be one of CoilRegister, DiscreteInputRegister, HoldingRegister, InputRegister, not "Holding"'],
    ['device', 'spec.properties[0].visitors.configData.offset', -1, 'Device "thermostat" is invalid: spec.properties[0].visitors.configData.offset: must be at least 0, not -1'],
    ['device', 'spec.properties[0].visitors.protocolName', 'gpio', 'Device "thermostat" is invalid: spec.properties[0].visitors.protocolName: must be the device\'s protocol "modbus", not "gpio"; spec.properties[0].visitors.configData.pin: is required; spec.properties[0].visitors.configData.direction: is required'],
    ['device', 'spec.properties[0].collectCycle', 1.5, 'Device "thermostat" is invalid: spec.properties[0].collectCycle: must be a whole number, not 1.5'],
    // Pod
    ['pod', 'spec.containers', [], 'Pod "logger" is invalid: spec.containers: must have at least one container'],
    ['pod', 'spec.runtimeClassName', 'kata', 'Pod "logger" is invalid: spec.runtimeClassName: must be "process" (host processes) or left out (the node\'s container runtime), not "kata"'],
    ['pod', 'spec.restartPolicy', 'Sometimes', 'Pod "logger" is invalid: spec.restartPolicy: must be one of Always, OnFailure, Never, not "Sometimes"'],
    ['pod', 'spec.volumes[0].configMap.name', 'Bad_Name', 'Pod "logger" is invalid: spec.volumes[0].configMap.name: "Bad_Name" is not a valid ConfigMap name'],
    ['pod', 'spec.containers[0].resources.limits.memory', 'lots', 'Pod "logger" is invalid: spec.containers[0].resources.limits.memory: "lots" is not a positive quantity (like 64Mi or 500m)'],
    // ConfigMap and Secret
    ['configmap', 'data', { 'bad key!': 'x' }, 'ConfigMap "settings" is invalid: data.bad key!: is not a valid key (letters, digits, "-", "_", ".")'],
    ['configmap', 'data', { big: 'x'.repeat(1024 * 1024 + 1) }, 'ConfigMap "settings" is invalid: data: holds 1048577 bytes, over the 1048576-byte limit'],
    ['secret', 'data', { password: 'not base64!' }, 'Secret "creds" is invalid: data.password: is not base64'],
    // RuleEndpoint and Rule
    ['ruleendpoint', 'spec.ruleEndpointType', 'kafka', 'RuleEndpoint "backend" is invalid: spec.ruleEndpointType: must be one of rest, eventbus, servicebus, not "kafka"'],
    ['ruleendpoint', 'spec', { ruleEndpointType: 'servicebus', properties: {} }, 'RuleEndpoint "backend" is invalid: spec.properties.service_port: is required for a servicebus endpoint: the port of the edge app it calls'],
    ['rule', 'spec.targetResource.resource', 'ftp://x', 'Rule "readings" is invalid: spec.targetResource.resource: "ftp://x" is not an http(s) URL'],
    ['rule', 'spec.sourceResource.topic', 'readings/#', 'Rule "readings" is invalid: spec.sourceResource.topic: "readings/#" is not an MQTT topic without wildcards'],
    ['rule', 'spec.source', 'backend', 'Rule "readings" is invalid: spec.target: a rest source cannot go to a rest target: the router runs rest→eventbus, eventbus→rest, rest→servicebus, servicebus→rest; spec.sourceResource.path: is required for a rest source'],
  ])('%s with %s = %j', (kind, path, value, want) => {
    expect(message(kind, withField(VALID[kind], path, value))).toBe(want);
  });

  it('a Secret is stored with its stringData folded into base64 data', () => {
    expect(checkManifest('secret', VALID.secret).object).toMatchObject({ data: { password: Buffer.from('p').toString('base64') }, type: 'Opaque' });
    expect(checkManifest('secret', VALID.secret).object).not.toHaveProperty('stringData');
  });

  it('a body that is not an object is refused as a whole', () => {
    expect(message('pod', [] as unknown as Obj)).toBe('Pod "" is invalid: must be an object');
  });
});
