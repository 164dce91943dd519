/**
 * The broker-wide request memory: takes what fits, queues the rest first come first served,
 * grants on release, never holds more than its capacity (but lets one frame larger than the
 * whole pool in alone), and forgets a waiter that cancels.
 */
import { describe, expect, it } from 'vitest';
import { RequestMemory } from '../../../../broker/protocol/request-memory.js';

describe('RequestMemory', () => {
  it('takes what fits and queues the rest in order, granting on release', () => {
    const memory = new RequestMemory(100);
    expect(memory.tryTake(60)).toBe(true);
    expect(memory.tryTake(50)).toBe(false);
    const granted: string[] = [];
    memory.wait(50, () => granted.push('fifty'));
    // A small request that would fit does not jump the line.
    expect(memory.tryTake(10)).toBe(false);
    memory.wait(10, () => granted.push('ten'));
    expect(memory.waiting).toBe(2);
    memory.release(60);
    expect(granted).toEqual(['fifty', 'ten']);
    expect(memory.used).toBe(60);
    expect(memory.waiting).toBe(0);
  });

  it('never holds more than its capacity, except one frame larger than it, alone', () => {
    const memory = new RequestMemory(100);
    expect(memory.tryTake(100)).toBe(true);
    const granted: number[] = [];
    memory.wait(250, () => granted.push(250));
    memory.wait(30, () => granted.push(30));
    memory.release(100);
    expect(granted).toEqual([250]);
    expect(memory.used).toBe(250);
    memory.release(250);
    expect(granted).toEqual([250, 30]);
    expect(memory.used).toBe(30);
  });

  it('forgets a waiter that cancels', () => {
    const memory = new RequestMemory(10);
    expect(memory.tryTake(10)).toBe(true);
    let granted = false;
    const cancel = memory.wait(5, () => { granted = true; });
    cancel();
    memory.release(10);
    expect(granted).toBe(false);
    expect(memory.used).toBe(0);
    expect(memory.tryTake(5)).toBe(true);
  });
});
