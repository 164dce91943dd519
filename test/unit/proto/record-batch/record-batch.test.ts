import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../../../proto/errors.js';
import {
  batchLastOffset, batchMaxTimestamp, buildRecordBatch, checkBatch, decodeRecords, readBatchHeader, type RecordInput,
  setBaseOffset, setPartitionLeaderEpoch, validateProducerBatch,
} from '../../../../proto/record-batch/record-batch.js';
import { compressionTypes } from '../../../../proto/record-batch/compression.js';

/** The test vector of KAFKA-FACTS §1, built there by two independent encoders. */
const golden = Buffer.from(
  '0000000000000000' + '0000004a' + 'ffffffff' + '02' + 'be457729' + '0000' + '00000001' + '0000018bcfe56800'
  + '0000018bcfe56805' + 'ffffffffffffffff' + 'ffff' + 'ffffffff' + '00000002'
  + '16' + '00' + '00' + '00' + '01' + '0a' + '68656c6c6f' + '00'
  + '18' + '00' + '0a' + '02' + '02' + '6b' + '02' + '76' + '02' + '02' + '68' + '02' + '78',
  'hex',
);
const goldenRecords: RecordInput[] = [
  { key: null, value: Buffer.from('hello'), timestamp: 1_700_000_000_000 },
  { key: Buffer.from('k'), value: Buffer.from('v'), timestamp: 1_700_000_000_005, headers: [{ key: 'h', value: Buffer.from('x') }] },
];

const recordArbitrary: fc.Arbitrary<RecordInput> = fc.record({
  key: fc.option(fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)), { nil: null }),
  value: fc.option(fc.uint8Array({ maxLength: 3000 }).map((bytes) => Buffer.from(bytes)), { nil: null }),
  headers: fc.array(fc.record({
    key: fc.string({ maxLength: 20 }),
    value: fc.option(fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes)), { nil: null }),
  }), { maxLength: 4 }),
  timestamp: fc.integer({ min: 1_500_000_000_000, max: 1_900_000_000_000 }),
});

function expectSameRecords(decoded: ReturnType<typeof decodeRecords>, records: RecordInput[], baseOffset = 0): void {
  expect(decoded).toHaveLength(records.length);
  decoded.forEach((record, index) => {
    const input = records[index]!;
    expect(record.offset).toBe(baseOffset + index);
    expect(record.timestamp).toBe(input.timestamp);
    expect(record.key === null ? null : Buffer.from(record.key)).toEqual(input.key);
    expect(record.value === null ? null : Buffer.from(record.value)).toEqual(input.value);
    expect(record.headers.map((header) => ({ key: header.key, value: header.value === null ? null : Buffer.from(header.value) })))
      .toEqual(input.headers ?? []);
  });
}

describe('RecordBatch v2', () => {
  it('builds the golden vector byte for byte', () => {
    expect(buildRecordBatch(goldenRecords).toString('hex')).toBe(golden.toString('hex'));
  });

  it('decodes the golden vector', () => {
    expect(checkBatch(golden, 0, golden.length)).toBe(86);
    const header = readBatchHeader(golden);
    expect(header).toMatchObject({ baseOffset: 0, batchLength: 74, magic: 2, crc: 0xbe457729, recordsCount: 2, producerId: -1, compression: 'none' });
    expectSameRecords(decodeRecords(golden), goldenRecords);
  });

  it('keeps the CRC valid when the broker rewrites baseOffset and the leader epoch', () => {
    const batch = Buffer.from(golden);
    setBaseOffset(batch, 0, 123_456_789_012);
    setPartitionLeaderEpoch(batch, 0, 7);
    expect(checkBatch(batch, 0, batch.length)).toBe(86);
    expect(batchLastOffset(batch, 0)).toBe(123_456_789_013);
    expect(batchMaxTimestamp(batch, 0)).toBe(1_700_000_000_005);
    expect(readBatchHeader(batch).partitionLeaderEpoch).toBe(7);
    expect(decodeRecords(batch).map((record) => record.offset)).toEqual([123_456_789_012, 123_456_789_013]);
  });

  it('round-trips random records with every codec', () => {
    fc.assert(fc.property(fc.array(recordArbitrary, { minLength: 1, maxLength: 40 }), fc.constantFrom(...compressionTypes), (records, compression) => {
      const batch = buildRecordBatch(records, { compression });
      expect(checkBatch(batch, 0, batch.length)).toBe(batch.length);
      expect(readBatchHeader(batch).compression).toBe(compression);
      expect(validateProducerBatch(batch, 1 << 30).recordsCount).toBe(records.length);
      expectSameRecords(decodeRecords(batch), records);
    }), { seed: 20261124, numRuns: 300 });
  });

  it('handles negative timestamp deltas and far-apart timestamps', () => {
    const records: RecordInput[] = [
      { key: null, value: Buffer.from('a'), timestamp: 1_700_000_000_000 },
      { key: null, value: Buffer.from('b'), timestamp: 1_000 },
      { key: null, value: Buffer.from('c'), timestamp: 4_000_000_000_000 },
    ];
    const batch = buildRecordBatch(records);
    expectSameRecords(decodeRecords(batch), records);
    expect(readBatchHeader(batch).maxTimestamp).toBe(4_000_000_000_000);
  });

  it.each(['gzip', 'snappy', 'lz4', 'zstd'] as const)('compresses repetitive records with %s, codec in the attributes', (compression) => {
    const records = Array.from({ length: 500 }, (_, index) => ({ key: null, value: Buffer.alloc(100, index % 3), timestamp: 1 }));
    const batch = buildRecordBatch(records, { compression });
    expect(batch.length).toBeLessThan(buildRecordBatch(records).length / 5);
    expect(batch.readInt16BE(21) & 0x07).toBe(['none', 'gzip', 'snappy', 'lz4', 'zstd'].indexOf(compression));
  });
});

