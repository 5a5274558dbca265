/** Type guards for decoded input (JSON, CBOR, YAML): what arrives is `unknown` until checked. */
export const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
