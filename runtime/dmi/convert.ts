/**
 * Devices and models as DMI messages, as KubeEdge's dtcommon.ConvertDevice/ConvertDeviceModel
 * make them (seen from KubeEdge 1.23's edgecore): configData values wrapped in google.protobuf.Any
 * (a string as StringValue, any number as FloatValue, a boolean as BoolValue), the twin's desired
 * value (the cloud's latest) in each property's `desired`, and an empty `desired` and `status` where
 * there is none. One difference: `reportToCloud` left out of the Device is sent as true, this
 * edge's default (KubeEdge sends Go's zero value, false, and mapper-framework then keeps the values).
 */
import { toAny, type AnyMsg, type DeviceModelMsg, type DeviceMsg } from '../../api/dmi/messages.js';
import type { ConfigData, DeviceModelSpec, DeviceProperty, DeviceSpec } from '../../api/devices/types.js';
import type { DeviceRecord } from '../devicetwin/twin.js';

/** configData as KubeEdge's CustomizedValue: flat here, under `data` in a manifest written for KubeEdge */
function customized(cfg: ConfigData | undefined): { data: Record<string, AnyMsg> } {
  const flat = cfg && typeof cfg.data === 'object' && cfg.data !== null && Object.keys(cfg).length === 1 ? (cfg.data as ConfigData) : (cfg ?? {});
  return { data: Object.fromEntries(Object.entries(flat).map(([k, v]) => [k, toAny(v)])) };
}

/** the proto's PushMethod: its field names are lower case where the CRD's are not */
function pushMethodMsg(p: NonNullable<DeviceProperty['pushMethod']>): Record<string, unknown> {
  const { http, mqtt } = p;
  return {
    ...(http ? { http: { hostname: http.hostName ?? '', port: http.port ?? 0, requestpath: http.requestPath ?? '', timeout: http.timeout ?? 0 } } : {}),
    ...(mqtt ? { mqtt: { address: mqtt.address ?? '', topic: mqtt.topic ?? '', qos: mqtt.qos ?? 0, retained: mqtt.retained ?? false } } : {}),
  };
}

export function deviceMsg(id: string, spec: DeviceSpec, twin: DeviceRecord | undefined): DeviceMsg {
  const [namespace, name] = id.split('/') as [string, string];
  const protocolName = spec.protocol?.protocolName ?? '';
  return {
    name,
    namespace,
    spec: {
      deviceModelReference: spec.deviceModelRef.name,
      protocol: { protocolName, configData: customized(spec.protocol?.configData) },
      properties: (spec.properties ?? []).map((p) => {
        const t = twin?.twins[p.name];
        const desired = t?.expected?.value ?? p.desired?.value;
        return {
          name: p.name,
          desired: desired === undefined ? { value: '' } : { value: desired, metadata: { ...(t ? { type: t.metadata.type } : {}), ...(t?.expected ? { timestamp: String(t.expected.metadata.timestamp) } : {}) } },
          ...(p.visitors ? { visitors: { protocolName: p.visitors.protocolName ?? protocolName, configData: customized(p.visitors.configData) } } : {}),
          reportCycle: p.reportCycle ?? 0,
          collectCycle: p.collectCycle ?? 0,
          reportToCloud: p.reportToCloud ?? true,
          ...(p.pushMethod ? { pushMethod: pushMethodMsg(p.pushMethod) } : {}),
        };
      }),
    },
    status: { twins: [] },
  };
}

export function modelMsg(id: string, spec: DeviceModelSpec): DeviceModelMsg {
  const [namespace, name] = id.split('/') as [string, string];
  return { name, namespace, spec: { properties: spec.properties.map((p) => ({ name: p.name, type: p.type, accessMode: p.accessMode, ...(p.minimum !== undefined ? { minimum: p.minimum } : {}), ...(p.maximum !== undefined ? { maximum: p.maximum } : {}), ...(p.unit !== undefined ? { unit: p.unit } : {}) })) } };
}
