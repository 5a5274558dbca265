import { describe, expect, it } from 'vitest';
import { fieldSelector, labelSelector } from '../../../cloud-stub/apiserver/selectors.js';
import type { KubeObject } from '../../../cloud-stub/store/objects.js';

const obj = (name: string, labels?: Record<string, string>, spec: Record<string, unknown> = {}): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, ...(labels ? { labels } : {}) }, spec });
const objects = [obj('web-1', { app: 'web', tier: 'front' }, { nodeName: 'pi-1' }), obj('db-1', { app: 'db' }, { nodeName: 'pi-2' }), obj('bare')];
const names = (sel: (o: KubeObject) => boolean): string[] => objects.filter(sel).map((o) => o.metadata.name);

describe('label selectors, as Kubernetes parses them', () => {
  it('takes equality, inequality, set and existence terms, all of them at once', () => {
    expect(names(labelSelector('app=web'))).toEqual(['web-1']);
    expect(names(labelSelector('app==web'))).toEqual(['web-1']);
    expect(names(labelSelector('app!=web'))).toEqual(['db-1', 'bare']);
    expect(names(labelSelector('app in (web, db)'))).toEqual(['web-1', 'db-1']);
    expect(names(labelSelector('app notin (web)'))).toEqual(['db-1', 'bare']);
    expect(names(labelSelector('tier'))).toEqual(['web-1']);
    expect(names(labelSelector('!tier'))).toEqual(['db-1', 'bare']);
    expect(names(labelSelector('app,!tier'))).toEqual(['db-1']);
    expect(names(labelSelector(null))).toEqual(['web-1', 'db-1', 'bare']);
  });

  it('looks only at an object\'s own labels: prototype names match nothing', () => {
    for (const key of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect(names(labelSelector(key))).toEqual([]);
      expect(names(labelSelector(`!${key}`))).toEqual(['web-1', 'db-1', 'bare']);
      expect(names(labelSelector(`${key} in (x)`))).toEqual([]);
    }
  });

  it('refuses what it cannot parse, with a 400 naming the term', () => {
    expect(() => labelSelector('app=(web')).toThrow(/unable to parse requirement "app=\(web"/);
  });
});

describe('field selectors', () => {
  it('match dotted paths of the object, = and !=', () => {
    expect(names(fieldSelector('spec.nodeName=pi-1'))).toEqual(['web-1']);
    expect(names(fieldSelector('metadata.name!=bare,spec.nodeName!=pi-1'))).toEqual(['db-1']);
  });

  it('never reach through a prototype', () => {
    expect(names(fieldSelector('metadata.constructor.name=Object'))).toEqual([]);
    expect(names(fieldSelector('spec.toString='))).toEqual(['web-1', 'db-1', 'bare']);
  });
});
