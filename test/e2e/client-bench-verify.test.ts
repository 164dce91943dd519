/**
 * `sluice bench produce --verify` and its checker (bench/verify.ts) against a real broker:
 * a clean run reads every acknowledged record back (0 missing, 0 duplicated, 0 out of order,
 * exit 0), also when the broker is SIGKILLed and restarted during the run (the producers
 * retry through it); a crafted log with a record missing, one written twice and one out of
 * order is reported as such, per partition, by the function and by `sluice bench verify`,
 * which exits 1 because an acknowledged record is missing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BenchResult } from '../../bench/load/result.js';
import { type AckLog, checkRecords, verifyHeaders, verifyTopic } from '../../bench/verify.js';
import { Sluice } from '../../client/sluice.js';
import { buildRecordBatch, decodeRecords } from '../../proto/record-batch/record-batch.js';
import { cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';
import { runCli } from '../helpers/cli.js';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-verify-test-'));

afterAll(async () => {
  await cleanupBrokers();
  fs.rmSync(scratch, { recursive: true, force: true });
});

/** Records as a partition would hold them, with verify headers. */
function records(partition: number, ids: Array<[producerId: string, sequence: number, sentTo?: number]>) {
  const batch = buildRecordBatch(ids.map(([producerId, sequence, sentTo]) => ({
    key: null, value: Buffer.from('v'), timestamp: 0,
    headers: Object.entries(verifyHeaders(producerId, sequence, sentTo ?? partition)).map(([key, value]) => ({ key, value: Buffer.from(value) })),
  })));
  return decodeRecords(batch, { partition });
}

describe('the verify checker', () => {
  it('counts missing, duplicated, out-of-order and misplaced records per partition', () => {
    const acks: AckLog = { runId: 'run1', topic: 't', producers: [{ producerId: 'run1-0', ranges: [[0, 0, 5], [1, 6, 7]] }, { producerId: 'run1-1', ranges: [[0, 0, 1]] }] };
    const log = new Map([
      // 0..4 with 3 written twice and 4 before 3; 5 missing; producer 1 fine; another run's record ignored.
      [0, records(0, [['run1-0', 0], ['run1-1', 0], ['run1-0', 1], ['run1-0', 2], ['run1-0', 4], ['run1-0', 3], ['run1-0', 3], ['run1-1', 1], ['old-0', 9]])],
      // 6 present, 7 missing, and a record sent to partition 0 found here.
      [1, records(1, [['run1-0', 6], ['run1-1', 2, 0]])],
    ]);
    const report = checkRecords(acks, log);
    expect(report.partitions).toEqual([
      { partition: 0, acknowledged: 8, found: 8, missing: 1, duplicated: 1, outOfOrder: 1, misplaced: 0, missingSample: ['run1-0:5'] },
      { partition: 1, acknowledged: 2, found: 2, missing: 1, duplicated: 0, outOfOrder: 0, misplaced: 1, missingSample: ['run1-0:7'] },
    ]);
    expect(report.totals).toEqual({ acknowledged: 10, found: 10, missing: 2, duplicated: 1, outOfOrder: 1, misplaced: 1 });
    expect(report.ok).toBe(false);
    expect(checkRecords({ ...acks, producers: [{ producerId: 'run1-0', ranges: [[1, 6, 6]] }] }, log).ok).toBe(true);
  });
});

