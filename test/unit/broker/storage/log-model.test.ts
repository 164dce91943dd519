/**
 * Model test: random sequences of append, read, roll, retention, truncate, delete-records,
 * time lookups, reopen and crash-and-reopen must agree with a plain in-memory model of segments and batches.
 * The seed is in the test name; SLUICE_SEED replays one.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Log } from '../../../../broker/storage/log.js';
import type { LogConfig } from '../../../../broker/storage/log-config.js';
import { recordsPerTestBatch, testBatch, withBaseOffset } from '../../../helpers/batches.js';
import { seededRandom } from '../../../helpers/random.js';

interface ModelBatch { n: number; baseOffset: number; bytes: Buffer; timestamp: number }
interface ModelSegment { base: number; batches: ModelBatch[] }

const config: Partial<LogConfig> = {
  segmentBytes: 24 * 1024,
  indexIntervalBytes: 1024,
  retentionBytes: 60 * 1024,
  retentionMs: 50_000,
};

class Model {
  segments: ModelSegment[] = [{ base: 0, batches: [] }];
  start = 0;
  get end(): number {
    const last = this.segments[this.segments.length - 1]!;
    const batch = last.batches[last.batches.length - 1];
    return batch === undefined ? last.base : batch.baseOffset + recordsPerTestBatch;
  }
  size(segment: ModelSegment): number {
    return segment.batches.reduce((total, batch) => total + batch.bytes.length, 0);
  }
  append(n: number, timestamp: number): void {
    const bytes = testBatch(n, timestamp);
    let active = this.segments[this.segments.length - 1]!;
    const size = this.size(active);
    if (size > 0 && size > config.segmentBytes! - bytes.length) this.roll();
    active = this.segments[this.segments.length - 1]!;
    active.batches.push({ n, baseOffset: this.end, bytes: withBaseOffset(bytes, this.end), timestamp });
  }
  roll(): void {
    if (this.size(this.segments[this.segments.length - 1]!) > 0) this.segments.push({ base: this.end, batches: [] });
  }
  all(): ModelBatch[] {
    return this.segments.flatMap((segment) => segment.batches).filter((batch) => batch.baseOffset + recordsPerTestBatch > this.start);
  }
  dropOldestWhile(predicate: (segment: ModelSegment) => boolean): void {
    while (this.segments.length > 1 && predicate(this.segments[0]!)) this.segments.shift();
    this.start = Math.max(this.start, this.segments[0]!.base);
  }
  /** The segment holding the cut is sealed there and appends go on in a new segment at the cut. */
  truncateTo(offset: number): void {
    if (offset >= this.end) return;
    const restart = (at: number) => {
      this.segments = [{ base: at, batches: [] }];
      this.start = at;
    };
    const holding = this.segments.flatMap((segment) => segment.batches).find((batch) => batch.baseOffset + recordsPerTestBatch > offset);
    const cut = holding?.baseOffset ?? this.end;
    if (offset <= this.segments[0]!.base || offset < this.start || cut < this.start) {
      restart(offset);
      return;
    }
    if (cut <= this.segments[0]!.base) {
      restart(cut);
      return;
    }
    this.segments = this.segments.filter((segment) => segment.base < cut);
    const last = this.segments[this.segments.length - 1]!;
    last.batches = last.batches.filter((batch) => batch.baseOffset < cut);
    this.segments.push({ base: cut, batches: [] });
  }
}

