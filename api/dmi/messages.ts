/**
 * KubeEdge's Device Management Interface (DMI) v1beta1, the messages of `v1beta1/api.proto` as
 * tables for core/protobuf.ts: what edgecore and a mapper say to each other over gRPC. Field
 * numbers and names are the proto's; only the messages the two services use are here.
 */
import { decode, encode, schema, type Schema } from '../../core/protobuf.js';

const s = 'string' as const;

/** google.protobuf.Any, and the wrappers KubeEdge puts in it for configData values */
export const Any = schema({ no: 1, name: 'type_url', kind: s }, { no: 2, name: 'value', kind: 'bytes' });
export const StringValue = schema({ no: 1, name: 'value', kind: s });
export const DoubleValue = schema({ no: 1, name: 'value', kind: 'double' });
export const FloatValue = schema({ no: 1, name: 'value', kind: 'float' });
export const Int64Value = schema({ no: 1, name: 'value', kind: 'int64' });
export const Int32Value = schema({ no: 1, name: 'value', kind: 'int32' });
export const BoolValue = schema({ no: 1, name: 'value', kind: 'bool' });

const CustomizedValue = schema({ no: 1, name: 'data', kind: { map: Any } });
const ProtocolConfig = schema({ no: 1, name: 'protocolName', kind: s }, { no: 2, name: 'configData', kind: CustomizedValue });
const TwinProperty = schema({ no: 1, name: 'value', kind: s }, { no: 2, name: 'metadata', kind: { map: s } });
const PushMethodHTTP = schema({ no: 1, name: 'hostname', kind: s }, { no: 2, name: 'port', kind: 'int64' }, { no: 3, name: 'requestpath', kind: s }, { no: 4, name: 'timeout', kind: 'int64' });
const PushMethodMQTT = schema({ no: 1, name: 'address', kind: s }, { no: 2, name: 'topic', kind: s }, { no: 3, name: 'qos', kind: 'int32' }, { no: 4, name: 'retained', kind: 'bool' });
const PushMethod = schema({ no: 1, name: 'http', kind: PushMethodHTTP }, { no: 2, name: 'mqtt', kind: PushMethodMQTT });
const DeviceProperty = schema(
  { no: 1, name: 'name', kind: s },
  { no: 2, name: 'desired', kind: TwinProperty },
  { no: 3, name: 'visitors', kind: ProtocolConfig }, // VisitorConfig: the same two fields
  { no: 4, name: 'reportCycle', kind: 'int64' },
  { no: 5, name: 'collectCycle', kind: 'int64' },
  { no: 6, name: 'reportToCloud', kind: 'bool' },
  { no: 7, name: 'pushMethod', kind: PushMethod },
);
const DeviceSpec = schema({ no: 1, name: 'deviceModelReference', kind: s }, { no: 2, name: 'protocol', kind: ProtocolConfig }, { no: 3, name: 'properties', kind: DeviceProperty, repeated: true });
const Twin = schema({ no: 1, name: 'propertyName', kind: s }, { no: 2, name: 'observedDesired', kind: TwinProperty }, { no: 3, name: 'reported', kind: TwinProperty });
export const DeviceStatus = schema({ no: 1, name: 'twins', kind: Twin, repeated: true }, { no: 2, name: 'reportToCloud', kind: 'bool' }, { no: 3, name: 'reportCycle', kind: 'int64' });
export const Device = schema({ no: 1, name: 'name', kind: s }, { no: 2, name: 'spec', kind: DeviceSpec }, { no: 3, name: 'status', kind: DeviceStatus }, { no: 4, name: 'namespace', kind: s });
const ModelProperty = schema(
  { no: 1, name: 'name', kind: s },
  { no: 2, name: 'description', kind: s },
  { no: 3, name: 'type', kind: s },
  { no: 4, name: 'accessMode', kind: s },
  { no: 5, name: 'minimum', kind: s },
  { no: 6, name: 'maximum', kind: s },
  { no: 7, name: 'unit', kind: s },
);
export const DeviceModel = schema({ no: 1, name: 'name', kind: s }, { no: 2, name: 'spec', kind: schema({ no: 1, name: 'properties', kind: ModelProperty, repeated: true }) }, { no: 3, name: 'namespace', kind: s });
const MapperInfo = schema({ no: 1, name: 'name', kind: s }, { no: 2, name: 'version', kind: s }, { no: 3, name: 'api_version', kind: s }, { no: 4, name: 'protocol', kind: s }, { no: 5, name: 'address', kind: 'bytes' }, { no: 6, name: 'state', kind: s });

export const Empty = schema();
const device = schema({ no: 1, name: 'device', kind: Device });
const model = schema({ no: 1, name: 'model', kind: DeviceModel });
const deviceRef = schema({ no: 1, name: 'deviceName', kind: s }, { no: 2, name: 'deviceNamespace', kind: s });

