/**
 * Kubernetes' Table answers (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), which kubectl
 * asks for so the server says what the columns are: the same columns keadm prints (api/columns),
 * those shown only with `-o wide` at priority 1.
 */
import { columns, type Obj } from '../../api/columns.js';
import type { ResourceKind } from '../../api/resources.js';
import type { KubeObject } from '../store/objects.js';

export function wantsTable(accept: string | undefined): boolean {
  return /as=Table/.test(accept ?? '');
}

export function table(kind: ResourceKind, objects: KubeObject[], resourceVersion: string, includeObject: string | null): unknown {
  const narrow = columns(kind, false, false).head.length;
  const { head, row } = columns(kind, true, false);
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: head.map((name, i) => ({
      name: name === 'NAME' ? 'Name' : name.charAt(0) + name.slice(1).toLowerCase(),
      type: name === 'RESTARTS' || name === 'SUCCESS' || name === 'FAIL' ? 'integer' : 'string',
      format: name === 'NAME' ? 'name' : '',
      description: '',
      priority: i < narrow ? 0 : 1,
    })),
    rows: objects.map((o) => ({
      cells: row(o as unknown as Obj).map((c, i) => (head[i] === 'RESTARTS' || head[i] === 'SUCCESS' || head[i] === 'FAIL' ? Number(c) : c)),
      object:
        includeObject === 'Object'
          ? o
          : includeObject === 'None'
            ? null
            : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  };
}