describe('log against a model', () => {
  const directories: string[] = [];
  afterEach(() => {
    for (const directory of directories.splice(0)) fs.rmSync(directory, { recursive: true, force: true });
  });

  const seeds = process.env.SLUICE_SEED === undefined ? [1, 2, 3, 4, 5, 6] : [Number(process.env.SLUICE_SEED)];
  for (const seed of seeds) {
    it(`agrees over 400 random operations (seed ${seed})`, () => {
      const random = seededRandom(seed);
      const integer = (limit: number) => Math.floor(random() * limit);
      let directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-model-'));
      directories.push(directory);
      let now = 1_700_000_000_000;
      const open = () => Log.open(directory, { config, now: () => now });
      let log = open();
      const model = new Model();
      let n = 0;
      // Reads still "on their way to a client": their bytes must never change while the log is open.
      let inFlight: Array<{ slice: Buffer; copy: Buffer }> = [];
      try {
        for (let step = 0; step < 400; step += 1) {
          const operation = integer(100);
          const context = `seed ${seed} step ${step} op ${operation}`;
          if (operation < 45) {
            for (let count = 1 + integer(4); count > 0; count -= 1) {
              now += 10 + integer(200);
              model.append(n, now);
              log.append(testBatch(n, now));
              n += 1;
            }
          } else if (operation < 60) {
            const offset = model.start + integer(model.end - model.start + 1);
            const maxBytes = 1 + integer(8000);
            const { slices } = log.read(offset, maxBytes);
            const got = Buffer.concat(slices);
            for (const slice of slices) inFlight.push({ slice, copy: Buffer.from(slice) });
            const expected = model.all().filter((batch) => batch.baseOffset + recordsPerTestBatch > offset);
            let position = 0;
            for (const batch of expected) {
              if (position >= got.length) break;
              expect(got.subarray(position, position + batch.bytes.length).equals(batch.bytes), context).toBe(true);
              position += batch.bytes.length;
            }
            expect(position, context).toBe(got.length);
            if (expected.length > 0) expect(got.length, context).toBeGreaterThan(0);
            if (got.length > maxBytes) expect(slices.length === 1 && got.length === expected[0]!.bytes.length, context).toBe(true);
          } else if (operation < 66) {
            model.roll();
            log.roll();
          } else if (operation < 72) {
            now += integer(30_000);
            const retentionMs = config.retentionMs!;
            const newest = (segment: ModelSegment) => Math.max(...segment.batches.map((batch) => batch.timestamp + recordsPerTestBatch - 1));
            model.dropOldestWhile((segment) => now - newest(segment) > retentionMs);
            let size = model.segments.reduce((total, segment) => total + model.size(segment), 0);
            model.dropOldestWhile((segment) => {
              if (size - model.size(segment) < config.retentionBytes!) return false;
              size -= model.size(segment);
              return true;
            });
            log.applyRetention();
          } else if (operation < 78) {
            const offset = model.start + integer(model.end - model.start + 1);
            model.truncateTo(offset);
            log.truncateTo(offset);
          } else if (operation < 83) {
            const offset = model.start + integer(model.end - model.start + 1);
            if (offset === model.end) model.roll();
            model.start = offset;
            model.dropOldestWhile((segment) => {
              const last = segment.batches[segment.batches.length - 1];
              return (last === undefined ? segment.base : last.baseOffset + recordsPerTestBatch) <= offset;
            });
            log.deleteRecordsBefore(offset);
          } else if (operation < 90) {
            const batches = model.all();
            if (batches.length > 0) {
              const target = batches[integer(batches.length)]!.timestamp + integer(12);
              const found = log.offsetForTimestamp(target);
              let expected: number | undefined;
              for (const batch of batches) {
                for (let index = 0; index < recordsPerTestBatch && expected === undefined; index += 1) {
                  if (batch.timestamp + index >= target && batch.baseOffset + index >= model.start) expected = batch.baseOffset + index;
                }
              }
              expect(found?.offset, context).toBe(expected);
            }
          } else if (operation < 95) {
            // Opening may cut files, which is safe only because nobody reads a log not yet open.
            inFlight = [];
            log.close();
            log = open();
          } else {
            // A crash: what the page cache holds while the log is open, never closed.
            const crashed = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-model-crash-'));
            directories.push(crashed);
            fs.cpSync(directory, crashed, { recursive: true });
            inFlight = [];
            log.close();
            directory = crashed;
            log = open();
            expect(log.loadReport.clean, context).toBe(false);
          }
          expect(log.logStartOffset, context).toBe(model.start);
          expect(log.logEndOffset, context).toBe(model.end);
          expect(log.segmentBaseOffsets, context).toEqual(model.segments.map((segment) => segment.base));
          for (const { slice, copy } of inFlight) expect(slice.equals(copy), `${context}: a read's bytes changed`).toBe(true);
        }
      } finally {
        log.close();
      }
    });
  }
});
