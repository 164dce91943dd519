/**
 * What replication needs from a partition log: leader epochs kept from the batches, a high
 * watermark that survives restarts, and group-commit waiters told when truncation removed
 * their offsets.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Log } from '../../../../broker/storage/log.js';
import { recordsPerTestBatch, testBatch, withBaseOffset } from '../../../helpers/batches.js';
import { waitFor } from '../../../helpers/broker-process.js';
import { descriptorsUnder } from '../../../helpers/proc.js';

let directory: string;
beforeEach(() => { directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-log-repl-')); });
afterEach(() => fs.rmSync(directory, { recursive: true, force: true }));

/** Batch `n` as a leader stored it: at `baseOffset`, stamped with `epoch`. */
function leaderBatch(n: number, baseOffset: number, epoch: number): Buffer {
  const batch = withBaseOffset(testBatch(n), baseOffset);
  batch.writeInt32BE(epoch, 12);
  return batch;
}

const epochFile = () => path.join(directory, 'leader-epoch-checkpoint');
const hwFile = () => path.join(directory, 'high-watermark');

describe('leader epochs in the log', () => {
  it('records where each epoch stamped by the leader path begins, once per epoch', () => {
    const log = Log.open(directory);
    log.append(testBatch(0), { leaderEpoch: 0 });
    log.append(testBatch(1), { leaderEpoch: 0 });
    log.append(testBatch(2), { leaderEpoch: 3 });
    log.append(testBatch(3), { leaderEpoch: 3 });
    expect(log.leaderEpochs.entries()).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 3, startOffset: 20 }]);
    expect(log.endOffsetForEpoch(0)).toEqual({ epoch: 0, endOffset: 20 });
    expect(log.endOffsetForEpoch(3)).toEqual({ epoch: 3, endOffset: 40 });
    expect(log.endOffsetForEpoch(2)).toEqual({ epoch: 0, endOffset: 20 });
    expect(fs.readFileSync(epochFile(), 'utf8')).toBe('0\n2\n0 0\n3 20\n');
    log.close();
  });

  it('keeps the leader\'s stamp on the follower path, and producers\' −1 starts nothing', () => {
    const log = Log.open(directory);
    log.append(testBatch(0));
    expect(log.leaderEpochs.latestEpoch).toBeUndefined();
    log.append(Buffer.concat([leaderBatch(1, 10, 2), leaderBatch(2, 20, 2), leaderBatch(3, 30, 5)]), { assignOffsets: false });
    log.append(leaderBatch(4, 40, -1), { assignOffsets: false });
    expect(log.leaderEpochs.entries()).toEqual([{ epoch: 2, startOffset: 10 }, { epoch: 5, startOffset: 30 }]);
    log.close();
  });

  it('cuts epochs on truncation and on log start moves', () => {
    const log = Log.open(directory, { config: { segmentBytes: 4 * 1024 } });
    for (let n = 0; n < 12; n += 1) log.append(testBatch(n), { leaderEpoch: Math.floor(n / 3) });
    expect(log.leaderEpochs.entries().map((entry) => entry.startOffset)).toEqual([0, 30, 60, 90]);
    log.truncateTo(70);
    expect(log.leaderEpochs.entries()).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 1, startOffset: 30 }, { epoch: 2, startOffset: 60 }]);
    log.deleteRecordsBefore(40);
    expect(log.leaderEpochs.entries()).toEqual([{ epoch: 1, startOffset: 40 }, { epoch: 2, startOffset: 60 }]);
    log.close();
    const reopened = Log.open(directory);
    expect(reopened.leaderEpochs.entries()).toEqual([{ epoch: 1, startOffset: 40 }, { epoch: 2, startOffset: 60 }]);
    reopened.close();
  });

  it('empties the epochs when truncation restarts the log', () => {
    const log = Log.open(directory);
    for (let n = 0; n < 4; n += 1) log.append(testBatch(n), { leaderEpoch: n });
    log.deleteRecordsBefore(20);
    log.truncateTo(5);
    expect(log.leaderEpochs.entries()).toEqual([]);
    log.append(testBatch(9), { leaderEpoch: 7 });
    expect(log.leaderEpochs.entries()).toEqual([{ epoch: 7, startOffset: 5 }]);
    log.close();
  });

  it('rebuilds a missing or garbled checkpoint from the batches, and drops entries past the log end', () => {
    const log = Log.open(directory, { config: { segmentBytes: 4 * 1024 } });
    for (let n = 0; n < 10; n += 1) log.append(testBatch(n), { leaderEpoch: Math.floor(n / 4) * 2 });
    const expected = log.leaderEpochs.entries();
    expect(expected).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 2, startOffset: 40 }, { epoch: 4, startOffset: 80 }]);
    log.close();

    fs.rmSync(epochFile());
    let reopened = Log.open(directory);
    expect(reopened.loadReport.leaderEpochsRebuilt).toBe(true);
    expect(reopened.leaderEpochs.entries()).toEqual(expected);
    reopened.close();
    expect(fs.readFileSync(epochFile(), 'utf8')).toBe('0\n3\n0 0\n2 40\n4 80\n');

    const errors: unknown[] = [];
    fs.writeFileSync(epochFile(), '0\n3\n0 0\n2 4');
    reopened = Log.open(directory, { onBackgroundError: (error) => errors.push(error) });
    expect(reopened.loadReport.leaderEpochsRebuilt).toBe(true);
    expect(reopened.leaderEpochs.entries()).toEqual(expected);
    expect(errors).toEqual([expect.objectContaining({ code: 'SLUICE_ERR_STORAGE' })]);
    reopened.close();

    fs.writeFileSync(epochFile(), '0\n4\n0 0\n2 40\n4 80\n6 500\n');
    reopened = Log.open(directory);
    expect(reopened.loadReport.leaderEpochsRebuilt).toBe(false);
    expect(reopened.leaderEpochs.entries()).toEqual(expected);
    reopened.close();
  });
});

