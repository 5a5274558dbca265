import { runKeadm } from './main.js';

void runKeadm(process.argv.slice(2));
