import { describe, expect, it } from 'vitest';
import { dropUnknownFields, duplicateFields, fieldValidationOf, judgeFields } from '../../../cloud-stub/apiserver/fields.js';
import { resourceType } from '../../../api/resources.js';
import { ApiError } from '../../../cloud-stub/apiserver/status.js';

describe('field validation, as Kubernetes words it', () => {
  it('finds keys given twice, at any depth, and not in strings or across objects', () => {
    expect(duplicateFields('{"a":1,"b":{"c":1,"c":2},"a":"x","d":[{"e":1},{"e":2},{"e":3,"e":4}]}')).toEqual(['b.c', 'a', 'd[2].e']);
    expect(duplicateFields('{"s":"{\\"a\\":1,\\"a\\":2}","t":{"a":[1,{"b":true}]},"u":null}')).toEqual([]);
    expect(() => duplicateFields('['.repeat(300) + ']'.repeat(300))).toThrow(/deeper than 200/);
  });

  it('drops what a kind does not have, says where, and guesses what was meant; keeps what its schema leaves open', () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', labels: { any: 'thing' }, annotations: { 'a/b': 'c' } },
      spec: {
        nodename: 'x',
        containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 80 }], livenessProbe: { httpGet: { port: 'http', pth: '/' } }, resources: { limits: { memory: '64Mi' } } }],
      },
      status: { anything: 'is the system\'s to write' },
    };
    expect(dropUnknownFields(resourceType('pod'), pod)).toEqual(['unknown field "spec.nodename" (did you mean "nodeName"?)', 'unknown field "spec.containers[0].livenessProbe.httpGet.pth" (did you mean "path"?)']);
    expect(pod.spec).not.toHaveProperty('nodename');
    expect(pod.spec.containers[0]?.livenessProbe.httpGet).toEqual({ port: 'http' });
    expect(pod.metadata.labels).toEqual({ any: 'thing' });

    const device = {
      apiVersion: 'devices.kubeedge.io/v1beta1',
      kind: 'Device',
      metadata: { name: 'd' },
      spec: {
        deviceModelRef: { name: 'm' },
        nodeName: 'n',
        protocol: { protocolName: 'modbus', configData: { ip: '10.0.0.2', port: 502, slaveId: 3 } },
        properties: [{ name: 'p', visitors: { protocolName: 'modbus', configData: { register: 'HoldingRegister', ofset: 1 } } }],
      },
    };
    expect(dropUnknownFields(resourceType('device'), device)).toEqual([
      'unknown field "spec.protocol.configData.slaveId" (did you mean "slaveID"?)',
      'unknown field "spec.properties[0].visitors.configData.ofset" (did you mean "offset"?)',
    ]);
    expect(device.spec.protocol.configData).toEqual({ ip: '10.0.0.2', port: 502 });
  });

  it('Strict refuses naming each field, Warn returns them, Ignore says nothing; another value is refused', () => {
    const found = ['duplicate field "spec.nodeName"', 'unknown field "spec.x"'];
    const device = resourceType('device');
    expect(() => judgeFields(device, 'Strict', found)).toThrow(new ApiError('BadRequest', 'Device in version "v1beta1" cannot be handled as a Device: strict decoding error: duplicate field "spec.nodeName", unknown field "spec.x"'));
    expect(judgeFields(device, 'Warn', found)).toEqual(found);
    expect(judgeFields(device, 'Ignore', found)).toEqual([]);
    expect(judgeFields(device, 'Strict', [])).toEqual([]);
    expect(fieldValidationOf(new URLSearchParams(''))).toBe('Warn');
    expect(fieldValidationOf(new URLSearchParams('fieldValidation=Strict'))).toBe('Strict');
    expect(() => fieldValidationOf(new URLSearchParams('fieldValidation=strict'))).toThrow(/Unsupported value: "strict": supported values: "Ignore", "Strict", "Warn"/);
  });
});
