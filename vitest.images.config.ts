import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/images/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 240_000,
    hookTimeout: 300_000,
  },
});
