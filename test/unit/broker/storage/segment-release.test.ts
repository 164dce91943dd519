/**
 * A deleted segment lets go of its file at once, not when some garbage collection runs: its
 * descriptors are closed and its mappings no longer reference the file, so the file's disk
 * blocks and page cache are freed immediately (/proc/self/maps shows no "(deleted)" mapping of
 * it, /proc/self/fd no descriptor). A slice handed out before stays readable: its old bytes while
 * a response may still be on its way (the read grace), zeros after.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Log } from '../../../../broker/storage/log.js';
import { segmentFileName } from '../../../../broker/storage/segment.js';
import { testBatch } from '../../../helpers/batches.js';
import { waitFor } from '../../../helpers/broker-process.js';
import { descriptorsUnder, mappingsUnder } from '../../../helpers/proc.js';

let directory: string;
beforeEach(() => { directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-release-')); });
afterEach(() => fs.rmSync(directory, { recursive: true, force: true }));

/** The path of the segment at `base` without its suffix: matches its .log, .index and .timeindex. */
function segmentPrefix(base: number): string {
  return path.join(directory, segmentFileName(base, '.log')).slice(0, -'.log'.length);
}

/** Everything of the segment at `base` that the process still holds: mappings and descriptors. */
function held(base: number): string[] {
  return [...mappingsUnder(segmentPrefix(base)), ...descriptorsUnder(segmentPrefix(base))];
}

function fill(log: Log, segments: number): void {
  for (let n = 0; log.segmentCount < segments; n += 1) log.append(testBatch(n));
}

describe('a deleted segment', () => {
  it('frees its file at retention at once, while a slice taken before reads zeros instead of crashing', () => {
    const log = Log.open(directory, { config: { segmentBytes: 64 * 1024, retentionBytes: 0 }, deletedSegmentReadGraceMs: 0 });
    fill(log, 3);
    const [first] = log.segmentBaseOffsets;
    const { slices } = log.read(first!, 1 << 20);
    const slice = slices[0]!;
    expect(slice.length).toBeGreaterThan(60 * 1024);
    expect(held(first!)).not.toHaveLength(0);

    expect(log.applyRetention()).toBe(2);
    // The slice is still reachable, so no GC could have released the mapping: the delete did.
    expect(held(first!)).toEqual([]);
    expect(fs.existsSync(path.join(directory, segmentFileName(first!, '.log')))).toBe(false);
    expect(slice.every((byte) => byte === 0)).toBe(true);
    log.close();
  });

  it('keeps the bytes of a recent read for the read grace, then frees the file on a timer, not the GC', async () => {
    const log = Log.open(directory, { config: { segmentBytes: 64 * 1024, retentionBytes: 0 }, deletedSegmentReadGraceMs: 300 });
    fill(log, 2);
    const [first, second] = log.segmentBaseOffsets;
    const slice = log.read(first!, 1 << 20).slices[0]!;
    const copy = Buffer.from(slice);

    log.applyRetention();
    expect(log.segmentBaseOffsets).toEqual([second]);
    expect(slice.equals(copy)).toBe(true);
    // Descriptors go at once even while the mapping waits out the grace.
    expect(descriptorsUnder(segmentPrefix(first!))).toEqual([]);
    expect(mappingsUnder(segmentPrefix(first!)).every((line) => line.includes('.log (deleted)'))).toBe(true);
    await waitFor('the grace to end and the file to be let go', () => held(first!).length === 0, 5000);
    expect(slice.every((byte) => byte === 0)).toBe(true);
    log.close();
  });

  it('that nobody read lately is freed at once even with the default grace', () => {
    const log = Log.open(directory, { config: { segmentBytes: 64 * 1024, retentionBytes: 0 } });
    fill(log, 3);
    const [first, second] = log.segmentBaseOffsets;
    const whole = log.read(second!, 1 << 20).slices[0]!;
    log.applyRetention();
    expect(held(first!)).toEqual([]);
    // The one read a moment ago keeps its bytes for responses still being written.
    expect(whole.every((byte) => byte === 0)).toBe(false);
    log.close();
  });

  it('of a deleted log (topic deletion) is freed at once; a log holds mappings but no descriptors', () => {
    const log = Log.open(directory, { config: { segmentBytes: 64 * 1024 } });
    fill(log, 3);
    expect(descriptorsUnder(directory)).toEqual([]);
    expect(mappingsUnder(directory).length).toBeGreaterThanOrEqual(3);
    log.delete();
    expect(descriptorsUnder(directory)).toEqual([]);
    expect(mappingsUnder(directory)).toEqual([]);
    expect(fs.existsSync(directory)).toBe(false);
  });
});
