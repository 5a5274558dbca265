/** Reading and printing YAML configs shared by edgecore and cloudcore. */
import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { ConfigError, errorText } from './errors.js';
import { validateWith, type Fields, type Infer, type KeyTree, type ObjField } from './schema.js';

/** a config file, checked against `schema`; keys of `foreign` (KubeEdge's own config) we do not use come back as `ignored` */
/** A config file that cannot be read at all: the program says what to do about it (see cli.ts). */
export class ConfigReadError extends Error {
  constructor(
    readonly file: string,
    readonly code: string | undefined,
    reason: string,
  ) {
    super(`cannot read config ${file}: ${reason}`);
  }
}

export function loadConfig<F extends Fields>(file: string, schema: ObjField<F>, foreign?: KeyTree): { config: Infer<ObjField<F>>; ignored: string[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigReadError(file, (err as NodeJS.ErrnoException).code, errorText(err));
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new ConfigError([`${file} is not valid YAML: ${errorText(err).split('\n')[0]}`]);
  }
  return validateWith(schema, doc ?? {}, foreign);
}

/** Reads a file a program needs, or throws one line naming it, why, and (with `fix`) what to do. */
export function readRequiredFile(path: string, what: string, fix = ''): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read ${what} ${path}: ${errorText(err)}${fix ? ` (${fix})` : ''}`);
  }
}

export function toYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0 });
}
