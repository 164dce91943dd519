/**
 * Indexes carry no checksum; the log is the truth. An index file that fails validation (wrong
 * length, entries out of order, random bytes, entries past the log, a last entry that does not
 * name its batch) is rebuilt from the log on open, and time and offset lookups give the same
 * answers as before it was damaged. Before, one garbage .timeindex stopped the broker.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Log } from '../../../../broker/storage/log.js';
import type { LogConfig } from '../../../../broker/storage/log-config.js';
import { segmentFileName } from '../../../../broker/storage/segment.js';
import { testBatch } from '../../../helpers/batches.js';
import { seededRandom } from '../../../helpers/random.js';

let directory: string;
beforeEach(() => { directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-reindex-')); });
afterEach(() => fs.rmSync(directory, { recursive: true, force: true }));

const config: Partial<LogConfig> = { segmentBytes: 16 * 1024, indexIntervalBytes: 512 };
const timestamps = Array.from({ length: 60 }, (_, n) => 1_000_000 + n * 100);

/** A log of several segments, closed cleanly; returns its answers to every lookup. */
function writeLog(): { answers: unknown[]; reads: number[]; bases: number[] } {
  const log = Log.open(directory, { config });
  for (const [n, timestamp] of timestamps.entries()) log.append(testBatch(n, timestamp));
  const answers = lookups(log);
  const reads = readOffsets(log);
  const bases = log.segmentBaseOffsets;
  log.close();
  return { answers, reads, bases };
}

function lookups(log: Log): unknown[] {
  const targets = [0, ...timestamps.flatMap((timestamp) => [timestamp - 1, timestamp, timestamp + 5]), 9_000_000];
  return targets.map((target) => log.offsetForTimestamp(target));
}

/** The first batch offset each read from every offset starts at: exercises the offset index. */
function readOffsets(log: Log): number[] {
  const result: number[] = [];
  for (let offset = log.logStartOffset; offset < log.logEndOffset; offset += 7) {
    result.push(Number(log.read(offset, 1).slices[0]!.readBigInt64BE(0)));
  }
  return result;
}

function file(base: number, suffix: '.index' | '.timeindex'): string {
  return path.join(directory, segmentFileName(base, suffix));
}

function reopenAndCheck(expected: { answers: unknown[]; reads: number[] }): Log {
  const log = Log.open(directory, { config });
  expect(log.loadReport.clean).toBe(true);
  expect(log.loadReport.indexesRebuilt).toBeGreaterThanOrEqual(1);
  expect(lookups(log)).toEqual(expected.answers);
  expect(readOffsets(log)).toEqual(expected.reads);
  return log;
}

describe('an index that fails validation is rebuilt from the log', () => {
  for (const length of [7, 100, 4099, 12 * 40]) {
    it(`a .timeindex of ${length} random bytes`, () => {
      const expected = writeLog();
      fs.writeFileSync(file(expected.bases[1]!, '.timeindex'), crypto.randomBytes(length));
      const log = reopenAndCheck(expected);
      log.close();
      // Rebuilt for good: the next start finds nothing to repair.
      const again = Log.open(directory, { config });
      expect(again.loadReport.indexesRebuilt).toBe(0);
      expect(lookups(again)).toEqual(expected.answers);
      again.close();
    });
  }

  it('a .timeindex whose entries are in order but point past the log', () => {
    const expected = writeLog();
    const base = expected.bases[1]!;
    const entries = Buffer.alloc(12 * 3);
    for (let entry = 0; entry < 3; entry += 1) {
      entries.writeBigInt64BE(BigInt(1_000_000 + entry), entry * 12);
      entries.writeUInt32BE(100_000 + entry, entry * 12 + 8);
    }
    fs.writeFileSync(file(base, '.timeindex'), entries);
    reopenAndCheck(expected).close();
  });

  it('a .timeindex whose last entry names the wrong timestamp', () => {
    const expected = writeLog();
    const path0 = file(expected.bases[0]!, '.timeindex');
    const bytes = fs.readFileSync(path0);
    expect(bytes.length).toBeGreaterThanOrEqual(24);
    bytes.writeBigInt64BE(bytes.readBigInt64BE(bytes.length - 12) + 1n, bytes.length - 12);
    fs.writeFileSync(path0, bytes);
    reopenAndCheck(expected).close();
  });

  it('the active segment\'s .timeindex and a sealed segment\'s .index of random bytes', () => {
    const expected = writeLog();
    const random = seededRandom(7);
    const noise = Buffer.from(Array.from({ length: 333 }, () => Math.floor(random() * 256)));
    fs.writeFileSync(file(expected.bases.at(-1)!, '.timeindex'), noise);
    fs.writeFileSync(file(expected.bases[0]!, '.index'), noise);
    const log = reopenAndCheck(expected);
    expect(log.loadReport.indexesRebuilt).toBe(2);
    // The active segment still takes appends after its index was rebuilt.
    log.append(testBatch(99, 2_000_000));
    expect(log.offsetForTimestamp(1_999_999)?.timestamp).toBe(2_000_000);
    log.close();
  });
});
