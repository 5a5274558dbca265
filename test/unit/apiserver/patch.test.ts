import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { jsonPatch, mergePatch, strategicMergePatch } from '../../../cloud-stub/apiserver/patch.js';

const require = createRequire(import.meta.url);
interface SuiteCase {
  comment?: string;
  doc: unknown;
  patch: unknown;
  expected?: unknown;
  error?: string;
  disabled?: boolean;
}
// the json-patch-test-suite package: the community's RFC 6902 cases, and those of the RFC's own examples
const suites: [string, SuiteCase[]][] = [
  ['tests.json', require('json-patch-test-suite/tests.json') as SuiteCase[]],
  ['spec_tests.json', require('json-patch-test-suite/spec_tests.json') as SuiteCase[]],
];

describe('JSON patch (RFC 6902) passes the json-patch-test-suite', () => {
  for (const [file, cases] of suites) {
    cases.forEach((c, i) => {
      if (c.disabled) return;
      const name = `${file} #${i}: ${c.comment ?? JSON.stringify(c.patch).slice(0, 80)}`;
      if (c.error !== undefined) {
        it(`${name} — refused (${c.error})`, () => expect(() => jsonPatch(c.doc, c.patch)).toThrow(/JSON patch|operation/));
      } else if ('expected' in c) {
        it(name, () => expect(jsonPatch(c.doc, c.patch)).toEqual(c.expected));
      } else {
        it(`${name} — applies`, () => expect(() => jsonPatch(c.doc, c.patch)).not.toThrow());
      }
    });
  }

  it('leaves the document it is given alone, and names the failing operation', () => {
    const doc = { a: [1, 2] };
    expect(() => jsonPatch(doc, [{ op: 'add', path: '/a/-', value: 3 }, { op: 'remove', path: '/b' }])).toThrow('JSON patch operation 1 (remove /b): the path does not exist (no "b")');
    expect(doc).toEqual({ a: [1, 2] });
  });

  it('keeps prototype names as plain members', () => {
    const out = jsonPatch({}, [{ op: 'add', path: '/__proto__', value: { polluted: true } }]) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(() => jsonPatch({}, [{ op: 'test', path: '/constructor', value: 1 }])).toThrow(/does not exist/);
  });
});

describe('JSON merge patch (RFC 7386)', () => {
  // the RFC's appendix A, every example
  const examples: [unknown, unknown, unknown][] = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  examples.forEach(([target, patch, result], i) => it(`appendix A, example ${i + 1}`, () => expect(mergePatch(target, patch)).toEqual(result)));

  it('keeps prototype names as plain members, in merge and strategic merge patches', () => {
    for (const patch of [mergePatch, strategicMergePatch]) {
      const out = patch({ a: 1 }, JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"x": 1}}')) as Record<string, unknown>;
      expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
      expect(out.constructor).toEqual({ x: 1 });
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    }
  });
});

describe('strategic merge patch, as kubectl apply and kubectl patch send it for core kinds', () => {
  const pod = {
    metadata: { name: 'web', labels: { app: 'web', zone: 'hall' }, finalizers: ['a', 'b', 'c'] },
    spec: {
      containers: [
        { name: 'app', image: 'app:1', command: ['run', '--fast'], env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }], volumeMounts: [{ name: 'cfg', mountPath: '/cfg' }] },
        { name: 'sidecar', image: 'side:1' },
      ],
      nodeSelector: { zone: 'hall', rack: '2' },
    },
  };
  const containers = (o: unknown): { name: string }[] => (o as { spec: { containers: { name: string }[] } }).spec.containers;

  it.each<[string, unknown, (out: Record<string, any>) => void]>([
    ['merges a list of containers by name: one field of one container changes, the rest stays', { spec: { containers: [{ name: 'sidecar', image: 'side:2' }] } }, (out) => {
      expect(containers(out)).toEqual([pod.spec.containers[0], { name: 'sidecar', image: 'side:2' }]);
    }],
    ['appends a container it does not find', { spec: { containers: [{ name: 'metrics', image: 'm:1' }] } }, (out) => {
      expect(containers(out).map((c) => c.name)).toEqual(['app', 'sidecar', 'metrics']);
    }],
    ['removes a container marked $patch: delete', { spec: { containers: [{ name: 'app', $patch: 'delete' }] } }, (out) => {
      expect(containers(out).map((c) => c.name)).toEqual(['sidecar']);
    }],
    ['orders the merged list as $setElementOrder says', { spec: { 'containers': [{ name: 'metrics', image: 'm:1' }], '$setElementOrder/containers': [{ name: 'metrics' }, { name: 'app' }, { name: 'sidecar' }] } }, (out) => {
      expect(containers(out).map((c) => c.name)).toEqual(['metrics', 'app', 'sidecar']);
      expect(out.spec).not.toHaveProperty('$setElementOrder/containers');
    }],
    ['merges env by name and volumeMounts by mountPath, inside a merged container', { spec: { containers: [{ name: 'app', env: [{ name: 'B', value: '3' }, { name: 'C', value: '4' }], volumeMounts: [{ mountPath: '/cfg', readOnly: true }] }] } }, (out) => {
      expect(out.spec.containers[0].env).toEqual([{ name: 'A', value: '1' }, { name: 'B', value: '3' }, { name: 'C', value: '4' }]);
      expect(out.spec.containers[0].volumeMounts).toEqual([{ name: 'cfg', mountPath: '/cfg', readOnly: true }]);
    }],
    ['replaces a list that has no merge key (a command)', { spec: { containers: [{ name: 'app', command: ['run'] }] } }, (out) => {
      expect(out.spec.containers[0].command).toEqual(['run']);
    }],
    ['removes a key set to null, and merges the map it is in', { metadata: { labels: { zone: null, tier: 'edge' } } }, (out) => {
      expect(out.metadata.labels).toEqual({ app: 'web', tier: 'edge' });
    }],
    ['replaces a map marked $patch: replace', { spec: { nodeSelector: { $patch: 'replace', zone: 'yard' } } }, (out) => {
      expect(out.spec.nodeSelector).toEqual({ zone: 'yard' });
    }],
    ['deletes values from a list of scalars with $deleteFromPrimitiveList', { metadata: { '$deleteFromPrimitiveList/finalizers': ['b'] } }, (out) => {
      expect(out.metadata.finalizers).toEqual(['a', 'c']);
      expect(out.metadata).not.toHaveProperty('$deleteFromPrimitiveList/finalizers');
    }],
  ])('%s', (_, patch, check) => {
    const before = structuredClone(pod);
    check(strategicMergePatch(pod, JSON.parse(JSON.stringify(patch))) as Record<string, any>);
    expect(pod).toEqual(before); // the stored object is never changed in place
  });
});
