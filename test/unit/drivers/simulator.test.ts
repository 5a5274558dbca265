import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../core/log.js';
import { modbusDriver } from '../../../drivers/modbus/index.js';
import { startThermostat, type Thermostat } from '../../../drivers/modbus/simulator.js';
import type { DeviceConnection, PropertyVisitor } from '../../../drivers/core/types.js';
import { freePort } from '../../peers/proxy.js';

// The quick start's thermostat, read and written through the real Modbus driver (modbus-serial's client)
const temperature: PropertyVisitor = { name: 'temperature', type: 'float', writable: false, config: { register: 'InputRegister', offset: 0, dataType: 'int16', scale: 0.1 } };
const setpoint: PropertyVisitor = { name: 'setpoint', type: 'float', writable: true, config: { register: 'HoldingRegister', offset: 0, dataType: 'int16', scale: 0.1 } };
const heater: PropertyVisitor = { name: 'heater', type: 'boolean', writable: false, config: { register: 'CoilRegister', offset: 0 } };
const beyond: PropertyVisitor = { name: 'beyond', type: 'int', writable: false, config: { register: 'HoldingRegister', offset: 65535, limit: 2, dataType: 'int32' } };

let thermostat: Thermostat;
let conn: DeviceConnection;
beforeAll(async () => {
  thermostat = await startThermostat({ port: await freePort(), start: 18 });
  conn = await modbusDriver().open(
    { id: 'default/thermostat', config: { ip: '127.0.0.1', port: thermostat.port, slaveID: 1 }, properties: [temperature, setpoint, heater] },
    { log: createLogger({ level: 'error' }), pushed: () => undefined, lost: () => undefined },
  );
});
afterAll(async () => {
  await conn?.close();
  await thermostat?.close();
});

describe('the simulated thermostat (Modbus TCP without a driver library)', () => {
  it('serves the temperature, the setpoint and the heater as a Modbus client reads them', async () => {
    const got = await conn.read([temperature, setpoint, heater]);
    expect(Number(got.get('temperature'))).toBeCloseTo(thermostat.temperature(), 0);
    expect(got.get('setpoint')).toBe('21');
    expect(got.get('heater')).toBe(thermostat.temperature() < 21 ? 'true' : 'false');
  });

  it('takes a written setpoint, negative ones too', async () => {
    await conn.write(setpoint, '23.5');
    expect(thermostat.setpoint()).toBe(23.5);
    expect((await conn.read([setpoint])).get('setpoint')).toBe('23.5');
    await conn.write(setpoint, '-4');
    expect(thermostat.setpoint()).toBe(-4);
  });

  it('answers a read past the last address with a Modbus exception, and goes on serving', async () => {
    const got = await conn.read([beyond]);
    expect(got.get('beyond')).toBeInstanceOf(Error);
    expect(String(got.get('beyond'))).toMatch(/Illegal data address|exception/i);
    expect((await conn.read([setpoint])).get('setpoint')).toBe('-4');
  });
});
