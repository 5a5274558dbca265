/** The floors of docs/design.md: each top-level source folder, and what it may import besides itself. */
export const FLOORS: Record<string, readonly string[]> = {
  core: [],
  api: ['core'],
  drivers: ['core'],
  containers: ['core', 'api'],
  runtime: ['core', 'api', 'drivers', 'containers'],
  'cloud-stub': ['core', 'api'],
  // keadm runs the quick start's simulated thermostat, which is drivers/modbus/simulator.ts alone
  keadm: ['core', 'api', 'containers', 'drivers/modbus/simulator.ts'],
};

