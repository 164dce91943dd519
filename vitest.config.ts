import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Most e2e time is spent waiting on sockets, leases and child processes, so two files run at
    // once on a 2-core machine; more make the timing-sensitive cluster tests flaky.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
