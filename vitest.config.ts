import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Concurrency tests start their own worker threads; running test files in parallel on a
    // 2-core machine would only slow each other down and blur timing bounds.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
