/**
 * Truncation with reads in flight and across crashes: bytes a read returned never change (a
 * fetch response may still be writing them to a socket), and a crash at any point of a
 * truncation comes back with exactly the records below the cut, or, before the cut was
 * durable, with the old log.
 *
 * A crash is a copy of the directory taken while the log is open and never closed: the page
 * cache is what a killed process leaves behind.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Log, type LogOptions } from '../../../../broker/storage/log.js';
import { recordsPerTestBatch, testBatch, withBaseOffset } from '../../../helpers/batches.js';
import { logBatches } from '../../../helpers/log-contents.js';

let root: string;
let directory: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-truncation-'));
  directory = path.join(root, 'log');
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const small: LogOptions = { config: { segmentBytes: 4 * 1024, indexIntervalBytes: 512 } };

/** The log's bytes as batch copies `n` of testBatch would be stored from offset 0. */
function expectedBatches(numbers: number[], firstOffset = 0): Buffer[] {
  return numbers.map((n, index) => withBaseOffset(testBatch(n), firstOffset + index * recordsPerTestBatch));
}

function snapshot(name: string): string {
  const copy = path.join(root, name);
  fs.cpSync(directory, copy, { recursive: true });
  return copy;
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, index) => from + index);

describe('truncation and reads in flight', () => {
  for (const where of ['the active segment', 'a sealed segment', 'the first segment\'s base']) {
    it(`never changes bytes a read returned (cut in ${where})`, () => {
      const log = Log.open(directory, small);
      for (let n = 0; n < 12; n += 1) log.append(testBatch(n));
      const bases = log.segmentBaseOffsets;
      const cut = where === 'the active segment' ? bases.at(-1)! + recordsPerTestBatch
        : where === 'a sealed segment' ? bases[1]! + recordsPerTestBatch : 0;
      expect(cut).toBeLessThan(log.logEndOffset);
      const inFlight = log.read(cut, 1 << 20).slices;
      const copies = inFlight.map((slice) => Buffer.from(slice));
      log.truncateTo(cut);
      expect(log.logEndOffset).toBe(cut);
      for (let n = 100; n < 110; n += 1) log.append(testBatch(n));
      expect(Buffer.concat(inFlight).equals(Buffer.concat(copies))).toBe(true);
      const kept = cut / recordsPerTestBatch;
      expect(logBatches(log)).toEqual([...expectedBatches(range(0, kept)), ...expectedBatches(range(100, 110), cut)]);
      log.close();
      expect(Buffer.concat(inFlight).equals(Buffer.concat(copies))).toBe(true);
    });
  }

  it('restarting past the log end keeps earlier reads too', () => {
    const log = Log.open(directory, small);
    for (let n = 0; n < 6; n += 1) log.append(testBatch(n));
    const inFlight = log.read(0, 1 << 20).slices;
    const copies = inFlight.map((slice) => Buffer.from(slice));
    log.truncateFullyAndStartAt(log.segmentBaseOffsets.at(-1)!);
    for (let n = 100; n < 104; n += 1) log.append(testBatch(n));
    expect(Buffer.concat(inFlight).equals(Buffer.concat(copies))).toBe(true);
    log.close();
  });

  it('trims the cut segment\'s old tail at the next start, clean or not', () => {
    const log = Log.open(directory, small);
    for (let n = 0; n < 12; n += 1) log.append(testBatch(n));
    const cutSegment = log.segmentBaseOffsets[1]!;
    const cut = cutSegment + recordsPerTestBatch;
    const file = path.join(directory, `${String(cutSegment).padStart(20, '0')}.log`);
    const sizeBefore = fs.statSync(file).size;
    log.truncateTo(cut);
    log.append(testBatch(50));
    expect(fs.statSync(file).size).toBe(sizeBefore);
    const crashed = snapshot('crashed');
    log.close();
    for (const dir of [directory, crashed]) {
      const reopened = Log.open(dir, small);
      expect(fs.statSync(path.join(dir, path.basename(file))).size).toBe(testBatch(cutSegment / recordsPerTestBatch).length);
      expect(logBatches(reopened)).toEqual([...expectedBatches(range(0, cut / recordsPerTestBatch)), ...expectedBatches([50], cut)]);
      reopened.close();
    }
  });
});

