import { defineConfig } from 'vitest/config';

/**
 * Three tiers, told apart by file name. `npm test` runs them all; each has its own script.
 * - unit (`test:unit`): needs no service, no build: pure logic, SQLite, in-process HTTP on SQLite.
 * - integration (`*.integration.test.ts`): Postgres, Redis, a Redis Cluster of spawned redis-servers.
 * - e2e (`*.e2e.test.ts`): the built server as a process, and the bench smoke run.
 */
const INTEGRATION = 'test/**/*.integration.test.ts';
const E2E = 'test/**/*.e2e.test.ts';

export default defineConfig({
  test: {
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // Backend suites make their own schema / key prefix, so files can run side by side.
    fileParallelism: true,
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: [INTEGRATION, E2E] } },
      { extends: true, test: { name: 'integration', include: [INTEGRATION] } },
      { extends: true, test: { name: 'e2e', include: [E2E] } },
    ],
  },
});
