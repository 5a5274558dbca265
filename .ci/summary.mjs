// Names each failed test (at the end of CI's output, where it is seen) and prints one closing line over the vitest JSON reports given: "tests: N passed, N failed, N skipped".
// A skipped or to-do test fails the run as a failed one does: a test that did not run proves nothing.
import { readFileSync, existsSync } from 'node:fs';

let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of process.argv.slice(2)) {
  if (!existsSync(file)) {
    console.error(`summary: ${file} is missing (its run did not finish)`);
    failed++;
    continue;
  }
  const r = JSON.parse(readFileSync(file, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  for (const suite of r.testResults ?? []) {
    if (suite.status === 'failed' && !(suite.assertionResults ?? []).some((t) => t.status === 'failed')) console.error(`summary: failed in ${suite.name}: ${(suite.message ?? '').split('\n')[0]}`);
    for (const t of suite.assertionResults ?? []) {
      if (t.status === 'failed') console.error(`summary: failed in ${suite.name}: ${t.fullName}\n  ${(t.failureMessages ?? []).join(' ').split('\n').slice(0, 3).join('\n  ')}`);
    }
  }
  const notRun = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  skipped += notRun;
  if (notRun > 0) {
    for (const suite of r.testResults ?? []) {
      for (const t of suite.assertionResults ?? []) if (t.status === 'pending' || t.status === 'skipped' || t.status === 'todo') console.error(`summary: skipped in ${suite.name}: ${t.fullName}`);
    }
  }
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || skipped > 0 || passed === 0 ? 1 : 0);
