import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OffsetOutOfRangeError, SluiceError } from '../../../../proto/errors.js';
import { Log } from '../../../../broker/storage/log.js';
import { RetentionTimer } from '../../../../broker/storage/retention-timer.js';
import { segmentFileName } from '../../../../broker/storage/segment.js';
import { recordsPerTestBatch, testBatch, withBaseOffset } from '../../../helpers/batches.js';

let directory: string;
beforeEach(() => { directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-log-')); });
afterEach(() => fs.rmSync(directory, { recursive: true, force: true }));

describe('Log', () => {
  it('assigns offsets, keeps the CRC valid, and reads back the same bytes', () => {
    const log = Log.open(directory);
    const first = log.append(testBatch(0));
    const second = log.append(Buffer.concat([testBatch(1), testBatch(2)]));
    expect(first).toEqual({ baseOffset: 0, lastOffset: 9, batches: 1, records: 10 });
    expect(second).toEqual({ baseOffset: 10, lastOffset: 29, batches: 2, records: 20 });
    const { slices, bytes } = log.read(15, 1 << 20);
    expect(bytes).toBe(testBatch(1).length + testBatch(2).length);
    expect(Buffer.concat(slices).equals(Buffer.concat([withBaseOffset(testBatch(1), 10), withBaseOffset(testBatch(2), 20)]))).toBe(true);
    log.close();
  });

  it('returns at least one whole batch even when it is larger than maxBytes', () => {
    const log = Log.open(directory);
    log.append(testBatch(0));
    log.append(testBatch(1));
    const { slices, bytes } = log.read(0, 10);
    expect(slices).toHaveLength(1);
    expect(bytes).toBe(testBatch(0).length);
    log.close();
  });

  it('stops reads at maxOffset (the high watermark)', () => {
    const log = Log.open(directory);
    for (let n = 0; n < 3; n += 1) log.append(testBatch(n));
    expect(log.read(0, 1 << 20, 20).bytes).toBe(testBatch(0).length + testBatch(1).length);
    log.close();
  });

  it('throws OffsetOutOfRange with both bounds outside [start, end]', () => {
    const log = Log.open(directory);
    log.append(testBatch(0));
    expect(log.read(10, 100).bytes).toBe(0);
    const error = (() => { try { log.read(11, 100); } catch (caught) { return caught; } })();
    expect(error).toBeInstanceOf(OffsetOutOfRangeError);
    expect(error).toMatchObject({ code: 'SLUICE_ERR_OFFSET_OUT_OF_RANGE', logStartOffset: 0, logEndOffset: 10 });
    log.deleteRecordsBefore(5);
    expect(() => log.read(4, 100)).toThrow(OffsetOutOfRangeError);
    log.close();
  });

  it('refuses a bad batch without appending anything', () => {
    const log = Log.open(directory);
    const bad = Buffer.from(testBatch(1));
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 0xff;
    expect(() => log.append(Buffer.concat([testBatch(0), bad]))).toThrow(SluiceError);
    expect(log.logEndOffset).toBe(0);
    expect(() => log.append(Buffer.alloc(0))).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_INVALID_RECORD' }));
    log.close();
  });

  it('refuses a batch larger than max.message.bytes', () => {
    const log = Log.open(directory, { config: { maxMessageBytes: 200 } });
    expect(() => log.append(testBatch(0))).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_MESSAGE_TOO_LARGE' }));
    log.close();
  });

  it('rolls at segment.bytes and trims sealed files to their real size', () => {
    const log = Log.open(directory, { config: { segmentBytes: 8 * 1024, indexIntervalBytes: 512 } });
    for (let n = 0; n < 40; n += 1) log.append(testBatch(n));
    expect(log.segmentCount).toBeGreaterThan(3);
    const [first, second] = log.segmentBaseOffsets;
    const sealedLog = fs.statSync(path.join(directory, segmentFileName(first!, '.log'))).size;
    expect(sealedLog).toBeLessThanOrEqual(8 * 1024);
    expect(log.read(first!, 1 << 20).slices[0]!.length).toBe(sealedLog);
    expect(fs.statSync(path.join(directory, segmentFileName(first!, '.index'))).size % 8).toBe(0);
    expect(fs.statSync(path.join(directory, segmentFileName(first!, '.timeindex'))).size % 12).toBe(0);
    expect(second).toBeGreaterThan(first!);
    log.close();
  });

  it('rolls when the segment is older than segment.ms by record time', () => {
    const log = Log.open(directory, { config: { segmentMs: 1000 } });
    log.append(testBatch(0, 1_700_000_000_000));
    log.append(testBatch(1, 1_700_000_000_500));
    expect(log.segmentCount).toBe(1);
    log.append(testBatch(2, 1_700_000_002_000));
    expect(log.segmentBaseOffsets).toEqual([0, 20]);
    log.close();
  });

  it('deletes old segments on the retention timer, never the active one', async () => {
    let now = 1_700_000_000_000;
    const log = Log.open(directory, { config: { segmentBytes: 4 * 1024, retentionMs: 60_000 }, now: () => now });
    for (let n = 0; n < 20; n += 1) log.append(testBatch(n, now));
    const before = log.segmentCount;
    expect(before).toBeGreaterThan(2);
    now += 120_000;
    const timer = new RetentionTimer(() => [log], 5, (error) => { throw error; });
    timer.start();
    const deadline = Date.now() + 5000;
    while (log.segmentCount > 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    timer.stop();
    expect(log.segmentCount).toBe(1);
    expect(log.logStartOffset).toBe(log.segmentBaseOffsets[0]);
    expect(log.logEndOffset).toBe(200);
    log.close();
  });

  it('keeps the log start across restarts', () => {
    const log = Log.open(directory);
    for (let n = 0; n < 5; n += 1) log.append(testBatch(n));
    log.deleteRecordsBefore(23);
    log.close();
    const reopened = Log.open(directory);
    expect(reopened.logStartOffset).toBe(23);
    expect(reopened.read(23, 1).slices[0]!.readBigInt64BE(0)).toBe(20n);
    reopened.close();
  });

  it('truncates to a batch boundary and continues from there', () => {
    const log = Log.open(directory, { config: { segmentBytes: 4 * 1024 } });
    for (let n = 0; n < 20; n += 1) log.append(testBatch(n));
    log.truncateTo(55);
    expect(log.logEndOffset).toBe(50);
    expect(log.append(testBatch(99)).baseOffset).toBe(50);
    log.close();
    const reopened = Log.open(directory, { config: { segmentBytes: 4 * 1024 } });
    expect(reopened.logEndOffset).toBe(60);
    expect(reopened.read(50, 1).slices[0]!.equals(withBaseOffset(testBatch(99), 50))).toBe(true);
    reopened.close();
  });

  it('finds offsets by timestamp across segments', () => {
    const log = Log.open(directory, { config: { segmentBytes: 4 * 1024 } });
    for (let n = 0; n < 20; n += 1) log.append(testBatch(n, 1_000_000 + n * 100));
    expect(log.offsetForTimestamp(1_000_000 + 7 * 100 + 3)).toEqual({ offset: 73, timestamp: 1_000_703 });
    expect(log.offsetForTimestamp(0)).toEqual({ offset: 0, timestamp: 1_000_000 });
    expect(log.offsetForTimestamp(9_000_000)).toBeUndefined();
    log.close();
  });

  it('keeps handed-out slices readable after the segment is deleted', () => {
    const log = Log.open(directory, { config: { segmentBytes: 4 * 1024, retentionBytes: 0 } });
    for (let n = 0; n < 20; n += 1) log.append(testBatch(n));
    const { slices } = log.read(0, 1 << 20);
    const copy = Buffer.from(slices[0]!);
    log.applyRetention();
    expect(log.logStartOffset).toBeGreaterThan(0);
    expect(slices[0]!.equals(copy)).toBe(true);
    log.close();
  });

  it('flush() syncs and resolves; a closed log refuses work with a typed error', async () => {
    const log = Log.open(directory, { config: { flushMessages: 1 } });
    log.append(testBatch(0));
    await log.flush();
    expect(log.syncedOffset).toBe(recordsPerTestBatch);
    log.close();
    expect(() => log.append(testBatch(1))).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_LOG_CLOSED' }));
  });
});
