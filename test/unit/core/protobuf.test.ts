/**
 * core/protobuf.ts against Google's protobuf (Debian's python3-protobuf, with code generated from
 * DMI's api.proto by grpc_tools): what we encode, they read, and the other way round; and bytes
 * that are not a message are refused, not misread.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode, encode } from '../../../core/protobuf.js';
import { Device, DoubleValue, Manager } from '../../../api/dmi/messages.js';

const PROTO = resolve(import.meta.dirname, '../../../api/dmi/v1beta1');
let gen: string;

/** runs Python with the generated api_pb2 importable; stdin and stdout in hex */
function py(script: string, input = ''): string {
  return execFileSync('/usr/bin/python3', ['-c', `import sys; sys.path.insert(0, ${JSON.stringify(gen)}); import api_pb2\n${script}`], { input, encoding: 'utf8' }).trim();
}

const device = {
  name: 'boiler',
  namespace: 'plant-7',
  spec: {
    deviceModelReference: 'boiler-model',
    protocol: { protocolName: 'opcua', configData: { data: { url: { type_url: 'type.googleapis.com/google.protobuf.DoubleValue', value: encode(DoubleValue, { value: -2.5 }) } } } },
    properties: [
      { name: 'setpoint', desired: { value: '42', metadata: { type: 'int', timestamp: '1733300000000' } }, reportCycle: 2000, collectCycle: -1, reportToCloud: true },
      { name: 'temperature', reportCycle: 0, collectCycle: 2 ** 40, reportToCloud: false },
    ],
  },
};

describe('protobuf codec', () => {
  beforeAll(() => {
    gen = mkdtempSync(join(tmpdir(), 'pb-'));
    execFileSync('/usr/bin/python3', ['-m', 'grpc_tools.protoc', `-I${PROTO}`, `--python_out=${gen}`, 'api.proto']);
  });
  afterAll(() => rmSync(gen, { recursive: true, force: true }));

  it('encodes a Device that Google protobuf reads field for field', () => {
    const out = py(
      `from google.protobuf import wrappers_pb2, json_format
d = api_pb2.Device(); d.ParseFromString(bytes.fromhex(sys.stdin.read()))
v = wrappers_pb2.DoubleValue(); d.spec.protocol.configData.data['url'].Unpack(v)
print(json_format.MessageToJson(d, preserving_proto_field_name=True, sort_keys=True).replace('\\n', ''), v.value)`,
      encode(Device, device).toString('hex'),
    );
    const [json, url] = [out.slice(0, out.lastIndexOf(' ')), out.slice(out.lastIndexOf(' ') + 1)];
    const d = JSON.parse(json);
    expect(url).toBe('-2.5');
    expect(d.name).toBe('boiler');
    expect(d.namespace).toBe('plant-7');
    expect(d.spec.properties[0]).toEqual({ name: 'setpoint', desired: { value: '42', metadata: { type: 'int', timestamp: '1733300000000' } }, reportCycle: '2000', collectCycle: '-1', reportToCloud: true });
    expect(d.spec.properties[1]).toEqual({ name: 'temperature', collectCycle: String(2 ** 40) }); // proto3 leaves defaults out
  });

  it('decodes what Google protobuf encodes, every field present with its default when absent', () => {
    const hex = py(`r = api_pb2.MapperRegisterRequest(withData=True, mapper=api_pb2.MapperInfo(name='m', protocol='opcua', address=b'/run/m.sock'))
print(r.SerializeToString().hex())`);
    const [reqSchema] = Manager.MapperRegister;
    const r = decode(reqSchema, Buffer.from(hex, 'hex'));
    expect(r.withData).toBe(true);
    expect(r.mapper).toMatchObject({ name: 'm', protocol: 'opcua', version: '', state: '' });
    expect((r.mapper as { address: Buffer }).address.toString()).toBe('/run/m.sock');
    // a round trip through both
    const back = py(`d = api_pb2.Device(); d.ParseFromString(bytes.fromhex(sys.stdin.read())); print(d.SerializeToString().hex())`, encode(Device, device).toString('hex'));
    const again = decode(Device, Buffer.from(back, 'hex')) as any;
    expect(again.spec.properties.map((p: any) => [p.name, p.collectCycle, p.reportToCloud])).toEqual([
      ['setpoint', -1, true],
      ['temperature', 2 ** 40, false],
    ]);
    expect(decode(DoubleValue, again.spec.protocol.configData.data.url.value).value).toBe(-2.5);
  });

  it('refuses bytes that are not a message', () => {
    const good = encode(Device, device);
    expect(() => decode(Device, good.subarray(0, good.length - 3))).toThrow(/past the end|truncated/);
    expect(() => decode(Device, Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))).toThrow(/varint longer/);
    expect(() => decode(Device, Buffer.from([0x08, 0x01]))).toThrow(/wire type 0 where string is expected/); // field 1 (name) as a varint
    expect(() => decode(Device, Buffer.from([0x7b]))).toThrow(/unsupported wire type 3/); // an unknown field (15) of a group wire type
  });
});
