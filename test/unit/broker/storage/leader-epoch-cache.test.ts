import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SluiceError } from '../../../../proto/errors.js';
import { type EpochEntry, LeaderEpochCache, formatLeaderEpochCheckpoint, parseLeaderEpochCheckpoint } from '../../../../broker/storage/leader-epoch-cache.js';

let directory: string;
beforeEach(() => { directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-epochs-')); });
afterEach(() => fs.rmSync(directory, { recursive: true, force: true }));

const checkpoint = () => path.join(directory, 'leader-epoch-checkpoint');
const reloaded = () => LeaderEpochCache.load(directory).cache.entries();

describe('LeaderEpochCache', () => {
  it('starts empty and writes Kafka\'s text format on every assign', () => {
    const cache = new LeaderEpochCache(directory);
    expect(cache.latestEpoch).toBeUndefined();
    cache.assign(0, 0);
    cache.assign(3, 120);
    expect(cache.latestEpoch).toBe(3);
    expect(fs.readFileSync(checkpoint(), 'utf8')).toBe('0\n2\n0 0\n3 120\n');
    expect(reloaded()).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 3, startOffset: 120 }]);
  });

  it('ignores the same epoch at a later offset, and replaces newer entries for an older one', () => {
    const cache = new LeaderEpochCache(directory, [{ epoch: 1, startOffset: 10 }, { epoch: 4, startOffset: 50 }]);
    cache.assign(4, 70);
    expect(cache.entries()).toEqual([{ epoch: 1, startOffset: 10 }, { epoch: 4, startOffset: 50 }]);
    expect(fs.existsSync(checkpoint())).toBe(false);
    cache.assign(4, 40);
    expect(cache.entries()).toEqual([{ epoch: 1, startOffset: 10 }, { epoch: 4, startOffset: 40 }]);
    cache.assign(2, 60);
    expect(cache.entries()).toEqual([{ epoch: 1, startOffset: 10 }, { epoch: 2, startOffset: 60 }]);
    expect(reloaded()).toEqual(cache.entries());
  });

  it('answers EndOffset as Kafka does', () => {
    const cache = new LeaderEpochCache(directory, [{ epoch: 1, startOffset: 0 }, { epoch: 3, startOffset: 100 }, { epoch: 6, startOffset: 250 }]);
    expect(cache.endOffsetFor(-1, 400)).toEqual({ epoch: -1, endOffset: -1 });
    expect(cache.endOffsetFor(6, 400)).toEqual({ epoch: 6, endOffset: 400 });
    expect(cache.endOffsetFor(7, 400)).toEqual({ epoch: -1, endOffset: -1 });
    expect(cache.endOffsetFor(4, 400)).toEqual({ epoch: 3, endOffset: 250 });
    expect(cache.endOffsetFor(1, 400)).toEqual({ epoch: 1, endOffset: 100 });
    expect(cache.endOffsetFor(0, 400)).toEqual({ epoch: 0, endOffset: 0 });
    expect(new LeaderEpochCache(directory).endOffsetFor(0, 10)).toEqual({ epoch: -1, endOffset: -1 });
  });

  it('truncates from the end and from the start', () => {
    const cache = new LeaderEpochCache(directory, [{ epoch: 1, startOffset: 0 }, { epoch: 3, startOffset: 100 }, { epoch: 6, startOffset: 250 }]);
    cache.truncateFromEnd(250);
    expect(cache.entries()).toEqual([{ epoch: 1, startOffset: 0 }, { epoch: 3, startOffset: 100 }]);
    expect(cache.latestEpoch).toBe(3);
    cache.truncateFromStart(150);
    expect(cache.entries()).toEqual([{ epoch: 3, startOffset: 150 }]);
    expect(reloaded()).toEqual([{ epoch: 3, startOffset: 150 }]);
    cache.truncateFromStart(100);
    expect(cache.entries()).toEqual([{ epoch: 3, startOffset: 150 }]);
  });

  it('refuses negative epochs and offsets with a typed error', () => {
    const cache = new LeaderEpochCache(directory);
    expect(() => cache.assign(-1, 0)).toThrow(SluiceError);
    expect(() => cache.assign(0, -5)).toThrow(SluiceError);
    expect(cache.entries()).toEqual([]);
  });

  it('keeps the cache unchanged when the checkpoint cannot be written', () => {
    const cache = new LeaderEpochCache(path.join(directory, 'missing-dir'), [{ epoch: 1, startOffset: 0 }]);
    expect(() => cache.assign(2, 10)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_STORAGE' }));
    expect(cache.entries()).toEqual([{ epoch: 1, startOffset: 0 }]);
    expect(cache.latestEpoch).toBe(1);
  });

  it('reports a missing and an unreadable file apart, so the log can rebuild', () => {
    expect(LeaderEpochCache.load(directory).state).toBe('missing');
    fs.writeFileSync(checkpoint(), '0\n2\n1 0\n');
    const loaded = LeaderEpochCache.load(directory);
    expect(loaded.state).toBe('unreadable');
    expect(loaded.problem?.code).toBe('SLUICE_ERR_STORAGE');
    expect(loaded.cache.entries()).toEqual([]);
    fs.writeFileSync(checkpoint(), '0\n2\n1\t0\n  4   7  \n');
    expect(LeaderEpochCache.load(directory).cache.entries()).toEqual([{ epoch: 1, startOffset: 0 }, { epoch: 4, startOffset: 7 }]);
  });
});

