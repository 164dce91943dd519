/**
 * Sealed segments under the segment cache: at most N of them keep their files mapped, a cold
 * one is mapped again on its next read and returns the same records, and an eviction never
 * invalidates a slice a read handed out (the mapping lives until the slice is collected).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Log } from '../../../../broker/storage/log.js';
import { defaultSegmentCacheSize, segmentCache } from '../../../../broker/storage/segment-cache.js';
import { segmentFileName } from '../../../../broker/storage/segment.js';
import { recordsPerTestBatch, testBatch, withBaseOffset } from '../../../helpers/batches.js';
import { mappingsUnder } from '../../../helpers/proc.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Collects what nobody references any more until `done` holds (within 5 s): WeakRefs hold
 * through the current turn, a sealed segment's background sync holds its mapping until it ends,
 * and the addon's finalizers (which unmap) run in a turn after the collection.
 */
async function collectUntil(done: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    await nextTurn();
    gc();
    await nextTurn();
    await nextTurn();
    if (done() || Date.now() > deadline) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let directory: string;
beforeEach(() => {
  directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-segcache-'));
  segmentCache.resize(4);
});
afterEach(() => {
  segmentCache.resize(defaultSegmentCacheSize);
  fs.rmSync(directory, { recursive: true, force: true });
});

/**
 * Appends test batches until the log has `segments` segments; returns how many were appended
 * once the sealed segments' background syncs are done (a segment with unsynced changes is not
 * unmapped before they are).
 */
async function fill(log: Log, segments: number): Promise<number> {
  let n = 0;
  for (; log.segmentCount < segments; n += 1) log.append(testBatch(n));
  await collectUntil(() => segmentCache.stats().cached <= 4);
  return n;
}

/** Base offsets of the segments whose files (any of .log/.index/.timeindex) are mapped now. */
function mappedSegments(): Set<string> {
  return new Set(mappingsUnder(directory).map((line) => path.basename(line.split(/\s+/).at(-1)!).split('.')[0]!));
}

/** Every batch read back from the start, each compared with what was appended. */
function expectAllRecords(log: Log, batches: number): void {
  for (let n = 0; n < batches; n += 1) {
    const offset = n * recordsPerTestBatch;
    const { slices } = log.read(offset, 1);
    expect(slices[0]!.equals(withBaseOffset(testBatch(n), offset))).toBe(true);
  }
}

describe('the segment cache', () => {
  it('keeps at most its size of sealed segments mapped, plus the active one', async () => {
    const log = Log.open(directory, { config: { segmentBytes: 16 * 1024 } });
    await fill(log, 20);
    expect(segmentCache.stats().cached).toBeLessThanOrEqual(4);
    await collectUntil(() => mappedSegments().size <= 4 + 1);
    const active = segmentFileName(log.segmentBaseOffsets.at(-1)!, '.log').split('.')[0]!;
    const mapped = mappedSegments();
    expect(mapped.has(active)).toBe(true);
    expect(mapped.size).toBeLessThanOrEqual(4 + 1);
    log.close();
  });

  it('maps a cold segment again on its next read and returns the same records; hits and evictions are counted', async () => {
    const log = Log.open(directory, { config: { segmentBytes: 16 * 1024 } });
    const batches = await fill(log, 20);
    const before = segmentCache.stats();
    expectAllRecords(log, batches);
    const after = segmentCache.stats();
    // Reading 19 sealed segments through a cache of 4 maps most of them again and evicts as many.
    expect(after.misses - before.misses).toBeGreaterThanOrEqual(15);
    expect(after.evictions - before.evictions).toBeGreaterThanOrEqual(15);
    expect(after.hits).toBeGreaterThan(before.hits);
    expect(after.cached).toBeLessThanOrEqual(4);
    await collectUntil(() => mappedSegments().size <= 4 + 1);
    expect(mappedSegments().size).toBeLessThanOrEqual(4 + 1);
    // A reopened log (segments opened sealed) is bounded the same way and reads the same.
    log.close();
    const reopened = Log.open(directory, { config: { segmentBytes: 16 * 1024 } });
    expectAllRecords(reopened, batches);
    expect(segmentCache.stats().cached).toBeLessThanOrEqual(4);
    reopened.close();
  });

  it('never invalidates a slice a read handed out: the evicted mapping lives until the slice is let go', async () => {
    const log = Log.open(directory, { config: { segmentBytes: 16 * 1024 } });
    const batches = await fill(log, 12);
    const first = segmentFileName(0, '.log').split('.')[0]!;
    let slice: Buffer | undefined = log.read(0, 1 << 20).slices[0]!;
    const copy = Buffer.from(slice);
    const evictions = segmentCache.stats().evictions;
    // Every other sealed segment is read: the first goes cold and is evicted while the slice is held.
    expectAllRecords(log, batches);
    expect(segmentCache.stats().evictions).toBeGreaterThan(evictions);
    // Once the GC has unmapped the other evicted segments, the held one is still mapped: the slice keeps it.
    await collectUntil(() => mappedSegments().size <= 4 + 1 + 1);
    expect(mappedSegments().size).toBeLessThanOrEqual(4 + 1 + 1);
    expect(slice.equals(copy)).toBe(true);
    expect(mappedSegments().has(first)).toBe(true);
    slice = undefined;
    await collectUntil(() => !mappedSegments().has(first));
    expect(mappedSegments().has(first)).toBe(false);
    log.close();
  });

  it('lets retention delete an evicted segment (its file is freed at once) and truncation cut into a cold one', async () => {
    const log = Log.open(directory, { config: { segmentBytes: 16 * 1024, retentionBytes: 0 }, deletedSegmentReadGraceMs: 0 });
    const batches = await fill(log, 12);
    const bases = log.segmentBaseOffsets;
    const cut = bases[6]! + 2 * recordsPerTestBatch;
    expectAllRecords(log, batches);
    log.truncateTo(cut);
    expect(log.logEndOffset).toBe(cut);
    expectAllRecords(log, cut / recordsPerTestBatch);
    const slice = log.read(0, 1 << 20).slices[0]!;
    expectAllRecords(log, cut / recordsPerTestBatch);
    expect(log.applyRetention()).toBeGreaterThan(0);
    expect(mappingsUnder(path.join(directory, segmentFileName(0, '.log')))).toEqual([]);
    expect(slice.every((byte) => byte === 0)).toBe(true);
    log.close();
    const reopened = Log.open(directory, { config: { segmentBytes: 16 * 1024 } });
    expect([reopened.logStartOffset, reopened.logEndOffset]).toEqual([cut, cut]);
    reopened.close();
  });
});
