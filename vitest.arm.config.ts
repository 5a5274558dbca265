import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/arm/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 180_000,
    hookTimeout: 120_000,
  },
});
