// A simulated boiler on node-opcua's server, as a test peer: Temperature and Pressure (Double,
// changing every 200 ms) and a writable Setpoint (Double, 0..100; a value beyond is refused with
// BadOutOfRange), in namespace urn:kubeedge-lite:boiler (ns=2; ns=1 is the server's own), at opc.tcp://127.0.0.1:PORT/UA/Boiler.
// It prints "ready" once listening, "setpoint <value>" on each accepted write, and "sessions <n>"
// when the number of open sessions changes.
//   node opcua-boiler.mjs PORT PKI_DIR open|strict
// open: security None, Sign and SignAndEncrypt (Basic256Sha256), any client certificate accepted;
// strict: SignAndEncrypt only, and only client certificates already in its trusted folder.
import serverModule from 'node-opcua-server';
import client from 'node-opcua-client';
import certificates from 'node-opcua-certificate-manager';

const { OPCUAServer } = serverModule;
const { Variant, DataType, StatusCodes, MessageSecurityMode, SecurityPolicy } = client;
const { OPCUACertificateManager } = certificates;

const [port, pki, mode] = process.argv.slice(2);
const strict = mode === 'strict';
const serverCertificateManager = new OPCUACertificateManager({ rootFolder: pki, automaticallyAcceptUnknownCertificate: !strict });
await serverCertificateManager.initialize();
const server = new OPCUAServer({
  port: Number(port),
  resourcePath: '/UA/Boiler',
  serverCertificateManager,
  securityModes: strict ? [MessageSecurityMode.SignAndEncrypt] : [MessageSecurityMode.None, MessageSecurityMode.Sign, MessageSecurityMode.SignAndEncrypt],
  securityPolicies: strict ? [SecurityPolicy.Basic256Sha256] : [SecurityPolicy.None, SecurityPolicy.Basic256Sha256],
  allowAnonymous: true,
  buildInfo: { productName: 'kubeedge-lite test boiler' },
});
await server.initialize();
const ns = server.engine.addressSpace.registerNamespace('urn:kubeedge-lite:boiler');
const boiler = ns.addObject({ organizedBy: server.engine.addressSpace.rootFolder.objects, browseName: 'Boiler' });
let t = 0;
let setpoint = 20;
ns.addVariable({ componentOf: boiler, nodeId: 's=Temperature', browseName: 'Temperature', dataType: 'Double', value: { get: () => new Variant({ dataType: DataType.Double, value: 60 + (t % 10) / 2 }) } });
ns.addVariable({ componentOf: boiler, nodeId: 's=Pressure', browseName: 'Pressure', dataType: 'Double', value: { get: () => new Variant({ dataType: DataType.Double, value: 1.5 + (t % 4) / 10 }) } });
ns.addVariable({
  componentOf: boiler,
  nodeId: 's=Setpoint',
  browseName: 'Setpoint',
  dataType: 'Double',
  minimumSamplingInterval: 100,
  value: {
    get: () => new Variant({ dataType: DataType.Double, value: setpoint }),
    set: (v) => {
      if (typeof v.value !== 'number' || v.value < 0 || v.value > 100) return StatusCodes.BadOutOfRange;
      setpoint = v.value;
      process.stdout.write(`setpoint ${setpoint}\n`);
      return StatusCodes.Good;
    },
  },
});
setInterval(() => t++, 200);
await server.start();
process.stdout.write('ready\n');
// the sessions open on it, whenever that changes: a client that leaks them shows here
let sessions = 0;
setInterval(() => {
  if (server.currentSessionCount === sessions) return;
  sessions = server.currentSessionCount;
  process.stdout.write(`sessions ${sessions}\n`);
}, 100);
