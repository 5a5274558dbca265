import { runCloudCore } from './main.js';

void runCloudCore(process.argv.slice(2));
