import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../core/errors.js';
import { defaults, validate } from '../../../core/schema.js';
import { edgeCoreSchema } from '../../../api/config/edgecore.js';
import { cloudCoreSchema } from '../../../api/config/cloudcore.js';

describe('config schema', () => {
  it('fills KubeEdge defaults', () => {
    const d = defaults(edgeCoreSchema);
    expect(d.modules.edgeHub.heartbeat).toBe(15);
    expect(d.modules.eventBus.mqttServerInternal).toBe('tcp://127.0.0.1:1884');
    expect(d.modules.metaManager.metaServer.server).toBe('127.0.0.1:10550');
    expect(d.database.dataSource).toBe('/var/lib/kubeedge/edgecore.db');
    const c = defaults(cloudCoreSchema);
    expect(c.modules.cloudHub.websocket.port).toBe(10000);
    expect(c.modules.cloudHub.https.port).toBe(10002);
    expect(c.modules.apiServer.port).toBe(6443);
    expect(c.modules.cloudHub.keepaliveInterval).toBe(30);
  });

  it('names the path of every unknown key and bad value', () => {
    let err: unknown;
    try {
      validate(edgeCoreSchema, { modules: { edgeHub: { heartbeet: 3, heartbeat: 'x', websocket: { server: 5 } }, eventBus: { mqttMode: 7 } } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual(
      expect.arrayContaining([
        'modules.edgeHub.heartbeet: unknown key (did you mean heartbeat?)',
        'modules.edgeHub.heartbeat: expected a number, got "x"',
        'modules.edgeHub.websocket.server: expected a string, got 5',
        'modules.eventBus.mqttMode: must be at most 2, got 7',
      ]),
    );
  });
});
