import { runEdgeCore } from './main.js';

void runEdgeCore(process.argv.slice(2));