describe('a crash during truncation', () => {
  function build(): Log {
    const log = Log.open(directory, small);
    for (let n = 0; n < 12; n += 1) log.append(testBatch(n));
    return log;
  }

  it('before the marker is on disk: the old log; after it: exactly the records below the cut', () => {
    let atCreate: string | undefined;
    const log = Log.open(directory, {
      ...small,
      hooks: { beforeSegmentCreate: (base) => { if (base === 30) atCreate ??= snapshot('at-create'); } },
    });
    for (let n = 0; n < 12; n += 1) log.append(testBatch(n));
    const before = snapshot('before');
    log.truncateTo(38);
    expect(atCreate).toBeDefined();
    fs.writeFileSync(path.join(before, 'truncation-in-progress.tmp'), '0\n30\ncut\n');
    const after = snapshot('after');
    // The marker survived (its removal is the last step) on a log already cut.
    fs.writeFileSync(path.join(after, 'truncation-in-progress'), '0\n30\ncut\n');
    // Or it came before every old segment past the cut was unlinked.
    const midway = snapshot('midway');
    fs.writeFileSync(path.join(midway, 'truncation-in-progress'), '0\n30\ncut\n');
    for (const name of fs.readdirSync(before)) {
      if (/^\d{20}\./.test(name) && Number(name.slice(0, 20)) > 30) fs.copyFileSync(path.join(before, name), path.join(midway, name));
    }
    log.close();

    const open = (dir: string) => {
      const reopened = Log.open(dir, small);
      const state = { end: reopened.logEndOffset, batches: logBatches(reopened).length, files: fs.readdirSync(dir).filter((name) => !/^\d{20}\./.test(name)).sort() };
      reopened.close();
      return state;
    };
    const markerless = ['.clean-shutdown', 'leader-epoch-checkpoint', 'log-start-offset', 'recovery-point'];
    expect(open(before)).toMatchObject({ end: 120, batches: 12 });
    for (const dir of [atCreate!, after, midway]) {
      const state = open(dir);
      expect(state).toMatchObject({ end: 30, batches: 3 });
      expect(state.files.filter((name) => !markerless.includes(name))).toEqual([]);
      const reopened = Log.open(dir, small);
      expect(logBatches(reopened)).toEqual(expectedBatches([0, 1, 2]));
      expect(reopened.append(testBatch(77)).baseOffset).toBe(30);
      reopened.close();
    }
  });

  it('a crash after a finished truncation keeps what was appended past the cut', () => {
    const log = build();
    log.truncateTo(45);
    for (let n = 60; n < 64; n += 1) log.append(testBatch(n));
    const crashed = snapshot('crashed');
    log.close();
    const reopened = Log.open(crashed, small);
    expect(reopened.loadReport.clean).toBe(false);
    expect(logBatches(reopened)).toEqual([...expectedBatches(range(0, 4)), ...expectedBatches(range(60, 64), 40)]);
    reopened.close();
  });

  it('a restart below the log start, crashed half-way, comes back empty at the new start', () => {
    let atCreate: string | undefined;
    const log = Log.open(directory, { ...small, hooks: { beforeSegmentCreate: (base) => { if (base === 15) atCreate ??= snapshot('at-create'); } } });
    for (let n = 0; n < 12; n += 1) log.append(testBatch(n));
    log.deleteRecordsBefore(50);
    log.truncateTo(15);
    expect({ start: log.logStartOffset, end: log.logEndOffset }).toEqual({ start: 15, end: 15 });
    log.close();
    const reopened = Log.open(atCreate!, small);
    expect({ start: reopened.logStartOffset, end: reopened.logEndOffset, segments: reopened.segmentBaseOffsets }).toEqual({ start: 15, end: 15, segments: [15] });
    expect(reopened.append(testBatch(3)).baseOffset).toBe(15);
    reopened.close();
    const again = Log.open(atCreate!, small);
    expect({ start: again.logStartOffset, end: again.logEndOffset }).toEqual({ start: 15, end: 25 });
    again.close();
  });
});

describe('a garbled truncation marker', () => {
  it('stops the open with a storage error instead of guessing where to cut', () => {
    const log = Log.open(directory, small);
    for (let n = 0; n < 4; n += 1) log.append(testBatch(n));
    log.close();
    fs.writeFileSync(path.join(directory, 'truncation-in-progress'), '0\nforty\n');
    expect(() => Log.open(directory, small)).toThrow(expect.objectContaining({
      code: 'SLUICE_ERR_STORAGE',
      message: expect.stringContaining('interrupted truncation'),
    }));
    fs.rmSync(path.join(directory, 'truncation-in-progress'));
    const reopened = Log.open(directory, small);
    expect(reopened.logEndOffset).toBe(40);
    reopened.close();
  });
});
