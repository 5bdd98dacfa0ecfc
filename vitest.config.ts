import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // Backend suites make their own schema / key prefix, so files can run side by side.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
