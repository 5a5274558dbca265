import { defineConfig } from 'vitest/config';

// Interoperability with real KubeEdge (../shared/kubeedge) and kubectl. Its binaries use fixed ports,
// so `npm run test:kubeedge` runs inside a private network namespace, one file at a time.
export default defineConfig({
  test: {
    include: ['test/kubeedge/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
