/** Typed views of the Device and DeviceModel specs (as KubeEdge's v1beta1 CRDs), and the twin types they give. */
export type ConfigData = Record<string, unknown>;

export interface DeviceProperty {
  name: string;
  desired?: { value?: string };
  visitors?: { protocolName?: string; configData?: ConfigData };
  /** ms between reads of the property (KubeEdge: collectCycle) */
  collectCycle?: number;
  /** ms between reports to the cloud (KubeEdge: reportCycle) */
  reportCycle?: number;
  reportToCloud?: boolean;
  /** readings also sent to the user's broker or HTTP endpoint (KubeEdge's PushMethod) */
  pushMethod?: {
    mqtt?: { address?: string; topic?: string; qos?: number; retained?: boolean };
    http?: { hostName?: string; port?: number; requestPath?: string; timeout?: number };
  };
}

export interface DeviceSpec {
  deviceModelRef: { name: string };
  nodeName?: string;
  protocol?: { protocolName?: string; configData?: ConfigData };
  properties?: DeviceProperty[];
}

export interface ModelProperty {
  name: string;
  type: string;
  accessMode: 'ReadWrite' | 'ReadOnly';
  minimum?: string;
  maximum?: string;
  unit?: string;
}

export interface DeviceModelSpec {
  protocol?: string;
  properties: ModelProperty[];
}

/** Twin value types are KubeEdge's edge types, derived from the model's property type. */
export type TwinType = 'int' | 'float' | 'boolean' | 'string';

export function twinTypeOf(modelType: string): TwinType {
  switch (modelType) {
    case 'INT':
      return 'int';
    case 'FLOAT':
    case 'DOUBLE':
      return 'float';
    case 'BOOLEAN':
      return 'boolean';
    default:
      return 'string';
  }
}

/** Does `value` parse as a twin of this type? */
export function fitsTwinType(type: TwinType, value: string): boolean {
  switch (type) {
    case 'int':
      return /^[-+]?\d+$/.test(value) && Number.isSafeInteger(Number(value));
    case 'float':
      return /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(value) && Number.isFinite(Number(value));
    case 'boolean':
      return value === 'true' || value === 'false';
    default:
      return true;
  }
}