describe('the log start on a follower', () => {
  it('only moves up, and stops at the log end', () => {
    const log = Log.open(directory, { config: { segmentBytes: 4 * 1024 } });
    for (let n = 0; n < 6; n += 1) log.append(testBatch(n), { leaderEpoch: n });
    log.advanceLogStartOffset(25);
    expect(log.logStartOffset).toBe(25);
    expect(log.leaderEpochs.entries()[0]).toEqual({ epoch: 2, startOffset: 25 });
    log.advanceLogStartOffset(10);
    expect(log.logStartOffset).toBe(25);
    log.advanceLogStartOffset(500);
    expect({ start: log.logStartOffset, end: log.logEndOffset }).toEqual({ start: 60, end: 60 });
    log.close();
  });
});

describe('the high watermark', () => {
  it('starts at the log end when no replication ever set it, and writes no file then', () => {
    let log = Log.open(directory);
    log.append(testBatch(0));
    log.close();
    log = Log.open(directory);
    expect(log.highWatermark).toBe(recordsPerTestBatch);
    log.append(testBatch(1));
    log.checkpointHighWatermark();
    log.close();
    expect(fs.existsSync(hwFile())).toBe(false);
    log = Log.open(directory);
    expect(log.highWatermark).toBe(2 * recordsPerTestBatch);
    log.close();
  });

  it('is clamped to the log, lowered by truncation and raised by the log start', () => {
    const log = Log.open(directory);
    for (let n = 0; n < 5; n += 1) log.append(testBatch(n));
    log.highWatermark = 500;
    expect(log.highWatermark).toBe(50);
    log.highWatermark = 35;
    expect(log.highWatermark).toBe(35);
    log.truncateTo(20);
    expect(log.highWatermark).toBe(20);
    log.highWatermark = 5;
    log.deleteRecordsBefore(10);
    expect(log.highWatermark).toBe(10);
    log.highWatermark = -3;
    expect(log.highWatermark).toBe(10);
    log.close();
  });

  it('persists by checkpoint and at close, rewriting the file only when it moved', () => {
    let log = Log.open(directory);
    for (let n = 0; n < 5; n += 1) log.append(testBatch(n));
    log.highWatermark = 30;
    log.checkpointHighWatermark();
    expect(fs.readFileSync(hwFile(), 'utf8')).toBe('0\n30\n');
    const inode = fs.statSync(hwFile()).ino;
    log.checkpointHighWatermark();
    expect(fs.statSync(hwFile()).ino).toBe(inode);
    log.highWatermark = 40;
    log.close();
    expect(fs.readFileSync(hwFile(), 'utf8')).toBe('0\n40\n');
    log = Log.open(directory);
    expect(log.highWatermark).toBe(40);
    log.close();
  });

  it('an unreadable checkpoint fails the open with a storage error and leaves no descriptor open', () => {
    const log = Log.open(directory);
    log.append(testBatch(0));
    log.close();
    fs.mkdirSync(hwFile());
    expect(() => Log.open(directory)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_STORAGE' }));
    expect(descriptorsUnder(directory)).toEqual([]);
  });

  it('truncation below the checkpointed value rewrites the checkpoint at once', () => {
    const log = Log.open(directory);
    for (let n = 0; n < 5; n += 1) log.append(testBatch(n));
    log.highWatermark = 45;
    log.checkpointHighWatermark();
    log.truncateTo(20);
    expect(fs.readFileSync(hwFile(), 'utf8')).toBe('0\n20\n');
    log.close();
  });

  it('comes back clamped to the recovered log end', () => {
    const log = Log.open(directory);
    for (let n = 0; n < 3; n += 1) log.append(testBatch(n));
    log.close();
    fs.writeFileSync(hwFile(), '0\n900\n');
    const reopened = Log.open(directory);
    expect(reopened.highWatermark).toBe(30);
    reopened.close();
  });
});

describe('sync waiters and truncation', () => {
  it('rejects waiters for truncated offsets with NOT_LEADER_OR_FOLLOWER and keeps the others', async () => {
    const log = Log.open(directory, { config: { flushMs: 60_000 } });
    for (let n = 0; n < 4; n += 1) log.append(testBatch(n));
    const kept = log.waitForSync(15);
    const gone = log.waitForSync(25);
    const goneLater = log.waitForSync(39);
    log.truncateTo(20);
    for (const waiter of [gone, goneLater]) {
      await expect(waiter).rejects.toMatchObject({
        code: 'SLUICE_ERR_NOT_LEADER_OR_FOLLOWER',
        message: expect.stringContaining('diverged from a new leader'),
      });
    }
    await log.flush();
    await expect(kept).resolves.toBeUndefined();
    log.close();
  });
});

describe('a flush and truncation', () => {
  it('a flush under way when the log is truncated resolves once what is left is synced', async () => {
    const held: Array<() => void> = [];
    const log = Log.open(directory, {
      hooks: { segmentSync: (_base, sync) => new Promise<void>((resolve) => { held.push(() => resolve(sync())); }) },
    });
    for (let n = 0; n < 4; n += 1) log.append(testBatch(n));
    const flushed = log.flush();
    const durable = log.waitForSync(35);
    log.truncateTo(20);
    await expect(durable).rejects.toMatchObject({ code: 'SLUICE_ERR_NOT_LEADER_OR_FOLLOWER' });
    log.append(testBatch(7));
    for (const release of held.splice(0)) release();
    await expect(flushed).resolves.toBeUndefined();
    // The sync that began before the cut covered the old offsets 20..39, not the new batch there.
    expect(log.syncedOffset).toBe(20);
    const newBatch = log.waitForSync(25);
    const again = log.flush();
    await waitFor('the next sync to be held', () => held.length > 0);
    for (const release of held.splice(0)) release();
    await again;
    await expect(newBatch).resolves.toBeUndefined();
    expect(log.syncedOffset).toBe(30);
    log.close();
  });
});

describe('replicated appends past a gap', () => {
  const readOffsets = (log: Log, from: number) => {
    const { slices } = log.read(from, 1 << 20);
    const bases: number[] = [];
    for (const slice of slices) {
      for (let position = 0; position < slice.length; position += 12 + slice.readInt32BE(position + 8)) bases.push(Number(slice.readBigInt64BE(position)));
    }
    return bases;
  };

  it('re-bases an empty active segment at the first batch\'s offset', () => {
    const log = Log.open(directory);
    log.append(Buffer.concat([leaderBatch(0, 1000, 1), leaderBatch(1, 1010, 1)]), { assignOffsets: false });
    expect(log.segmentBaseOffsets).toEqual([1000]);
    expect(log.logEndOffset).toBe(1020);
    expect(readOffsets(log, 1000)).toEqual([1000, 1010]);
    expect(fs.existsSync(path.join(directory, '00000000000000000000.log'))).toBe(false);
    log.close();
    const reopened = Log.open(directory);
    expect(reopened.segmentBaseOffsets).toEqual([1000]);
    expect(readOffsets(reopened, 1000)).toEqual([1000, 1010]);
    reopened.close();
  });

  it('rolls before a batch whose offset would not fit the segment\'s 32-bit relative offsets', () => {
    const far = 2 ** 32 + 500;
    const log = Log.open(directory, { config: { indexIntervalBytes: 1 } });
    log.append(Buffer.concat([leaderBatch(0, 0, 1), leaderBatch(1, 10, 1)]), { assignOffsets: false });
    log.append(Buffer.concat([leaderBatch(2, far, 2), leaderBatch(3, far + 10, 2), leaderBatch(4, far + 20, 2)]), { assignOffsets: false });
    expect(log.segmentBaseOffsets).toEqual([0, far]);
    expect(log.leaderEpochs.entries()).toEqual([{ epoch: 1, startOffset: 0 }, { epoch: 2, startOffset: far }]);
    expect(readOffsets(log, far + 15)).toEqual([far + 10, far + 20]);
    expect(readOffsets(log, 15)).toEqual([10, far, far + 10, far + 20]);
    log.close();
    const reopened = Log.open(directory);
    expect(reopened.logEndOffset).toBe(far + 30);
    expect(readOffsets(reopened, far + 25)).toEqual([far + 20]);
    reopened.close();
  });

  it('re-bases the empty segment a roll left behind', () => {
    const far = 3 * 2 ** 32;
    const log = Log.open(directory, { config: { indexIntervalBytes: 1 } });
    log.append(leaderBatch(0, 0, 1), { assignOffsets: false });
    log.roll();
    log.append(Buffer.concat([leaderBatch(1, far, 1), leaderBatch(2, far + 10, 1)]), { assignOffsets: false });
    expect(log.segmentBaseOffsets).toEqual([0, far]);
    expect(readOffsets(log, far + 10)).toEqual([far + 10]);
    log.close();
  });

  it('restarts the log empty past its end (the leader\'s log starts beyond it)', async () => {
    const log = Log.open(directory, { config: { flushMs: 60_000 } });
    log.append(testBatch(0), { leaderEpoch: 1 });
    const waiter = log.waitForSync(5);
    log.truncateFullyAndStartAt(5000);
    await expect(waiter).rejects.toMatchObject({ code: 'SLUICE_ERR_NOT_LEADER_OR_FOLLOWER' });
    expect({ start: log.logStartOffset, end: log.logEndOffset, hw: log.highWatermark, segments: log.segmentBaseOffsets })
      .toEqual({ start: 5000, end: 5000, hw: 5000, segments: [5000] });
    expect(log.leaderEpochs.entries()).toEqual([]);
    log.append(leaderBatch(1, 5000, 3), { assignOffsets: false });
    expect(log.logEndOffset).toBe(5010);
    log.close();
  });
});
