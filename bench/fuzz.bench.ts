/**
 * The long fuzz runs (the short ones are in `npm test`): 10^6 mutated frames at CloudHub and at
 * EdgeHub, 10^5 mutated MQTT payloads at the twin and upload topics, 10^4 mutated manifests at the
 * API (`--scale 0.1` for a tenth of each). Reported: what each target took and refused (counted by
 * the target itself against what the codec refuses here), connections dropped, and its memory
 * before and after.
 */
import { makeCluster } from '../test/e2e/cluster.js';
import { apiManifests, captureSession } from '../test/fuzz/session.js';
import { fuzzApi, fuzzCloudHub, fuzzEdgeHub, fuzzMqtt, startRelay, type FuzzResult } from '../test/fuzz/targets.js';
import { report, type Row } from './lib/report.js';
import { memoryOf } from './lib/usage.js';

const i = process.argv.indexOf('--scale');
const SCALE = Number(i > 0 ? process.argv[i + 1] : (process.env.BENCH_FUZZ_SCALE ?? 1));
const NODE = 'fuzz-edge';

/** `exact`: the target's refusals must equal what the codec refuses here; `mayClose`: a refusal closes the connection (MQTT 3.1.1's only way) */
function rowsOf(target: string, r: FuzzResult, exact: boolean, mayClose = false): Row[] {
  const counted = exact ? r.refused === r.invalid : true;
  const alive = mayClose || r.closes === 0;
  return [
    { metric: `${target}: ${r.sent.toLocaleString('en')} inputs → taken / refused (invalid by the codec here)`, ours: `${r.accepted.toLocaleString('en')} / ${r.refused.toLocaleString('en')} (${r.invalid.toLocaleString('en')})`, unit: '', target: 'every refusal counted, no crash', met: counted && alive },
    { metric: `  ${target}: RSS before / after`, ours: `${r.rssBefore.toFixed(1)} / ${r.rssAfter.toFixed(1)}`, unit: 'MiB' },
  ];
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const c = await makeCluster();
  try {
    // GC'd heap figures on SIGUSR2 (RSS alone keeps what a burst made the heap grow to)
    const gc = { NODE_OPTIONS: '--expose-gc' };
    const cloud = await c.startCloud({}, gc);
    const relay = await startRelay(c, NODE);
    const edge = await captureSession(c, relay, NODE, gc);
    const cloudHeap0 = (await memoryOf(cloud)).heap;
    const edgeHeap0 = (await memoryOf(edge.proc)).heap;
    rows.push({ metric: 'corpus captured from a real session: frames up / down', ours: `${relay.up.length} / ${relay.down.length}`, unit: 'frames' });
    const t0 = performance.now();
    rows.push(...rowsOf('CloudHub, edge frames', await fuzzCloudHub(c, relay.up, Math.round(1e6 * SCALE), 11), true));
    const api = await fuzzApi(c, apiManifests(), Math.round(1e4 * SCALE), 13);
    rows.push(...rowsOf('API, manifests', api, true));
    rows.push({ metric: '  API answers by status', ours: Object.entries(api.byStatus).map(([s, n]) => `${s}:${n}`).join(' '), unit: '', target: 'no 5xx, no dropped connection', met: Object.keys(api.byStatus).every((s) => Number(s) >= 200 && Number(s) < 500) });
    const mq = await fuzzMqtt(edge, NODE, 'fuzz-thermo', Math.round(1e5 * SCALE), 12);
    rows.push(...rowsOf('EventBus/DeviceTwin, MQTT payloads', mq, false, true));
    const failed = edge.proc.lines.filter((l) => /twin request failed/.test(l)).length;
    rows.push({ metric: '  uploads taken / refused of sent; twin requests failed inside (500)', ours: `${mq.uploadsTaken} / ${mq.uploadsRefused} of ${mq.uploads}; ${failed}`, unit: '', target: 'all accounted for, 0 failed', met: mq.uploadsTaken + mq.uploadsRefused === mq.uploads && failed === 0 && mq.hangs === 0 });
    const down = await fuzzEdgeHub(edge, relay, Math.round(1e6 * SCALE), 14);
    rows.push(...rowsOf('EdgeHub, cloud frames', down, true));
    rows.push({ metric: '  of the frames taken, messages MetaManager refused (answered with an error, counted)', ours: down.refusedMessages, unit: 'messages' });
    const heapRow = (who: string, before: number, after: number): Row => ({ metric: `${who} JS heap after a full GC: before / after`, ours: `${(before / 1024).toFixed(1)} / ${(after / 1024).toFixed(1)}`, unit: 'MiB', target: 'after ≤ before + 10', met: after <= before + 10 * 1024 });
    rows.push(heapRow('cloudcore', cloudHeap0, (await memoryOf(cloud)).heap));
    rows.push(heapRow('edgecore', edgeHeap0, (await memoryOf(edge.proc)).heap));
    rows.push({ metric: 'processes alive at the end (cloudcore, edgecore)', ours: `${c.cloud?.child.exitCode === null}, ${edge.proc.child.exitCode === null}`, unit: '', target: 'true, true', met: c.cloud?.child.exitCode === null && edge.proc.child.exitCode === null });
    rows.push({ metric: 'whole fuzz run', ours: (performance.now() - t0) / 1000, unit: 's' });
    await relay.close();
  } finally {
    await c.stop();
  }
  report('fuzz', rows);
}

await main();
process.exit(0);
