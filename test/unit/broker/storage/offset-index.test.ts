import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OffsetIndex } from '../../../../broker/storage/offset-index.js';
import { seededRandom } from '../../../helpers/random.js';

let directory: string;
beforeEach(() => { directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-index-')); });
afterEach(() => fs.rmSync(directory, { recursive: true, force: true }));

describe('OffsetIndex', () => {
  it('answers random lookups like a floor search over a sorted model', () => {
    const seed = 42;
    const random = seededRandom(seed);
    const base = 1000;
    const index = new OffsetIndex(path.join(directory, 'a.index'), base, 64 * 1024);
    const model: Array<[number, number]> = [];
    let offset = base;
    let position = 0;
    for (let entry = 0; entry < 2000; entry += 1) {
      offset += 1 + Math.floor(random() * 50);
      position += 1 + Math.floor(random() * 9000);
      expect(index.append(offset, position)).toBe(true);
      model.push([offset, position]);
    }
    for (let probe = 0; probe < 5000; probe += 1) {
      const target = base + Math.floor(random() * (offset - base + 100));
      let expected = { offset: base, position: 0 };
      for (const [entryOffset, entryPosition] of model) if (entryOffset <= target) expected = { offset: entryOffset, position: entryPosition };
      expect(index.lookup(target), `seed ${seed} target ${target}`).toEqual(expected);
    }
    index.close();
  });

  it('reports full when every slot is used', () => {
    const index = new OffsetIndex(path.join(directory, 'b.index'), 0, 8 * 4);
    for (let entry = 1; entry <= 4; entry += 1) expect(index.append(entry, entry * 100)).toBe(true);
    expect(index.isFull).toBe(true);
    expect(index.append(5, 500)).toBe(false);
    index.close();
  });

  it('truncates by offset and by position, and forgets the dropped entries on reopen', () => {
    const file = path.join(directory, 'c.index');
    const index = new OffsetIndex(file, 0, 1024);
    for (let entry = 1; entry <= 10; entry += 1) index.append(entry * 10, entry * 100);
    index.truncateTo(55);
    expect(index.entries).toBe(5);
    expect(index.lastEntry).toEqual({ offset: 50, position: 500 });
    index.truncateToPosition(300);
    expect(index.lastEntry).toEqual({ offset: 20, position: 200 });
    index.close();
    // Not trimmed: the file still has its preallocated tail, as after a crash.
    const reopened = new OffsetIndex(file, 0, 1024);
    expect(reopened.entries).toBe(2);
    reopened.close();
  });

  it('keeps only the increasing prefix of a crashed file', () => {
    const file = path.join(directory, 'd.index');
    const bytes = Buffer.alloc(8 * 6);
    [[5, 100], [9, 300], [12, 600], [11, 700], [0, 0]].forEach(([offset, position], entry) => {
      bytes.writeUInt32BE(offset!, entry * 8);
      bytes.writeUInt32BE(position!, entry * 8 + 4);
    });
    fs.writeFileSync(file, bytes);
    const index = new OffsetIndex(file, 0, 1024);
    expect(index.entries).toBe(3);
    index.close();
  });
});
