/**
 * What a driver is to the device manager: it opens a device's transport and reads and writes its
 * properties. Values cross this line as twin strings, already typed and scaled.
 */
import type { Logger } from '../../core/log.js';

/** A visitor's or a protocol's configData: the driver judges its own keys. */
export type ConfigData = Record<string, unknown>;

/** A twin's value type (KubeEdge's edge types); api/devices derives it from the model, the same four names. */
export type TwinType = 'int' | 'float' | 'boolean' | 'string';

export interface PropertyVisitor {
  /** the property (and twin) name */
  name: string;
  /** the twin type its model declares */
  type: TwinType;
  /** the model's accessMode is ReadWrite */
  writable: boolean;
  /** the visitor's configData */
  config: ConfigData;
}

export interface DeviceInfo {
  /** `<namespace>/<name>` */
  id: string;
  /** `spec.protocol.configData` */
  config: ConfigData;
  properties: readonly PropertyVisitor[];
}

export type ReadResult = Map<string, string | Error>;

export interface DeviceConnection {
  /** Reads these properties; each gets its value or the error that kept it from being read. */
  read(props: readonly PropertyVisitor[]): Promise<ReadResult>;
  write(prop: PropertyVisitor, value: string): Promise<void>;
  close(): Promise<void>;
}

export interface DriverHooks {
  log: Logger;
  /** a value the device sent by itself (a GPIO edge, a serial line nobody asked for) */
  pushed(property: string, value: string): void;
  /** the transport was lost (a closed socket, an unplugged adapter); the manager reopens it */
  lost(reason: string): void;
}

export interface Driver {
  readonly protocol: string;
  open(device: DeviceInfo, hooks: DriverHooks): Promise<DeviceConnection>;
}

/** A twin value from a number, as its twin type writes it. */
export function formatNumber(n: number, type: TwinType): string {
  switch (type) {
    case 'int':
      return String(Math.round(n));
    case 'boolean':
      return n !== 0 ? 'true' : 'false';
    default:
      // no float noise from scaling (0.1 * 3 = 0.30000000000000004)
      return String(Number.isInteger(n) ? n : Number(n.toPrecision(12)));
  }
}

/** A number from a twin value ('true'/'false' are 1/0); NaN when it is not one. */
export function parseNumber(value: string): number {
  if (value === 'true') return 1;
  if (value === 'false') return 0;
  return value.trim() === '' ? NaN : Number(value);
}

export const num = (v: unknown, fallback: number): number => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
export const str = (v: unknown, fallback: string): string => (typeof v === 'string' ? v : fallback);
export const bool = (v: unknown): boolean => v === true;
