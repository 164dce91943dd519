/**
 * A change of log state that fails half-way (a segment cannot be created: EMFILE, ENOMEM,
 * ENOSPC) leaves the log as it was, and the next call succeeds once the cause is gone. The
 * failure is injected through the log's `beforeSegmentCreate` seam as the real error the file
 * system would raise; test/faults/fd-exhaustion.test.ts does the same with a real fd limit.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SluiceError } from '../../../../proto/errors.js';
import { Log, type LogOptions } from '../../../../broker/storage/log.js';
import { segmentFileName } from '../../../../broker/storage/segment.js';
import { recordsPerTestBatch, testBatch, withBaseOffset } from '../../../helpers/batches.js';
import { logBatches } from '../../../helpers/log-contents.js';
import { descriptorsUnder } from '../../../helpers/proc.js';

let directory: string;
beforeEach(() => { directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-atomic-')); });
afterEach(() => fs.rmSync(directory, { recursive: true, force: true }));

function emfile(): SluiceError {
  const cause = Object.assign(new Error('EMFILE: too many open files, open'), { code: 'EMFILE', errno: -24 });
  return new SluiceError('SLUICE_ERR_STORAGE', 'cannot open segment file: EMFILE', { cause });
}

/** A log whose segment creation fails while `failing` is true. */
function openFlaky(options: LogOptions = {}) {
  const state = { failing: false, attempts: 0 };
  const log = Log.open(directory, {
    ...options,
    hooks: {
      beforeSegmentCreate: () => {
        if (!state.failing) return;
        state.attempts += 1;
        throw emfile();
      },
    },
  });
  return { log, state };
}

const readAll = (log: Log): Buffer => Buffer.concat(logBatches(log));

describe('a failed segment roll', () => {
  it('refuses only the append that hit it, with a retriable storage error, and the next append after the cause is gone succeeds', () => {
    const { log, state } = openFlaky({ config: { segmentBytes: 4 * 1024 } });
    let n = 0;
    while (log.segmentCount === 1) log.append(testBatch(n++));
    const before = { end: log.logEndOffset, segments: log.segmentBaseOffsets, size: log.size };
    const lastSegmentBytes = fs.statSync(path.join(directory, segmentFileName(before.segments.at(-1)!, '.log'))).size;

    state.failing = true;
    // Fill the active segment until an append needs a roll.
    let error: unknown;
    for (let tries = 0; tries < 100 && error === undefined; tries += 1) {
      try {
        log.append(testBatch(n));
        n += 1;
      } catch (caught) {
        error = caught;
      }
    }
    expect(state.attempts).toBe(1);
    expect(error).toMatchObject({ code: 'SLUICE_ERR_STORAGE', retriable: true });
    expect((error as SluiceError).detail).toMatch(/cannot start a segment at offset \d+.*EMFILE/);
    const failedAt = log.logEndOffset;
    expect(log.segmentBaseOffsets).toEqual(before.segments);
    // No file of the segment that could not be made is left to shadow later offsets.
    expect(fs.existsSync(path.join(directory, segmentFileName(failedAt, '.log')))).toBe(false);
    expect(lastSegmentBytes).toBeGreaterThan(0);

    // Still failing: still refused, still nothing changed.
    expect(() => log.append(testBatch(n))).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_STORAGE' }));
    expect(log.logEndOffset).toBe(failedAt);

    state.failing = false;
    const appended = log.append(testBatch(n));
    expect(appended.baseOffset).toBe(failedAt);
    expect(log.segmentBaseOffsets).toEqual([...before.segments, failedAt]);
    const expected = Buffer.concat(Array.from({ length: n + 1 }, (_, index) => withBaseOffset(testBatch(index), index * recordsPerTestBatch)));
    expect(readAll(log).equals(expected)).toBe(true);

    log.close();
    const reopened = Log.open(directory, { config: { segmentBytes: 4 * 1024 } });
    expect(reopened.logEndOffset).toBe(failedAt + recordsPerTestBatch);
    expect(readAll(reopened).equals(expected)).toBe(true);
    reopened.close();
  });

  it('an explicit roll() that fails leaves the active segment taking appends', () => {
    const { log, state } = openFlaky();
    log.append(testBatch(0));
    state.failing = true;
    expect(() => log.roll()).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_STORAGE' }));
    expect(log.segmentCount).toBe(1);
    expect(log.append(testBatch(1)).baseOffset).toBe(recordsPerTestBatch);
    state.failing = false;
    log.roll();
    expect(log.segmentBaseOffsets).toEqual([0, 2 * recordsPerTestBatch]);
    log.close();
  });
});

