/**
 * The in-memory timer index pops entries by due time, then by timer offset (equal due times
 * fire in produce order), through growth and shrinking, at 16 bytes an entry (32 at most).
 */
import { describe, expect, it } from 'vitest';
import { TimerIndex } from '../../../../broker/delayed/timer-index.js';
import { seededRandom } from '../../../helpers/random.js';

describe('timer index', () => {
  it('pops by due time, equal due times by offset, across growth', () => {
    const random = seededRandom(13);
    const index = new TimerIndex();
    const entries: { due: number; offset: number }[] = [];
    for (let offset = 0; offset < 20_000; offset += 1) {
      const due = 1_000 + Math.floor(random() * 500);
      entries.push({ due, offset });
      index.push(due, offset);
    }
    expect(index.size).toBe(20_000);
    expect(index.bytes / index.size).toBeLessThanOrEqual(32);
    entries.sort((a, b) => a.due - b.due || a.offset - b.offset);
    expect(index.minOffset()).toBe(0);
    const popped: { due: number; offset: number }[] = [];
    while (index.size > 0) popped.push({ due: index.peekDue(), offset: index.pop() });
    expect(popped).toEqual(entries);
    expect(index.size).toBe(0);
    expect(index.peekDue()).toBe(Infinity);
    expect(index.minOffset()).toBe(Infinity);
  });

  it('interleaves pushes and pops', () => {
    const random = seededRandom(7);
    const index = new TimerIndex();
    const model: { due: number; offset: number }[] = [];
    for (let step = 0; step < 5_000; step += 1) {
      if (random() < 0.6 || model.length === 0) {
        const entry = { due: Math.floor(random() * 100), offset: step };
        model.push(entry);
        index.push(entry.due, entry.offset);
      } else {
        model.sort((a, b) => a.due - b.due || a.offset - b.offset);
        const expected = model.shift()!;
        expect(index.pop()).toBe(expected.offset);
      }
      expect(index.size).toBe(model.length);
    }
  });
});
