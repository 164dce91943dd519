import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Most e2e time is spent waiting on sockets, leases and child processes: two files at once
    // keep the suite near six minutes on a 2-core machine (one at a time: ten).
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
