import { errorText } from '../../core/errors.js';
import { main } from './opcua.js';

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`mapper-opcua: ${errorText(err)}\n`);
  process.exit(1);
});
