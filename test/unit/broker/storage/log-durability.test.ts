/**
 * Durability edges. A failed sync is final ("fsyncgate": the kernel may have dropped the pages
 * it could not write and cleared the error): the log goes offline instead of retrying and
 * moving its synced offset past them. And the recovery point, written after each roll's
 * background sync, only ever moves to the end of a contiguous prefix of synced segments.
 * Syncs are failed and held through the log's `beforeSegmentSync` seam.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SluiceError } from '../../../../proto/errors.js';
import { readOffsetCheckpoint, recoveryPointFile } from '../../../../broker/storage/checkpoint.js';
import { Log } from '../../../../broker/storage/log.js';
import { recordsPerTestBatch, testBatch } from '../../../helpers/batches.js';
import { waitFor } from '../../../helpers/broker-process.js';

let directory: string;
beforeEach(() => { directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-durable-')); });
afterEach(() => fs.rmSync(directory, { recursive: true, force: true }));

function eio(): SluiceError {
  const cause = Object.assign(new Error('EIO: i/o error, msync'), { code: 'EIO', errno: -5 });
  return new SluiceError('SLUICE_ERR_STORAGE', 'syncing a mapping: msync failed: Input/output error', { cause });
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => { resolve = done; });
  return { promise, resolve };
}

describe('a failed sync', () => {
  it('takes the log offline: waiters rejected, appends, reads and syncs refused, synced offset unchanged', async () => {
    let failNext = false;
    const background: unknown[] = [];
    const log = Log.open(directory, {
      config: { flushMessages: 1 },
      onBackgroundError: (error) => background.push(error),
      hooks: {
        segmentSync: async (_base, sync) => {
          if (!failNext) return sync();
          failNext = false;
          throw eio();
        },
      },
    });
    log.append(testBatch(0));
    await log.flush();
    expect(log.syncedOffset).toBe(recordsPerTestBatch);

    failNext = true;
    const appended = log.append(testBatch(1));
    await expect(log.waitForSync(appended.lastOffset)).rejects.toMatchObject({ code: 'SLUICE_ERR_STORAGE' });
    expect(log.offline).toBe(true);
    expect(log.syncedOffset).toBe(recordsPerTestBatch);

    const refusal = (() => { try { log.append(testBatch(2)); } catch (error) { return error; } })();
    expect(refusal).toMatchObject({ code: 'SLUICE_ERR_STORAGE', retriable: true });
    expect((refusal as SluiceError).detail).toMatch(/is offline: syncing appended records to disk failed \(.*Input\/output error\).*restart the broker/);
    expect(() => log.read(0, 1 << 20)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_STORAGE' }));
    expect(() => log.flush()).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_STORAGE' }));
    await expect(log.waitForSync(appended.lastOffset)).rejects.toMatchObject({ code: 'SLUICE_ERR_STORAGE' });
    // No retry moved the synced offset on behind the failure's back.
    expect(log.syncedOffset).toBe(recordsPerTestBatch);
    expect(background).toHaveLength(1);
    expect(background[0]).toBe(refusal);

    // Closing lets the files go without claiming a clean stop, so the next open recovers.
    log.close();
    const reopened = Log.open(directory);
    expect(reopened.loadReport.clean).toBe(false);
    expect(reopened.logEndOffset).toBe(2 * recordsPerTestBatch);
    reopened.close();
  });

  it('of a rolled segment takes the log offline and leaves the recovery point where it was', async () => {
    const background: unknown[] = [];
    const log = Log.open(directory, {
      onBackgroundError: (error) => background.push(error),
      hooks: { segmentSync: () => Promise.reject(eio()) },
    });
    log.append(testBatch(0));
    log.roll();
    await waitFor('the background sync to fail', () => background.length > 0);
    expect(log.offline).toBe(true);
    expect(log.recoveryPoint).toBe(0);
    expect(readOffsetCheckpoint(directory, recoveryPointFile)).toBeUndefined();
    expect(() => log.append(testBatch(1))).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_STORAGE' }));
    log.close();
  });
});

describe('the recovery point', () => {
  it('does not pass a segment whose sync has not finished, even when a later roll synced first', async () => {
    // Each sync really runs; the seam holds its completion until the test opens the gate.
    const gates = new Map<number, ReturnType<typeof deferred>>();
    const reported = new Map<number, Promise<void>>();
    const log = Log.open(directory, {
      hooks: {
        segmentSync: (base, sync) => {
          const gate = deferred();
          gates.set(base, gate);
          const done = sync().then(() => gate.promise);
          reported.set(base, done);
          return done;
        },
      },
    });
    log.append(testBatch(0));
    log.roll();
    const secondBase = log.logEndOffset;
    log.append(testBatch(1));
    log.roll();
    const secondEnd = log.logEndOffset;
    await waitFor('both syncs to reach the seam', () => gates.size === 2);

    gates.get(secondBase)!.resolve();
    await reported.get(secondBase);
    // Let the log react to that completion (its reaction is queued behind this one).
    await new Promise((resolve) => setImmediate(resolve));
    // The second segment is synced, the first is not: nothing may be vouched for yet.
    expect(log.recoveryPoint).toBe(0);
    expect(readOffsetCheckpoint(directory, recoveryPointFile)).toBeUndefined();

    gates.get(0)!.resolve();
    await waitFor('the recovery point to reach the second roll', () => readOffsetCheckpoint(directory, recoveryPointFile) === secondEnd);
    expect(log.recoveryPoint).toBe(secondEnd);
    log.close();
  });

  it('moves back when the log is truncated below it', async () => {
    const log = Log.open(directory);
    for (let n = 0; n < 3; n += 1) {
      log.append(testBatch(n));
      log.roll();
    }
    const end = log.logEndOffset;
    await waitFor('the recovery point to reach the last roll', () => log.recoveryPoint === end);
    log.truncateTo(recordsPerTestBatch + 5);
    expect(log.recoveryPoint).toBe(recordsPerTestBatch);
    expect(readOffsetCheckpoint(directory, recoveryPointFile)).toBe(recordsPerTestBatch);
    log.close();
  });
});
