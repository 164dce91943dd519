/**
 * The produce path's per-record check (validateProducerBatch → walkRecords): every batch
 * below has a correct CRC-32C, so only walking the records can refuse it. Each case runs
 * uncompressed and with every codec.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../../../proto/errors.js';
import {
  batchMaxTimestamp, buildRecordBatch, checkBatch, decodeRecords, readBatchHeader, setMaxTimestamp, validateProducerBatch,
} from '../../../../proto/record-batch/record-batch.js';
import { compressionTypes } from '../../../../proto/record-batch/compression.js';
import { walkRecords } from '../../../../proto/record-batch/record-walk.js';
import { craftBatch, emptyBlocksFrame, goodRecords, type RawRecord, rawRecords, withValidCrc } from '../../../helpers/crafted-batches.js';

const compressions = compressionTypes;
const maxBytes = 1 << 20;

function expectInvalid(batch: Buffer, code = 'SLUICE_ERR_INVALID_RECORD', pattern?: RegExp): void {
  expect(() => validateProducerBatch(batch, maxBytes)).toThrow(expect.objectContaining({ code, ...(pattern ? { message: expect.stringMatching(pattern) } : {}) }));
}

describe.each(compressions)('the record walk refuses, with INVALID_RECORD (compression %s)', (compression) => {
  const craft = (records: RawRecord[], options: { count?: number; lastOffsetDelta?: number; trailing?: Buffer } = {}) => {
    const section = Buffer.concat([rawRecords(records), options.trailing ?? Buffer.alloc(0)]);
    const count = options.count ?? records.length;
    return craftBatch(section, { count, lastOffsetDelta: options.lastOffsetDelta ?? count - 1, compression });
  };

  it('accepts well-formed records (the crafting itself is sound)', () => {
    const batch = craft(goodRecords(5));
    expect(validateProducerBatch(batch, maxBytes).recordsCount).toBe(5);
    expect(decodeRecords(batch).map((record) => record.offset)).toEqual([0, 1, 2, 3, 4]);
  });

  it('garbage records under a correct CRC', () => {
    expectInvalid(craftBatch(Buffer.alloc(40, 0xff), { count: 3, compression }));
    expectInvalid(craftBatch(Buffer.from('this is not a record at all, just text'), { count: 2, compression }));
  });

  it('a recordsCount higher than the records present', () => {
    expectInvalid(craft(goodRecords(3), { count: 4 }), 'SLUICE_ERR_INVALID_RECORD', /declares 4 records/);
  });

  it('a recordsCount lower than the records present', () => {
    expectInvalid(craft(goodRecords(3), { count: 2 }), 'SLUICE_ERR_INVALID_RECORD', /follow the last of the 2 records/);
  });

  it('offset deltas that do not run 0..n−1 in order', () => {
    expectInvalid(craft([{ offsetDelta: 0 }, { offsetDelta: 2 }, { offsetDelta: 1 }]), 'SLUICE_ERR_INVALID_RECORD', /offsetDelta is 2/);
    expectInvalid(craft([{ offsetDelta: 1 }, { offsetDelta: 2 }, { offsetDelta: 3 }]));
    expectInvalid(craft([{ offsetDelta: 0 }, { offsetDelta: 0 }]));
  });

  it('a lastOffsetDelta inconsistent with the records', () => {
    expectInvalid(craft(goodRecords(3), { lastOffsetDelta: 5 }));
    expectInvalid(craft(goodRecords(3), { count: 6, lastOffsetDelta: 5 }));
  });

  it('a truncated record, and a record whose fields overrun its length', () => {
    const whole = rawRecords(goodRecords(3));
    expectInvalid(craftBatch(whole.subarray(0, whole.length - 4), { count: 3, compression }), 'SLUICE_ERR_INVALID_RECORD', /record 2/);
    expectInvalid(craft([{ offsetDelta: 0 }, { offsetDelta: 1, lengthAdjust: -3 }]), 'SLUICE_ERR_INVALID_RECORD', /record 1/);
    expectInvalid(craft([{ offsetDelta: 0, lengthAdjust: 2 }, { offsetDelta: 1 }]), 'SLUICE_ERR_INVALID_RECORD', /record 0/);
    expectInvalid(craft([{ offsetDelta: 0, key: Buffer.alloc(3), value: null, headers: [{ key: Buffer.from('h'), value: Buffer.from('x') }], lengthAdjust: -2 }]));
  });

  it('trailing bytes after the last record', () => {
    expectInvalid(craft(goodRecords(3), { trailing: Buffer.from([0, 0, 0, 0, 0]) }), 'SLUICE_ERR_INVALID_RECORD', /5 bytes follow/);
  });

  it('reports a null key anywhere, for the compacted-topic rule', () => {
    expect(validateProducerBatch(craft(goodRecords(3)), maxBytes).hasNullKey).toBe(false);
    expect(validateProducerBatch(craft([{ offsetDelta: 0 }, { offsetDelta: 1, key: null }]), maxBytes).hasNullKey).toBe(true);
  });
});

describe('compressed producer batches', () => {
  it('refuse the LZ4 bomb (50 empty blocks) without allocating the block maxima', () => {
    const batch = craftBatch(emptyBlocksFrame(50), { count: 1, compression: 'lz4', rawFrame: true });
    const before = process.memoryUsage().arrayBuffers;
    expectInvalid(batch, 'SLUICE_ERR_INVALID_RECORD');
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1024 * 1024);
  });

  it('refuse records that decompress past max.message.bytes × 64', () => {
    const batch = buildRecordBatch([{ key: Buffer.from('k'), value: Buffer.alloc(3 * 1024 * 1024, 1) }], { compression: 'lz4' });
    expect(batch.length).toBeLessThan(32 * 1024);
    expect(() => validateProducerBatch(batch, 32 * 1024)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_INVALID_RECORD', message: expect.stringMatching(/past the limit of 2097152 bytes/) }));
    expect(validateProducerBatch(batch, 64 * 1024).recordsCount).toBe(1);
  });
});

describe('record timestamps', () => {
  const now = 1_800_000_000_000;
  const bounds = { lowestTimestamp: now - 60_000, highestTimestamp: now + 3_600_000 };
  const at = (...timestamps: number[]) => buildRecordBatch(timestamps.map((timestamp) => ({ key: null, value: Buffer.from('v'), timestamp })));

  it('refuses any record outside [now − before.max.ms, now + after.max.ms] with INVALID_TIMESTAMP', () => {
    for (const compression of compressions) {
      const future = buildRecordBatch([{ key: null, value: null, timestamp: now }, { key: null, value: null, timestamp: now + 2 * 3_600_000 }], { compression });
      expect(() => validateProducerBatch(future, maxBytes, { timestamps: bounds })).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_INVALID_TIMESTAMP', message: expect.stringMatching(/record 1 has timestamp/) }));
    }
    expect(() => validateProducerBatch(at(now - 24 * 3_600_000, now), maxBytes, { timestamps: bounds })).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_INVALID_TIMESTAMP' }));
    expect(validateProducerBatch(at(now - 60_000, now, now + 3_600_000), maxBytes, { timestamps: bounds }).recordsMaxTimestamp).toBe(now + 3_600_000);
  });

  it('lets records without a timestamp (-1) through, as Kafka does', () => {
    expect(validateProducerBatch(at(-1), maxBytes, { timestamps: bounds }).recordsMaxTimestamp).toBe(-1);
  });

  it('setMaxTimestamp corrects a header that claims a time its records do not, recomputing the CRC only then', () => {
    const lying = craftBatch(rawRecords(goodRecords(2)), { count: 2, baseTimestamp: now, maxTimestamp: now + 10 * 365 * 86_400_000 });
    const validated = validateProducerBatch(lying, maxBytes, { timestamps: bounds });
    expect(validated.recordsMaxTimestamp).toBe(now);
    expect(setMaxTimestamp(lying, 0, 'create', validated.recordsMaxTimestamp)).toBe(true);
    expect(batchMaxTimestamp(lying, 0)).toBe(now);
    expect(checkBatch(lying, 0, lying.length)).toBe(lying.length);
    const honest = at(now, now + 5);
    const copy = Buffer.from(honest);
    expect(setMaxTimestamp(honest, 0, 'create', now + 5)).toBe(false);
    expect(honest.equals(copy)).toBe(true);
  });

  it('setMaxTimestamp stamps LogAppendTime: type bit, broker time, valid CRC, readers see that time', () => {
    const batch = at(1_000, 2_000);
    expect(setMaxTimestamp(batch, 0, 'log-append', now)).toBe(true);
    expect(checkBatch(batch, 0, batch.length)).toBe(batch.length);
    expect(readBatchHeader(batch)).toMatchObject({ timestampType: 'log-append', maxTimestamp: now, baseTimestamp: 1_000 });
    expect(decodeRecords(batch).map((record) => record.timestamp)).toEqual([now, now]);
  });
});

describe('the validator against hostile bytes', () => {
  const seed = Number(process.env.SLUICE_SEED ?? 7);
  const samples = compressions.map((compression) => buildRecordBatch(Array.from({ length: 30 }, (_, index) => ({
    key: index % 4 === 0 ? null : Buffer.from(`key-${index}`), value: Buffer.alloc(20 + index, index), timestamp: 1_700_000_000_000 + index,
    headers: index % 3 === 0 ? [{ key: 'h', value: Buffer.from([index]) }] : [],
  })), { compression }));

  /** Only SluiceErrors, and whatever it accepts decodes fully with the offsets it promised. */
  function validateOrRefuse(bytes: Buffer): void {
    let accepted: ReturnType<typeof validateProducerBatch>;
    try {
      accepted = validateProducerBatch(bytes, maxBytes);
    } catch (error) {
      if (!SluiceError.is(error)) throw new Error(`seed ${seed}: ${String(error)} for ${bytes.toString('hex').slice(0, 200)}`);
      return;
    }
    const records = decodeRecords(bytes);
    expect(records.map((record) => record.offset)).toEqual(Array.from({ length: accepted.recordsCount }, (_, index) => index));
  }

  it(`random bytes under a valid CRC (seed ${seed})`, () => {
    fc.assert(fc.property(fc.constantFrom(...compressions), fc.uint8Array({ maxLength: 400 }), fc.integer({ min: 0, max: 40 }), (compression, bytes, count) => {
      validateOrRefuse(craftBatch(Buffer.from(bytes), { count, compression, rawFrame: true }));
      validateOrRefuse(craftBatch(Buffer.from(bytes), { count, compression }));
    }), { seed, numRuns: 2000 });
  });

  it(`edits and truncations of real batches with the CRC fixed up (seed ${seed})`, () => {
    fc.assert(fc.property(fc.constantFrom(...samples), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { maxLength: 4 }), fc.nat(), (batch, edits, cut) => {
      const records = batch.subarray(61, 61 + ((cut % (batch.length - 61)) + 1));
      const mutated = Buffer.concat([batch.subarray(0, 61), records]);
      mutated.writeInt32BE(mutated.length - 12, 8);
      for (const [where, value] of edits) mutated[57 + (where % (mutated.length - 57))] = value;
      mutated.writeInt32BE(mutated.length - 12, 8);
      validateOrRefuse(withValidCrc(mutated));
    }), { seed, numRuns: 3000 });
  });

  it('walks only within the range it is given', () => {
    const section = rawRecords(goodRecords(2));
    const padded = Buffer.concat([Buffer.from([1, 2, 3]), section, Buffer.from([9, 9])]);
    expect(walkRecords(padded, 3, 3 + section.length, 2, 0)).toEqual({ hasNullKey: false, maxTimestamp: 0 });
    expect(() => walkRecords(padded, 3, 3 + section.length - 1, 2, 0)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_INVALID_RECORD' }));
  });
});