describe('a truncation that cannot create its new segment', () => {
  it('leaves every record and the log start as they were', () => {
    const { log, state } = openFlaky({ config: { segmentBytes: 4 * 1024 } });
    for (let n = 0; n < 30; n += 1) log.append(testBatch(n));
    log.deleteRecordsBefore(log.segmentBaseOffsets[1]!);
    const before = { start: log.logStartOffset, end: log.logEndOffset, segments: log.segmentBaseOffsets, bytes: readAll(log) };
    state.failing = true;
    // Below the log start: the log would restart empty at 5, in a segment that cannot be made.
    expect(() => log.truncateTo(5)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_STORAGE' }));
    expect({ start: log.logStartOffset, end: log.logEndOffset, segments: log.segmentBaseOffsets }).toEqual({ start: before.start, end: before.end, segments: before.segments });
    expect(readAll(log).equals(before.bytes)).toBe(true);

    state.failing = false;
    expect(log.append(testBatch(30)).baseOffset).toBe(before.end);
    log.truncateTo(5);
    expect({ start: log.logStartOffset, end: log.logEndOffset, segments: log.segmentBaseOffsets }).toEqual({ start: 5, end: 5, segments: [5] });
    log.close();
  });

  it('a cut whose new segment cannot be created leaves every record, segment and file as they were', () => {
    const { log, state } = openFlaky({ config: { segmentBytes: 4 * 1024 } });
    for (let n = 0; n < 30; n += 1) log.append(testBatch(n));
    const before = { start: log.logStartOffset, end: log.logEndOffset, segments: log.segmentBaseOffsets, bytes: readAll(log) };
    const files = fs.readdirSync(directory).filter((name) => name !== 'recovery-point').sort();
    state.failing = true;
    for (const offset of [before.segments[2]! + 15, before.segments[3]!]) {
      expect(() => log.truncateTo(offset)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_STORAGE' }));
      expect({ start: log.logStartOffset, end: log.logEndOffset, segments: log.segmentBaseOffsets }).toEqual({ start: before.start, end: before.end, segments: before.segments });
      expect(readAll(log).equals(before.bytes)).toBe(true);
      expect(fs.readdirSync(directory).filter((name) => name !== 'recovery-point').sort()).toEqual(files);
    }
    state.failing = false;
    expect(log.append(testBatch(30)).baseOffset).toBe(before.end);
    log.close();
  });

  // A segment is never emptied and reused: reads in flight still point into its bytes. Its files
  // are set aside for the new segment's, and put back when that cannot be created.
  it('restarting at the base of an existing segment that cannot be replaced leaves it whole', () => {
    const { log, state } = openFlaky({ config: { segmentBytes: 4 * 1024 } });
    for (let n = 0; n < 30; n += 1) log.append(testBatch(n));
    const before = { start: log.logStartOffset, end: log.logEndOffset, segments: log.segmentBaseOffsets, bytes: readAll(log) };
    state.failing = true;
    expect(() => log.truncateTo(0)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_STORAGE' }));
    expect(state.attempts).toBe(1);
    expect({ start: log.logStartOffset, end: log.logEndOffset, segments: log.segmentBaseOffsets }).toEqual({ start: before.start, end: before.end, segments: before.segments });
    expect(readAll(log).equals(before.bytes)).toBe(true);
    expect(fs.readdirSync(directory).filter((name) => name.endsWith('.deleted') || name.startsWith('truncation'))).toEqual([]);

    state.failing = false;
    log.truncateTo(0);
    expect({ start: log.logStartOffset, end: log.logEndOffset, segments: log.segmentBaseOffsets }).toEqual({ start: 0, end: 0, segments: [0] });
    expect(log.append(testBatch(0)).baseOffset).toBe(0);
    log.close();
    const reopened = Log.open(directory);
    expect(reopened.logEndOffset).toBe(recordsPerTestBatch);
    reopened.close();
  });
});

describe('a failed segment creation', () => {
  it('leaves no descriptor open', () => {
    const { log, state } = openFlaky({ config: { segmentBytes: 4 * 1024 } });
    log.append(testBatch(0));
    const open = descriptorsUnder(directory).length;
    state.failing = true;
    for (let n = 1; n < 20; n += 1) {
      try {
        log.append(testBatch(n));
      } catch {
        // Refused rolls.
      }
    }
    expect(descriptorsUnder(directory)).toHaveLength(open);
    log.close();
    expect(descriptorsUnder(directory)).toHaveLength(0);
  });
});
