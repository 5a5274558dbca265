import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/arm/**', 'test/kubeedge/**', 'test/images/**', 'test/board/**', '**/node_modules/**'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // end-to-end tests start real processes and bind ports; two workers match the two cores here
    maxWorkers: 2,
  },
});
