/**
 * The cleaner's offset map: a fixed number of slots set by its byte size, the latest offset per
 * key, and full at 90% — then new keys are refused while known keys still update.
 */
import { describe, expect, it } from 'vitest';
import { keyHash, OffsetMap, offsetMapSlotBytes } from '../../../../broker/storage/offset-map.js';

describe('offset map', () => {
  it('keeps the latest offset per key in a fixed number of slots', () => {
    const map = new OffsetMap(1000 * offsetMapSlotBytes);
    expect(map.slots).toBe(1000);
    expect(map.maxEntries).toBe(900);
    for (let offset = 0; offset < 2000; offset += 1) expect(map.put(keyHash(Buffer.from(`key-${offset % 500}`)), offset)).toBe(true);
    expect(map.size).toBe(500);
    for (let key = 0; key < 500; key += 1) expect(map.get(keyHash(Buffer.from(`key-${key}`)))).toBe(1500 + key);
    expect(map.get(keyHash(Buffer.from('never written')))).toBe(-1);
    map.clear();
    expect(map.size).toBe(0);
    expect(map.get(keyHash(Buffer.from('key-1')))).toBe(-1);
  });

  it('refuses a new key once full, but still moves a known key forward', () => {
    const map = new OffsetMap(12 * offsetMapSlotBytes);
    expect(map.maxEntries).toBe(10);
    for (let key = 0; key < 10; key += 1) expect(map.put(keyHash(Buffer.from(`k${key}`)), key)).toBe(true);
    expect(map.put(keyHash(Buffer.from('k10')), 10)).toBe(false);
    expect(map.get(keyHash(Buffer.from('k10')))).toBe(-1);
    expect(map.put(keyHash(Buffer.from('k3')), 11)).toBe(true);
    expect(map.get(keyHash(Buffer.from('k3')))).toBe(11);
    expect(map.size).toBe(10);
  });

  it('needs room for at least two slots', () => {
    expect(() => new OffsetMap(offsetMapSlotBytes)).toThrow(RangeError);
  });
});
