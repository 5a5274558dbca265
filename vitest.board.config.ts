import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/board/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 1_200_000,
  },
});
