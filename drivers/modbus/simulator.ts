/**
 * A simulated Modbus TCP thermostat (modbus-serial's ServerTCP), for the quick start: input
 * register 0 holds the temperature × 10, drifting towards holding register 0, the setpoint × 10,
 * which can be written; coil 0 is the heater, on while the room is colder than the setpoint.
 */
import ModbusSerial from 'modbus-serial';

export interface Thermostat {
  port: number;
  temperature(): number;
  setpoint(): number;
  close(): Promise<void>;
}

type ServerTCP = { on(ev: string, fn: (...a: unknown[]) => void): void; close(cb: () => void): void };

export async function startThermostat(opts: { port: number; host?: string; unitID?: number; start?: number }): Promise<Thermostat> {
  let temperature = opts.start ?? 18.0;
  let setpoint = 21.0;
  const heater = (): boolean => temperature < setpoint;
  const vector = {
    getInputRegister: (addr: number) => (addr === 0 ? Math.round(temperature * 10) : 0),
    getHoldingRegister: (addr: number) => (addr === 0 ? Math.round(setpoint * 10) : 0),
    getCoil: (addr: number) => addr === 0 && heater(),
    setRegister: (addr: number, value: number) => {
      if (addr === 0) setpoint = (value > 0x7fff ? value - 0x10000 : value) / 10;
    },
    setCoil: () => undefined,
  };
  const { ServerTCP } = ModbusSerial as unknown as { ServerTCP: new (v: unknown, o: unknown) => ServerTCP };
  const server = new ServerTCP(vector, { host: opts.host ?? '127.0.0.1', port: opts.port, unitID: opts.unitID ?? 1 });
  await new Promise<void>((resolve, reject) => {
    server.on('initialized', () => resolve());
    server.on('socketError', (err) => reject(err as Error));
  });
  // the room warms or cools a little every second, towards the setpoint, with some noise
  const timer = setInterval(() => {
    temperature += (setpoint - temperature) * 0.1 + (Math.random() - 0.5) * 0.2;
  }, 1000);
  timer.unref();
  return {
    port: opts.port,
    temperature: () => temperature,
    setpoint: () => setpoint,
    close: () =>
      new Promise((resolve) => {
        clearInterval(timer);
        server.close(() => resolve());
      }),
  };
}