describe('sluice bench produce --verify', () => {
  it('reports 0 missing, 0 duplicated, 0 out of order after a clean run, and exits 0', async () => {
    const broker = await startBroker();
    const json = path.join(scratch, 'clean.json');
    const result = await runCli(['bench', 'produce', '--bootstrap', broker.bootstrap, '--topic', 'clean', '--partitions', '3', '--records', '20000', '--producers', '2',
      '--acks', 'all', '--verify', '--json', json, '--quiet'], { timeoutMs: 90_000 });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('total: 20000 acknowledged, 0 missing, 0 duplicated, 0 out of order, 0 misplaced');
    expect(result.stdout).toContain('OK: every acknowledged record is there');
    const written = JSON.parse(fs.readFileSync(json, 'utf8')) as BenchResult;
    expect(written.verify!.partitions.map((partition) => partition.partition)).toEqual([0, 1, 2]);
    expect(written.verify!.totals).toEqual({ acknowledged: 20000, found: 20000, missing: 0, duplicated: 0, outOfOrder: 0, misplaced: 0 });
  });

  it('goes on through a broker SIGKILL and restart, and still reads every acknowledged record back', async () => {
    const first = await startBroker();
    const json = path.join(scratch, 'killed.json');
    let stderr = '';
    const run = runCli(['bench', 'produce', '--bootstrap', first.bootstrap, '--topic', 'killed', '--partitions', '3', '--records', '200000', '--rate', '20000',
      '--acks', 'all', '--verify', '--json', json, '--quiet'], { timeoutMs: 120_000, onStderr: (text) => { stderr = text; } });
    // Kill the broker once records are flowing, then bring it back on the same port and data.
    const probe = new Sluice({ bootstrap: first.bootstrap });
    await waitFor('records in the topic', async () => {
      const description = await probe.admin().describeTopic('killed').catch(() => undefined);
      return (description?.partitions.reduce((sum, partition) => sum + partition.logEndOffset, 0) ?? 0) > 20_000;
    }, 30_000);
    await probe.close();
    await first.stop('SIGKILL');
    await startBroker({ port: first.port, dataDirectory: first.dataDirectory });
    const result = await run;
    expect(stderr).toBe('');
    const written = JSON.parse(fs.readFileSync(json, 'utf8')) as BenchResult;
    expect(written.verify!.totals.missing).toBe(0);
    expect(written.verify!.totals.acknowledged).toBeGreaterThan(20_000);
    expect(written.verify!.totals.acknowledged + (written.failedRecords ?? 0)).toBeLessThanOrEqual(200_000);
    expect(result.stdout).toContain('OK: every acknowledged record is there');
    expect(result.code).toBe(written.error === undefined ? 0 : 1);
  }, 150_000);

  it('reports a crafted log whose records are missing, duplicated and out of order, and `bench verify` exits 1', async () => {
    const broker = await startBroker();
    const sluice = new Sluice({ bootstrap: broker.bootstrap });
    try {
      await sluice.admin().createTopic('crafted', { partitions: 2 });
      const producer = sluice.producer({ lingerMs: 0 });
      const send = (partition: number, sequence: number) => producer.send({ topic: 'crafted', messages: [{ value: 'v', partition, headers: verifyHeaders('runX-0', sequence, partition) }] });
      // Partition 0 holds 0, 1, 3, 2, 3 (2 after 3; 3 twice); 4 was acknowledged but is not there. Partition 1 is fine.
      for (const sequence of [0, 1, 3, 2, 3]) await send(0, sequence);
      for (const sequence of [10, 11]) await send(1, sequence);
      await producer.flush();
      const acks: AckLog = { runId: 'runX', topic: 'crafted', producers: [{ producerId: 'runX-0', ranges: [[0, 0, 4], [1, 10, 11]] }] };
      const report = await verifyTopic(broker.bootstrap, acks, { timeoutMs: 20_000 });
      expect(report.partitions).toEqual([
        { partition: 0, acknowledged: 5, found: 5, missing: 1, duplicated: 1, outOfOrder: 1, misplaced: 0, missingSample: ['runX-0:4'] },
        { partition: 1, acknowledged: 2, found: 2, missing: 0, duplicated: 0, outOfOrder: 0, misplaced: 0, missingSample: [] },
      ]);
      expect(report.ok).toBe(false);
      const acksFile = path.join(scratch, 'crafted-acks.json');
      fs.writeFileSync(acksFile, JSON.stringify(acks));
      const result = await runCli(['bench', 'verify', '--acks-file', acksFile, '--bootstrap', broker.bootstrap]);
      expect(result.code).toBe(1);
      expect(result.stdout).toContain('total: 7 acknowledged, 1 missing, 1 duplicated, 1 out of order, 0 misplaced');
      expect(result.stdout).toContain('partition 0 lacks runX-0:4');
      expect(result.stdout).toContain('FAILED: 1 acknowledged record is missing');
    } finally {
      await sluice.close();
    }
  });
});
