import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cloudcoreRunningHere } from '../../../core/environment.js';

// a /proc tree of real files: each process's cmdline as the kernel writes it (NUL-separated)
let root: string;
const proc = (pid: number, argv: string[]): void => {
  mkdirSync(join(root, String(pid)), { recursive: true });
  writeFileSync(join(root, String(pid), 'cmdline'), argv.join('\0') + '\0');
};
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('the "cloudcore runs here" check', () => {
  it('sees cloudcore however it was started, and nothing else', () => {
    root = mkdtempSync(join(tmpdir(), 'ke-proc-'));
    proc(10, ['/usr/bin/node', '/opt/kubeedge/edgecore.js', '--config', '/etc/kubeedge/config/cloudcore.yaml']);
    proc(11, ['node', '--max-semi-space-size=1', '--liftoff-only']);
    expect(cloudcoreRunningHere(root)).toBeUndefined();
    // as keadm init starts it: node flags before the script
    proc(12, ['/usr/bin/node', '--max-semi-space-size=1', '--liftoff-only', '/opt/kubeedge/dist/cloudcore.js', '--config', 'x.yaml']);
    expect(cloudcoreRunningHere(root)).toBe(12);
    rmSync(join(root, '12'), { recursive: true });
    proc(13, ['/usr/local/bin/cloudcore', '--config', 'x.yaml']); // KubeEdge's own binary
    expect(cloudcoreRunningHere(root)).toBe(13);
  });
});
