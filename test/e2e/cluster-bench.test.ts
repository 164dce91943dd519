/**
 * `npm run bench:cluster` as people run it, at a tiny size: it measures every figure it
 * promises (consistent with each other), and whether it ends or is interrupted with SIGINT,
 * it leaves no broker, etcd or worker process and no temporary directory behind. Its temporary
 * files go under a TMPDIR of this test's own, so what it leaves is seen exactly.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliEntry } from '../../bench/broker-process.js';
import { waitFor } from '../helpers/broker-process.js';

const benchEntry = path.join(path.dirname(path.dirname(cliEntry)), 'bench', 'cluster.js');
const scratches: string[] = [];

/** Pids of processes whose command line mentions `text` (brokers get --data, etcd --data-dir under it). */
function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

afterAll(() => {
  for (const scratch of scratches) {
    for (const pid of processesMentioning(scratch)) process.kill(pid, 'SIGKILL');
    fs.rmSync(scratch, { recursive: true, force: true });
  }
});

function runBench(args: string[], onStderr?: (stderr: string, child: ReturnType<typeof spawn>) => void) {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-cluster-bench-test-'));
  scratches.push(scratch);
  const child = spawn(process.execPath, [benchEntry, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: scratch } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    onStderr?.(stderr, child);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 100_000);
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return { scratch, exited };
}

const small = ['--records', '20000', '--latency-seconds', '1', '--rate', '2000', '--failovers', '1', '--catch-up-bytes', String(4 * 1024 * 1024)];

describe('bench:cluster', () => {
  it('measures throughput, latency, failover and catch-up in one run and leaves nothing behind', async () => {
    const { scratch, exited } = runBench(['--json', ...small]);
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
    let interrupted = false;
    const { scratch, exited } = runBench(small, (stderr, child) => {
      if (!interrupted && stderr.includes('2. three brokers')) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    const { code, stderr } = await exited;
    expect(interrupted, stderr).toBe(true);
    expect(code).toBe(130);
    await waitFor('no process left under the bench\'s TMPDIR', () => processesMentioning(scratch).length === 0, 10_000);
    expect(fs.readdirSync(scratch)).toEqual([]);
  }, 110_000);
});
