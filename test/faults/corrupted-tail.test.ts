/**
 * Recovery from damaged tails: each kind of damage after an unclean stop must leave exactly the
 * batches before it, and the log must take appends again right after them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Log } from '../../broker/storage/log.js';
import { segmentFileName } from '../../broker/storage/segment.js';
import { recordsPerTestBatch, testBatch, withBaseOffset } from '../helpers/batches.js';

const batchCount = 40;
let directory: string;

beforeEach(() => {
  directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-tail-'));
});
afterEach(() => fs.rmSync(directory, { recursive: true, force: true }));

/** Writes `batchCount` batches, closes cleanly, then removes the marker: an unclean stop. */
function writeLog(): { logFile: string; batchStarts: number[]; size: number } {
  const log = Log.open(directory);
  for (let n = 0; n < batchCount; n += 1) log.append(testBatch(n));
  const size = log.size;
  log.close();
  fs.rmSync(path.join(directory, '.clean-shutdown'));
  const batchStarts: number[] = [];
  let position = 0;
  for (let n = 0; n < batchCount; n += 1) {
    batchStarts.push(position);
    position += testBatch(n).length;
  }
  return { logFile: path.join(directory, segmentFileName(0, '.log')), batchStarts, size };
}

function expectBatches(log: Log, count: number): void {
  expect(log.logEndOffset).toBe(count * recordsPerTestBatch);
  for (let n = 0; n < count; n += 1) {
    const { slices } = log.read(n * recordsPerTestBatch, 1);
    const expected = withBaseOffset(testBatch(n), n * recordsPerTestBatch);
    expect(slices[0]!.equals(expected), `batch ${n}`).toBe(true);
  }
  const appended = log.append(testBatch(count));
  expect(appended.baseOffset).toBe(count * recordsPerTestBatch);
}

describe('recovery of a damaged tail', () => {
  it('cuts garbage appended after the last batch', () => {
    const { logFile } = writeLog();
    fs.appendFileSync(logFile, Buffer.from('this is not a record batch, just garbage bytes'.repeat(20)));
    const log = Log.open(directory);
    expect(log.loadReport.bytesTruncated).toBeGreaterThan(0);
    expectBatches(log, batchCount);
    log.close();
  });

  it('cuts a batch torn in half', () => {
    const { logFile, batchStarts, size } = writeLog();
    const lastStart = batchStarts[batchCount - 1]!;
    fs.truncateSync(logFile, lastStart + Math.floor((size - lastStart) / 2));
    const log = Log.open(directory);
    expectBatches(log, batchCount - 1);
    log.close();
  });

  it('cuts the last batch when one byte inside it flipped', () => {
    const { logFile, batchStarts, size } = writeLog();
    const lastStart = batchStarts[batchCount - 1]!;
    const fd = fs.openSync(logFile, 'r+');
    const position = lastStart + Math.floor((size - lastStart) * 0.7);
    const byte = Buffer.alloc(1);
    fs.readSync(fd, byte, 0, 1, position);
    byte[0] = byte[0]! ^ 0x10;
    fs.writeSync(fd, byte, 0, 1, position);
    fs.closeSync(fd);
    const log = Log.open(directory);
    expectBatches(log, batchCount - 1);
    log.close();
  });

  it('recovers a preallocated zero tail to the true end', () => {
    const { logFile, size } = writeLog();
    fs.truncateSync(logFile, size + 5 * 1024 * 1024);
    const log = Log.open(directory);
    expect(log.size).toBe(size);
    expectBatches(log, batchCount);
    log.close();
  });

  it('rebuilds indexes that are missing or point at the wrong place', () => {
    writeLog();
    fs.rmSync(path.join(directory, segmentFileName(0, '.index')));
    let log = Log.open(directory);
    expect(log.loadReport.indexesRebuilt).toBe(1);
    expectBatches(log, batchCount);
    log.close();
    fs.rmSync(path.join(directory, '.clean-shutdown'));
    const indexFile = path.join(directory, segmentFileName(0, '.index'));
    const index = fs.readFileSync(indexFile);
    expect(index.length).toBeGreaterThan(8);
    index.writeUInt32BE(index.readUInt32BE(index.length - 8) + 3, index.length - 8);
    fs.writeFileSync(indexFile, index);
    log = Log.open(directory);
    expect(log.loadReport.indexesRebuilt).toBe(1);
    expectBatches(log, batchCount + 1);
    log.close();
  });

  it('skips the scan after a clean shutdown', () => {
    const log = Log.open(directory);
    for (let n = 0; n < 5; n += 1) log.append(testBatch(n));
    log.close();
    const reopened = Log.open(directory);
    expect(reopened.loadReport).toMatchObject({ clean: true, segmentsChecked: 0 });
    expect(reopened.logEndOffset).toBe(5 * recordsPerTestBatch);
    reopened.close();
  });
});
