/** The bundles' sizes: dist/edgecore.js against its 1.5 MiB budget and KubeEdge's 95 MiB edgecore. */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../test/peers/proc.js';
import { report, type Row } from './lib/report.js';

const KUBEEDGE_EDGECORE_BYTES = 95 * 1024 * 1024;
const BUDGET = 1.5 * 1024 * 1024;
const size = (name: string): number => statSync(join(ROOT, 'dist', `${name}.js`)).size;
const edge = size('edgecore');
const rows: Row[] = [
  { metric: 'dist/edgecore.js', ours: edge / 1024 / 1024, peer: 95, peerName: "KubeEdge's edgecore", ratio: edge / KUBEEDGE_EDGECORE_BYTES, unit: 'MiB', target: '≤ 1.5 MiB', met: edge <= BUDGET },
  { metric: 'dist/cloudcore.js', ours: size('cloudcore') / 1024 / 1024, unit: 'MiB' },
  { metric: 'dist/keadm.js', ours: size('keadm') / 1024 / 1024, unit: 'MiB' },
];
report('size', rows);
