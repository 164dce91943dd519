/**
 * `npm run bench:cluster` as people run it, at a tiny size: it measures every figure it
 * promises (consistent with each other), and whether it ends or is interrupted with SIGINT,
 * it leaves no broker, etcd or worker process and no temporary directory behind. Its temporary
 * files go under a TMPDIR of this test's own, so what it leaves is seen exactly.
 */
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { benchRunner, processesMentioning } from '../helpers/bench-run.js';
import { waitFor } from '../helpers/broker-process.js';

const bench = benchRunner('cluster');

afterAll(() => bench.cleanup());

const small = ['--records', '20000', '--latency-seconds', '1', '--rate', '2000', '--failovers', '1', '--catch-up-bytes', String(4 * 1024 * 1024)];

describe('bench:cluster', () => {
  it('measures throughput, latency, failover and catch-up in one run and leaves nothing behind', async () => {
    const { scratch, exited } = bench.run(['--json', ...small]);
    const { code, stdout, stderr } = await exited;
    expect(code, stderr).toBe(0);
    const result = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, number> & { failoverMs: number[] };
    const figure = (name: string) => result[name]!;
    process.stdout.write(`bench:cluster (tiny): ${stdout}`);
    expect(figure('singleAcks1RecordsPerSec')).toBeGreaterThan(0);
    expect(figure('clusterAcksAllRecordsPerSec')).toBeGreaterThan(0);
    expect(figure('clusterAcks1RecordsPerSec')).toBeGreaterThan(0);
    expect(figure('acksAllVsSingle')).toBeCloseTo(figure('clusterAcksAllRecordsPerSec') / figure('singleAcks1RecordsPerSec'), 2);
    expect(figure('latencyRate')).toBe(2000);
    for (const prefix of ['acksAll', 'singleAcks1']) {
      expect(figure(`${prefix}P50Ms`)).toBeGreaterThan(0);
      expect(figure(`${prefix}P99Ms`)).toBeGreaterThanOrEqual(figure(`${prefix}P50Ms`));
      expect(figure(`${prefix}P999Ms`)).toBeGreaterThanOrEqual(figure(`${prefix}P99Ms`));
    }
    expect(result.failoverMs).toHaveLength(1);
    expect(result.failoverMs[0]).toBeGreaterThan(0);
    // Every record the follower missed is on the leaders, and it caught up after it started.
    expect(figure('catchUpBytes')).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    expect(figure('catchUpMs')).toBeGreaterThanOrEqual(figure('catchUpReadyMs'));
    expect(figure('catchUpIsrMs')).toBeGreaterThanOrEqual(figure('catchUpMs'));
    expect(figure('loopbackMBps')).toBeGreaterThan(0);
    expect(figure('rawWriteMBps')).toBeGreaterThan(0);
    expect(fs.readdirSync(scratch)).toEqual([]);
    expect(processesMentioning(scratch)).toEqual([]);
  }, 110_000);

  it('stops every process and removes its files when interrupted while the cluster runs', async () => {
    const { scratch, interrupted, code, stderr } = await bench.interruptAt(small, '2. three brokers');
    expect(interrupted, stderr).toBe(true);
    expect(code).toBe(130);
    await waitFor('no process left under the bench\'s TMPDIR', () => processesMentioning(scratch).length === 0, 10_000);
    expect(fs.readdirSync(scratch)).toEqual([]);
  }, 110_000);
});
