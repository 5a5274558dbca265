/** A request's body and query as the resource API reads them, with Kubernetes' refusals. */
import type { IncomingMessage } from 'node:http';
import { errorText } from '../../core/errors.js';
import { readBounded } from '../../core/http.js';
import { ApiError } from './status.js';

const MAX_BODY = 1024 * 1024;

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ApiError('BadRequest', `request body is not JSON: ${errorText(err)}`);
  }
}

export async function readRaw(req: IncomingMessage): Promise<string> {
  const body = await readBounded(req, MAX_BODY);
  if (!body) throw new ApiError('RequestEntityTooLarge', `request body exceeds ${MAX_BODY} bytes`);
  return body.toString('utf8');
}

/**
 * `dryRun=All` (query, or a DELETE's options): check and answer as if done, change nothing. Any other
 * value is refused, as Kubernetes refuses it.
 */
export function dryRunOf(values: readonly unknown[]): boolean {
  const bad = values.find((v) => v !== 'All');
  if (bad !== undefined) throw new ApiError('BadRequest', `dryRun: Unsupported value: ${JSON.stringify(bad)}: supported values: "All"`);
  return values.length > 0;
}

/** a dry run asked for in the query or in a body's options (DeleteOptions, an Eviction's deleteOptions) */
export function dryRunIn(params: URLSearchParams, options: { dryRun?: unknown } | null | undefined): boolean {
  return dryRunOf(params.getAll('dryRun')) || dryRunOf(Array.isArray(options?.dryRun) ? options.dryRun : []);
}
