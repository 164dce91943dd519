/**
 * Named starting points for `sluice bench --workload NAME`; any flag given as well overrides
 * the workload's value.
 */
import type { BenchConfig } from './result.js';

export const workloads: Record<string, { description: string; settings: Partial<BenchConfig> }> = {
  'small-records': {
    description: '100-byte records, 6 partitions, one producer as fast as it can (throughput of many small records)',
    settings: { mode: 'produce', recordBytes: 100, partitions: 6, records: 2_000_000, producers: 1 },
  },
  'large-records': {
    description: '10 KiB records, 6 partitions, one producer as fast as it can (bandwidth)',
    settings: { mode: 'produce', recordBytes: 10 * 1024, partitions: 6, records: 50_000, producers: 1, batchSize: 64 * 1024 },
  },
  'many-partitions': {
    description: '100-byte keyed records over 120 partitions, two producers (batching under spread)',
    settings: { mode: 'produce', recordBytes: 100, partitions: 120, records: 1_000_000, producers: 2, keys: '100000' },
  },
  latency: {
    description: 'end to end, 100-byte records at 50,000 records/s for 20 s after a 2 s warm-up, one producer and one consumer',
    settings: { mode: 'e2e', recordBytes: 100, partitions: 6, rate: 50_000, durationS: 22, warmupS: 2, producers: 1, consumers: 1, lingerMs: 0 },
  },
};
