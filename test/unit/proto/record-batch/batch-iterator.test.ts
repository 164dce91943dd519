import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CorruptRecordError } from '../../../../proto/errors.js';
import { batchSizeAt, eachBatch } from '../../../../proto/record-batch/batch-iterator.js';
import { buildRecordBatch } from '../../../../proto/record-batch/record-batch.js';

const one = buildRecordBatch([{ key: null, value: Buffer.from('one') }]);
const two = buildRecordBatch([{ key: Buffer.from('k'), value: Buffer.alloc(100, 2) }, { key: null, value: null }]);

describe('eachBatch', () => {
  it('yields the position and size of every batch laid end to end, within [start, end)', () => {
    const bytes = Buffer.concat([Buffer.alloc(5), one, two, one, Buffer.alloc(3)]);
    const end = 5 + one.length * 2 + two.length;
    expect([...eachBatch(bytes, 5, end)]).toEqual([
      { position: 5, size: one.length },
      { position: 5 + one.length, size: two.length },
      { position: 5 + one.length + two.length, size: one.length },
    ]);
    expect([...eachBatch(Buffer.alloc(0))]).toEqual([]);
  });

  it('yields the good batches, then throws CorruptRecordError at a length past the end', () => {
    const torn = Buffer.concat([one, two.subarray(0, two.length - 1)]);
    const seen: number[] = [];
    expect(() => {
      for (const { position } of eachBatch(torn)) seen.push(position);
    }).toThrow(expect.objectContaining({ name: 'CorruptRecordError', message: expect.stringMatching(/declares \d+ bytes but only \d+ follow/) }));
    expect(seen).toEqual([0]);
  });

  it('throws on a length below the header size and on a tail shorter than a header', () => {
    const short = Buffer.from(one);
    short.writeInt32BE(48, 8);
    expect(() => [...eachBatch(short)]).toThrow(/below the header's size/);
    const negative = Buffer.from(one);
    negative.writeInt32BE(-12, 8);
    expect(() => [...eachBatch(negative)]).toThrow(CorruptRecordError);
    expect(() => [...eachBatch(Buffer.concat([one, Buffer.alloc(60)]))]).toThrow(/cut short: 60 bytes/);
    expect(() => batchSizeAt(one, 0, 20)).toThrow(CorruptRecordError);
  });

  it('only ever throws CorruptRecordError on random bytes and always moves forward', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      const buffer = Buffer.from(bytes);
      let last = -1;
      try {
        for (const { position, size } of eachBatch(buffer)) {
          expect(position).toBeGreaterThan(last);
          expect(position + size).toBeLessThanOrEqual(buffer.length);
          last = position;
        }
      } catch (error) {
        expect(error).toBeInstanceOf(CorruptRecordError);
      }
    }), { seed: 5, numRuns: 2000 });
  });
});