/** DeviceManagerService, served by edgecore: request and response of each method */
export const Manager = {
  service: 'v1beta1.DeviceManagerService',
  MapperRegister: [schema({ no: 1, name: 'withData', kind: 'bool' }, { no: 2, name: 'mapper', kind: MapperInfo }), schema({ no: 1, name: 'modelList', kind: DeviceModel, repeated: true }, { no: 2, name: 'deviceList', kind: Device, repeated: true })],
  ReportDeviceStatus: [schema({ no: 1, name: 'deviceName', kind: s }, { no: 2, name: 'reportedDevice', kind: DeviceStatus }, { no: 3, name: 'deviceNamespace', kind: s }), Empty],
  // fields 100-102 are ours, for a mapper to say why (the device's Ready condition: True or False, a reason, a message); KubeEdge's edgecore skips them
  ReportDeviceStates: [schema({ no: 1, name: 'deviceName', kind: s }, { no: 2, name: 'deviceNamespace', kind: s }, { no: 3, name: 'state', kind: s }, { no: 100, name: 'reason', kind: s }, { no: 101, name: 'message', kind: s }, { no: 102, name: 'ready', kind: s }), Empty],
} as const satisfies { service: string } & Record<string, string | readonly [Schema, Schema]>;

/** DeviceMapperService, served by a mapper: request and response of each method edgecore calls */
export const Mapper = {
  service: 'v1beta1.DeviceMapperService',
  RegisterDevice: [device, deviceRef],
  UpdateDevice: [device, Empty],
  RemoveDevice: [deviceRef, Empty],
  CreateDeviceModel: [model, schema({ no: 1, name: 'deviceModelName', kind: s }, { no: 2, name: 'deviceModelNamespace', kind: s })],
  UpdateDeviceModel: [model, Empty],
  RemoveDeviceModel: [schema({ no: 1, name: 'modelName', kind: s }, { no: 2, name: 'modelNamespace', kind: s }), Empty],
} as const satisfies { service: string } & Record<string, string | readonly [Schema, Schema]>;

/** TypeScript shapes of the messages edgecore builds and reads */
export interface TwinPropertyMsg {
  value: string;
  metadata?: Record<string, string>;
}
export interface DeviceMsg {
  name: string;
  namespace: string;
  spec: {
    deviceModelReference: string;
    protocol: { protocolName: string; configData: { data: Record<string, { type_url: string; value: Buffer }> } };
    properties: {
      name: string;
      desired?: TwinPropertyMsg;
      visitors?: { protocolName: string; configData: { data: Record<string, { type_url: string; value: Buffer }> } };
      reportCycle: number;
      collectCycle: number;
      reportToCloud: boolean;
      pushMethod?: Record<string, unknown>;
    }[];
  };
  status?: { twins: { propertyName: string; observedDesired?: TwinPropertyMsg; reported?: TwinPropertyMsg }[] };
}
export interface DeviceModelMsg {
  name: string;
  namespace: string;
  spec: { properties: { name: string; description?: string; type: string; accessMode: string; minimum?: string; maximum?: string; unit?: string }[] };
}

const WRAPPERS = 'type.googleapis.com/google.protobuf.';
const UNWRAP: Record<string, Schema> = { StringValue, FloatValue, DoubleValue, Int64Value, Int32Value, BoolValue };
export type AnyMsg = { type_url: string; value: Buffer };

/** a configData value as KubeEdge wraps it: a string as StringValue, any number as FloatValue, a boolean as BoolValue */
export function toAny(v: unknown): AnyMsg {
  if (typeof v === 'number') return { type_url: `${WRAPPERS}FloatValue`, value: encode(FloatValue, { value: v }) };
  if (typeof v === 'boolean') return { type_url: `${WRAPPERS}BoolValue`, value: encode(BoolValue, { value: v }) };
  return { type_url: `${WRAPPERS}StringValue`, value: encode(StringValue, { value: typeof v === 'string' ? v : JSON.stringify(v) }) };
}

/** a CustomizedValue's map as plain values (a wrapper this does not know is left out) */
export function fromCustomized(c: unknown): Record<string, string | number | boolean> {
  const data = ((c as { data?: Record<string, AnyMsg> } | undefined)?.data ?? {}) as Record<string, AnyMsg>;
  const out: Record<string, string | number | boolean> = {};
  for (const [k, a] of Object.entries(data)) {
    const s = UNWRAP[a.type_url.slice(a.type_url.lastIndexOf('.') + 1)];
    if (s && a.type_url.startsWith(WRAPPERS)) out[k] = decode(s, a.value).value as string | number | boolean;
  }
  return out;
}
