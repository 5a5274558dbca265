/** Checks an object posted to the resource API; problems become a 422 Invalid Status naming each field. */
import type { Kind, KubeObject } from '../store/objects.js';
import { ApiError } from './status.js';
import { checkManifest, describeProblems, type ManifestCheck } from '../../api/manifest.js';

/**
 * `check.modelProperties` looks up the property names of the model a device spec references, and
 * `check.endpointType` the type of a RuleEndpoint a rule names (undefined when it does not exist
 * yet: it may be applied after, as with KubeEdge).
 */
export function validateObject(kind: Kind, body: unknown, check: ManifestCheck): KubeObject {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError('BadRequest', 'the body must be a JSON object');
  const { object, problems } = checkManifest(kind, body, check);
  if (!object) throw new ApiError('Invalid', describeProblems(kind, body, problems), problems);
  return object;
}
