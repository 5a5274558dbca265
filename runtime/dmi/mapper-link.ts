/**
 * One registered mapper, as edgecore sees it: its DeviceMapperService at the unix socket it gave,
 * and what it holds (each device and model with the fingerprint last sent). Changes are not
 * queued: `sync` compares what the mapper should hold with what it holds and makes the calls
 * that close the gap, in order (models before the devices that use them, removals last). A call
 * that fails stops the pass and leaves what is left for the next one, so a mapper that is gone
 * costs no memory however much changes meanwhile.
 */
import { UnixClient } from '../../core/grpc.js';
import { decode, encode, type Schema } from '../../core/protobuf.js';
import { Mapper } from '../../api/dmi/messages.js';

export interface MapperInfo {
  name: string;
  version: string;
  apiVersion: string;
  protocol: string;
  /** the unix socket of its DeviceMapperService */
  address: string;
}

/** What a mapper should hold: messages ready to send, by id, with their fingerprints. */
export interface Wanted {
  models: Map<string, { msg: object; fingerprint: string }>;
  devices: Map<string, { msg: object; fingerprint: string }>;
}

const CALL_TIMEOUT_MS = 10_000;

export class MapperLink {
  readonly client: UnixClient;
  /** device and model ids the mapper holds, with the fingerprint of what it was sent */
  readonly devices = new Map<string, string>();
  readonly models = new Map<string, string>();
  /** why it cannot be reached, while it cannot */
  missing: string | undefined;
  private syncing = false;
  private again = false;

  constructor(readonly info: MapperInfo) {
    this.client = new UnixClient(info.address);
  }

  private async call(method: keyof typeof Mapper & string, request: object): Promise<void> {
    const [req, res] = Mapper[method as 'UpdateDevice'] as readonly [Schema, Schema];
    decode(res, await this.client.call(`/${Mapper.service}/${method}`, encode(req, request as Record<string, unknown>), CALL_TIMEOUT_MS));
  }

  /**
   * Brings the mapper to `wanted()` (read afresh on each pass, so a pass started before a change
   * is followed by another). Resolves when a pass ends; rejects with the call that failed.
   */
  async sync(wanted: () => Wanted): Promise<void> {
    if (this.syncing) {
      this.again = true;
      return;
    }
    this.syncing = true;
    try {
      do {
        this.again = false;
        await this.pass(wanted());
      } while (this.again);
    } finally {
      this.syncing = false;
    }
  }

  private async pass(w: Wanted): Promise<void> {
    for (const [id, m] of w.models) {
      if (this.models.get(id) === m.fingerprint) continue;
      await this.call(this.models.has(id) ? 'UpdateDeviceModel' : 'CreateDeviceModel', { model: m.msg });
      this.models.set(id, m.fingerprint);
    }
    for (const [id, d] of w.devices) {
      if (this.devices.get(id) === d.fingerprint) continue;
      await this.call(this.devices.has(id) ? 'UpdateDevice' : 'RegisterDevice', { device: d.msg });
      this.devices.set(id, d.fingerprint);
    }
    for (const id of [...this.devices.keys()]) {
      if (w.devices.has(id)) continue;
      const [deviceNamespace, deviceName] = id.split('/');
      await this.call('RemoveDevice', { deviceName, deviceNamespace });
      this.devices.delete(id);
    }
    for (const id of [...this.models.keys()]) {
      if (w.models.has(id)) continue;
      const [modelNamespace, modelName] = id.split('/');
      await this.call('RemoveDeviceModel', { modelName, modelNamespace });
      this.models.delete(id);
    }
  }

  close(): void {
    this.client.close();
  }
}
