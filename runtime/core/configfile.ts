/** Reading and printing YAML configs shared by edgecore and cloudcore. */
import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { ConfigError, errorText } from './errors.js';
import { validate, type Fields, type Infer, type ObjField } from './schema.js';

export function loadConfig<F extends Fields>(file: string, schema: ObjField<F>): Infer<ObjField<F>> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`cannot read config ${file}: ${errorText(err)}`]);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new ConfigError([`${file} is not valid YAML: ${errorText(err).split('\n')[0]}`]);
  }
  return validate(schema, doc ?? {});
}

export function toYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0 });
}
