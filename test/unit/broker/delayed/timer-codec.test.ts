/**
 * The timer log's internal header values (target, fired marker) round-trip, and any other bytes
 * — truncations, random bytes — either decode to a value that round-trips or throw
 * CORRUPT_MESSAGE, never another exception.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFired, decodeTarget, encodeFired, encodeTarget, type FiredMarker } from '../../../../broker/delayed/timer-codec.js';
import { decodeOrCorrupt } from '../../../helpers/decode-or-corrupt.js';

const topic = fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' });
const offset = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const targetArbitrary = fc.record({ topic, partition: fc.integer({ min: 0, max: 2 ** 32 - 1 }), endAtProduce: offset });
const markerArbitrary: fc.Arbitrary<FiredMarker> = fc.record({
  offsets: fc.array(offset, { maxLength: 50 }),
  targets: fc.array(fc.record({ topic, partition: fc.integer({ min: 0, max: 2 ** 32 - 1 }), end: offset }), { maxLength: 10 }),
});

describe('timer codec', () => {
  it('round-trips targets and fired markers', () => {
    fc.assert(fc.property(targetArbitrary, (target) => {
      expect(decodeTarget(encodeTarget(target))).toEqual(target);
    }));
    fc.assert(fc.property(markerArbitrary, (marker) => {
      expect(decodeFired(encodeFired(marker))).toEqual(marker);
    }));
  });

  it('refuses every truncation and null with CORRUPT_MESSAGE', () => {
    fc.assert(fc.property(targetArbitrary, markerArbitrary, (target, marker) => {
      const targetBytes = encodeTarget(target);
      const markerBytes = encodeFired(marker);
      for (let length = 0; length < targetBytes.length; length += 1) expect(decodeOrCorrupt(() => decodeTarget(targetBytes.subarray(0, length)))).toBeUndefined();
      for (let length = 0; length < markerBytes.length; length += 1) expect(decodeOrCorrupt(() => decodeFired(markerBytes.subarray(0, length)))).toBeUndefined();
    }), { numRuns: 30 });
    expect(decodeOrCorrupt(() => decodeTarget(null))).toBeUndefined();
    expect(decodeOrCorrupt(() => decodeFired(null))).toBeUndefined();
  });

  it('decodes random bytes to a value that round-trips, or refuses them with CORRUPT_MESSAGE', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), (raw) => {
      const bytes = Buffer.from(raw);
      const target = decodeOrCorrupt(() => decodeTarget(bytes));
      if (target !== undefined) expect(decodeTarget(encodeTarget(target))).toEqual(target);
      const marker = decodeOrCorrupt(() => decodeFired(bytes));
      if (marker !== undefined) expect(decodeFired(encodeFired(marker))).toEqual(marker);
    }), { numRuns: 2000 });
  });
});