describe('producer batch validation', () => {
  const batch = buildRecordBatch(goldenRecords);
  const expectCode = (buffer: Buffer, code: string, maxBytes = 1 << 20) => {
    expect(() => validateProducerBatch(buffer, maxBytes)).toThrow(expect.objectContaining({ code }));
  };

  it('refuses each broken rule with its code', () => {
    expectCode(batch, 'SLUICE_ERR_MESSAGE_TOO_LARGE', 50);
    expectCode(Buffer.concat([batch, batch]), 'SLUICE_ERR_INVALID_RECORD');
    const withOffset = Buffer.from(batch);
    setBaseOffset(withOffset, 0, 5);
    expectCode(withOffset, 'SLUICE_ERR_INVALID_RECORD');
    const badCrc = Buffer.from(batch);
    badCrc[70] = badCrc[70]! ^ 1;
    expectCode(badCrc, 'SLUICE_ERR_CORRUPT_MESSAGE');
    const badMagic = Buffer.from(batch);
    badMagic[16] = 1;
    expectCode(badMagic, 'SLUICE_ERR_CORRUPT_MESSAGE');
  });

  it('refuses LogAppendTime, control batches and unknown codecs (with a valid CRC)', async () => {
    const { crc32c } = await import('@node-rs/crc32');
    const withAttributes = (attributes: number) => {
      const copy = Buffer.from(batch);
      copy.writeInt16BE(attributes, 21);
      copy.writeUInt32BE(crc32c(copy.subarray(21)), 17);
      return copy;
    };
    expectCode(withAttributes(0x08), 'SLUICE_ERR_INVALID_TIMESTAMP');
    expectCode(withAttributes(0x20), 'SLUICE_ERR_INVALID_RECORD');
    // Plain records labelled zstd are not a zstd frame; codecs 5–7 do not exist.
    expectCode(withAttributes(0x04), 'SLUICE_ERR_CORRUPT_MESSAGE');
    for (const codec of [5, 6, 7]) {
      expectCode(withAttributes(codec), 'SLUICE_ERR_UNSUPPORTED_COMPRESSION');
      expect(() => decodeRecords(withAttributes(codec))).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_UNSUPPORTED_COMPRESSION' }));
    }
  });
});

describe('RecordBatch v2 against hostile bytes', () => {
  const seed = Number(process.env.SLUICE_SEED ?? 7);
  const sample = buildRecordBatch(Array.from({ length: 20 }, (_, index) => ({
    key: Buffer.from(`key-${index}`), value: Buffer.alloc(50 + index, index), timestamp: 1_700_000_000_000 + index,
    headers: [{ key: 'h', value: Buffer.from([index]) }],
  })));
  const compressed = (['gzip', 'snappy', 'lz4', 'zstd'] as const).map((compression) => buildRecordBatch(
    Array.from({ length: 200 }, (_, index) => ({ key: null, value: Buffer.alloc(80, index % 7), timestamp: 5 })), { compression }));

  /** Every call either returns or throws a SluiceError: no RangeError, no hang, no crash. */
  function survive(bytes: Buffer): void {
    for (const call of [
      () => checkBatch(bytes, 0, bytes.length),
      () => readBatchHeader(bytes),
      () => decodeRecords(bytes, { maxUncompressedBytes: 1 << 20 }),
      () => validateProducerBatch(bytes, 1 << 20),
    ]) {
      try {
        call();
      } catch (error) {
        if (!SluiceError.is(error)) throw new Error(`seed ${seed}: ${String(error)} for ${bytes.toString('hex').slice(0, 200)}`);
      }
    }
  }

  it('survives every truncation of a valid batch', () => {
    for (const batch of [sample, ...compressed]) {
      for (let length = 0; length < batch.length; length += 1) {
        const cut = batch.subarray(0, length);
        survive(cut);
        expect(() => checkBatch(cut, 0, cut.length)).toThrow(SluiceError);
      }
    }
  });

  it(`survives single bit flips (seed ${seed}); the CRC catches each one`, () => {
    fc.assert(fc.property(fc.constantFrom(sample, ...compressed), fc.nat(), fc.integer({ min: 0, max: 7 }), (batch, where, bit) => {
      const flipped = Buffer.from(batch);
      const position = 21 + (where % (batch.length - 21));
      flipped[position] = flipped[position]! ^ (1 << bit);
      survive(flipped);
      expect(() => checkBatch(flipped, 0, flipped.length)).toThrow(SluiceError);
    }), { seed, numRuns: 3000 });
  });

  it(`survives flips that keep the CRC valid (seed ${seed}): decoding must still only throw typed errors`, async () => {
    const { crc32c } = await import('@node-rs/crc32');
    fc.assert(fc.property(fc.constantFrom(sample, ...compressed), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 4 }), (batch, edits) => {
      const mutated = Buffer.from(batch);
      for (const [where, value] of edits) mutated[57 + (where % (batch.length - 57))] = value;
      mutated.writeUInt32BE(crc32c(mutated.subarray(21)), 17);
      survive(mutated);
    }), { seed, numRuns: 3000 });
  });

  it(`survives random bytes and absurd declared sizes (seed ${seed})`, () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => survive(Buffer.from(bytes))), { seed, numRuns: 3000 });
    const huge = Buffer.from(sample);
    huge.writeInt32BE(0x7fffffff, 8);
    survive(huge);
    const manyRecords = Buffer.from(sample);
    manyRecords.writeInt32BE(0x7fffffff, 57);
    survive(manyRecords);
  });
});
