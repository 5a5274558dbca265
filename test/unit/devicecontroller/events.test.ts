import { describe, expect, it } from 'vitest';
import { reportEvents, type DeviceStatusSeen } from '../../../cloud-stub/devicecontroller/index.js';

const reading = { type: 'Ready', status: 'True', reason: 'Reading', message: '2 properties read' };
const unreachable = { type: 'Ready', status: 'False', reason: 'DeviceUnreachable', message: 'cannot open: connect ECONNREFUSED 10.0.0.5:502' };

describe('the Events a device report makes', () => {
  it.each<[string, DeviceStatusSeen | undefined, DeviceStatusSeen, ReturnType<typeof reportEvents>]>([
    ['the first report of a device that reads', undefined, { state: 'online', conditions: [reading] }, [
      { type: 'Normal', reason: 'DeviceOnline', message: 'device default/thermostat on gw-1 is online' },
      { type: 'Normal', reason: 'Reading', message: '2 properties read' },
    ]],
    ['nothing changed: no Event', { state: 'online', conditions: [reading] }, { state: 'online', conditions: [reading] }, []],
    ['it went offline: a Warning with why', { state: 'online', conditions: [reading] }, { state: 'offline', conditions: [unreachable] }, [
      { type: 'Warning', reason: 'DeviceOffline', message: 'device default/thermostat on gw-1 is offline: cannot open: connect ECONNREFUSED 10.0.0.5:502' },
      { type: 'Warning', reason: 'DeviceUnreachable', message: 'cannot open: connect ECONNREFUSED 10.0.0.5:502' },
    ]],
    ['unhealthy (open, nothing read)', { state: 'online' }, { state: 'unhealthy' }, [{ type: 'Warning', reason: 'DeviceUnhealthy', message: 'device default/thermostat on gw-1 is unhealthy' }]],
    ['an unknown state is no news', { state: 'online' }, { state: 'unknown' }, []],
    ['the same state, a new reason', { state: 'offline', conditions: [unreachable] }, { state: 'offline', conditions: [{ type: 'Ready', status: 'False', reason: 'ModelMissing' }] }, [
      { type: 'Warning', reason: 'ModelMissing', message: 'device default/thermostat: ModelMissing' },
    ]],
  ])('%s', (_, before, now, want) => {
    expect(reportEvents(before, now, 'default/thermostat', 'gw-1')).toEqual(want);
  });
});