/** The rules written differently: the list rises in both fields, so "from the newest end" is "all that match". */
class Model {
  entries: EpochEntry[] = [];
  assign(epoch: number, start: number): void {
    const latest = this.entries.at(-1);
    if (latest !== undefined && latest.epoch === epoch && start >= latest.startOffset) return;
    this.entries = [...this.entries.filter((entry) => entry.epoch < epoch && entry.startOffset < start), { epoch, startOffset: start }];
  }
  truncateFromEnd(offset: number): void {
    this.entries = this.entries.filter((entry) => entry.startOffset < offset);
  }
  truncateFromStart(offset: number): void {
    const below = this.entries.filter((entry) => entry.startOffset <= offset);
    if (below.length === 0) return;
    this.entries = [{ epoch: below.at(-1)!.epoch, startOffset: offset }, ...this.entries.filter((entry) => entry.startOffset > offset)];
  }
  endOffsetFor(epoch: number, end: number): { epoch: number; endOffset: number } {
    if (epoch === -1) return { epoch: -1, endOffset: -1 };
    if (this.entries.at(-1)?.epoch === epoch) return { epoch, endOffset: end };
    const higher = this.entries.filter((entry) => entry.epoch > epoch)[0];
    if (higher === undefined) return { epoch: -1, endOffset: -1 };
    const floor = this.entries.filter((entry) => entry.epoch <= epoch).at(-1);
    return { epoch: floor?.epoch ?? epoch, endOffset: higher.startOffset };
  }
}

type Operation =
  | { kind: 'assign'; epoch: number; start: number }
  | { kind: 'truncateFromEnd' | 'truncateFromStart'; offset: number }
  | { kind: 'reload' };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('assign' as const), epoch: fc.nat({ max: 12 }), start: fc.nat({ max: 300 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncateFromEnd' as const), offset: fc.nat({ max: 320 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncateFromStart' as const), offset: fc.nat({ max: 320 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reload' as const }) },
);

describe('LeaderEpochCache against a model', () => {
  it('agrees on entries, EndOffset and the file after any sequence of operations', () => {
    fc.assert(fc.property(fc.array(operation, { maxLength: 40 }), fc.array(fc.integer({ min: -1, max: 14 }), { minLength: 4, maxLength: 4 }), (operations, probes) => {
      fs.rmSync(checkpoint(), { force: true });
      let cache = new LeaderEpochCache(directory);
      const model = new Model();
      for (const op of operations) {
        if (op.kind === 'assign') {
          cache.assign(op.epoch, op.start);
          model.assign(op.epoch, op.start);
        } else if (op.kind === 'reload') {
          if (fs.existsSync(checkpoint())) cache = LeaderEpochCache.load(directory).cache;
        } else {
          cache[op.kind](op.offset);
          model[op.kind](op.offset);
        }
        expect(cache.entries()).toEqual(model.entries);
        expect(cache.latestEpoch).toBe(model.entries.at(-1)?.epoch);
        for (const probe of probes) expect(cache.endOffsetFor(probe, 400)).toEqual(model.endOffsetFor(probe, 400));
      }
      if (fs.existsSync(checkpoint())) expect(parseLeaderEpochCheckpoint(fs.readFileSync(checkpoint(), 'utf8'))).toEqual(model.entries);
    }), { numRuns: 150 });
  });
});

describe('leader-epoch-checkpoint parser', () => {
  const load = (bytes: Uint8Array | string) => {
    fs.writeFileSync(checkpoint(), bytes);
    return LeaderEpochCache.load(directory);
  };
  const rising = (entries: ReadonlyArray<EpochEntry>) => entries.every((entry, index) => index === 0
    || (entry.epoch > entries[index - 1]!.epoch && entry.startOffset > entries[index - 1]!.startOffset));

  it('turns random bytes into a typed error or a valid list, never a crash', () => {
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.string({ maxLength: 200 }).map((text) => Buffer.from(text))), (bytes) => {
      const { state, cache, problem } = load(bytes);
      expect(['loaded', 'unreadable']).toContain(state);
      if (state === 'unreadable') expect(problem).toBeInstanceOf(SluiceError);
      expect(rising(cache.entries())).toBe(true);
    }), { numRuns: 300 });
  });

  it('rejects every truncation and single-byte corruption of a valid file that changes its meaning', () => {
    const entries = [{ epoch: 0, startOffset: 0 }, { epoch: 2, startOffset: 1500 }, { epoch: 17, startOffset: 90_071 }];
    const text = Buffer.from(formatLeaderEpochCheckpoint(entries));
    fc.assert(fc.property(fc.nat({ max: text.length }), fc.nat({ max: text.length - 1 }), fc.nat({ max: 255 }), (cut, at, byte) => {
      for (const bytes of [text.subarray(0, cut), Buffer.from(text).fill(byte, at, at + 1)]) {
        const { state, cache } = load(bytes);
        if (state === 'loaded') expect(rising(cache.entries())).toBe(true);
        else expect(cache.entries()).toEqual([]);
      }
    }), { numRuns: 200 });
    expect(load(text.subarray(0, text.length - 1)).cache.entries()).toEqual(entries);
    expect(load(text.subarray(0, text.length - 3)).state).toBe('unreadable');
  });
});
