import { describe, expect, it } from 'vitest';
import { syncPlan } from '../../../cloud-stub/synccontroller/index.js';

const obj = (rv: number) => ({ rv, object: { rv } });
const want = (entries: [string, number][]) => new Map(entries.map(([r, rv]) => [r, obj(rv)]));

describe('what a node must be sent to hold what it should', () => {
  it.each<[string, Map<string, { rv: number; object: unknown }>, Map<string, number>, [string, string, number][]]>([
    ['nothing held, two objects wanted: two inserts', want([['default/pod/a', 3], ['default/configmap/c', 5]]), new Map(), [['insert', 'default/pod/a', 3], ['insert', 'default/configmap/c', 5]]],
    ['held at the version wanted: nothing', want([['default/pod/a', 3]]), new Map([['default/pod/a', 3]]), []],
    ['held at a newer version (acknowledged later): nothing', want([['default/pod/a', 3]]), new Map([['default/pod/a', 4]]), []],
    ['held at an older version: an update', want([['default/pod/a', 7]]), new Map([['default/pod/a', 3]]), [['update', 'default/pod/a', 7]]],
    ['held but no longer wanted: a delete at the store\'s version', want([]), new Map([['default/device/d', 2]]), [['delete', 'default/device/d', 99]]],
  ])('%s', (_, wanted, acked, steps) => {
    expect(syncPlan(wanted, acked, 99).map((s) => [s.operation, s.resource, s.rv])).toEqual(steps);
  });

  it('a delete carries the object as it was when known, else names it by a bare kind and metadata', () => {
    expect(syncPlan(new Map(), new Map([['plant/device/boiler', 1]]), 10)[0]?.content).toEqual({ kind: 'device', metadata: { namespace: 'plant', name: 'boiler' } });
    const last = { kind: 'Device', metadata: { namespace: 'plant', name: 'boiler' }, spec: { protocol: { protocolName: 'opcua' } } };
    expect(syncPlan(new Map(), new Map([['plant/device/boiler', 1]]), 10, (r) => (r === 'plant/device/boiler' ? last : undefined))[0]?.content).toEqual(last);
  });

  it('sends models ahead of the devices that use them, and removes them after those devices', () => {
    const steps = syncPlan(want([['d/device/a', 5], ['d/devicemodel/m', 4], ['d/pod/p', 6]]), new Map([['d/devicemodel/old', 1], ['d/device/gone', 2]]), 9);
    expect(steps.map((s) => `${s.operation} ${s.resource}`)).toEqual(['insert d/devicemodel/m', 'insert d/device/a', 'insert d/pod/p', 'delete d/device/gone', 'delete d/devicemodel/old']);
  });
});
