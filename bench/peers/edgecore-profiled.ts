// edgecore with readable names, for a CPU profile: the bench runs it as
// `node --cpu-prof … edgecore-profiled.mjs <ignored bundle path> --config …` (the launcher a test
// edge is started with puts the bundle's path first; this takes its place).
import { runEdgeCore } from '../../runtime/main.js';

void runEdgeCore(process.argv.slice(3));
