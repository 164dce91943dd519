import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TimeIndex } from '../../../../broker/storage/time-index.js';

let directory: string;
beforeEach(() => { directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-timeindex-')); });
afterEach(() => fs.rmSync(directory, { recursive: true, force: true }));

describe('TimeIndex', () => {
  it('adds only growing timestamps and finds the floor entry', () => {
    const index = new TimeIndex(path.join(directory, 'a.timeindex'), 100, 12 * 100);
    index.maybeAppend(1_700_000_000_000, 110);
    index.maybeAppend(1_700_000_000_000, 120);
    index.maybeAppend(1_699_999_999_000, 125);
    index.maybeAppend(1_700_000_000_500, 130);
    expect(index.entries).toBe(2);
    expect(index.lookup(1_700_000_000_499)).toEqual({ timestamp: 1_700_000_000_000, offset: 110 });
    expect(index.lookup(1_800_000_000_000)).toEqual({ timestamp: 1_700_000_000_500, offset: 130 });
    expect(index.lookup(1)).toEqual({ timestamp: -1, offset: 100 });
    index.close();
  });

  it('keeps one slot free for the entry written when the segment is sealed', () => {
    const index = new TimeIndex(path.join(directory, 'b.timeindex'), 0, 12 * 3);
    index.maybeAppend(10, 1);
    index.maybeAppend(20, 2);
    expect(index.isFull).toBe(true);
    index.maybeAppend(30, 3);
    expect(index.entries).toBe(2);
    index.maybeAppend(30, 3, true);
    expect(index.entries).toBe(3);
    index.close();
  });

  it('truncates entries at or past an offset', () => {
    const index = new TimeIndex(path.join(directory, 'c.timeindex'), 0, 12 * 10);
    for (let entry = 1; entry <= 5; entry += 1) index.maybeAppend(entry * 1000, entry * 10);
    index.truncateTo(30);
    expect(index.lastEntry).toEqual({ timestamp: 2000, offset: 20 });
    index.close();
  });
});
