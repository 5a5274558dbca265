/** Checks an object posted to the resource API; problems become a 422 Invalid Status naming each field. */
import type { Kind, KubeObject } from '../store/objects.js';
import { ApiError } from './status.js';
import { checkManifest, describeProblems } from '../../api/manifest.js';

/**
 * `modelProperties` looks up the property names of the model a device spec references (undefined
 * when that model does not exist yet: it may be applied after the device, as with KubeEdge).
 */
export function validateObject(kind: Kind, body: unknown, namespace: string | undefined, pathName: string | undefined, modelProperties?: (spec: Record<string, unknown>) => ReadonlySet<string> | undefined): KubeObject {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError('BadRequest', 'the body must be a JSON object');
  const { object, problems } = checkManifest(kind, body, { namespace, pathName, ...(modelProperties ? { modelProperties } : {}) });
  if (!object) throw new ApiError('Invalid', describeProblems(kind, body, problems), problems);
  return object;
}
