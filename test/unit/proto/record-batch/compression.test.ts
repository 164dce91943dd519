/**
 * The compression codecs of RecordBatch v2: each round-trips, reads streams other encoders
 * wrote (Kafka's Java client and librdkafka batches, GNU gzip, the zstd CLI, hand-built snappy
 * blocks in xerial framing), never produces
 * more than its limit (a bomb costs at most the limit in memory), and answers hostile bytes
 * with a typed error only.
 */
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type * as ZstdBinding from 'zstd-napi/binding.js';
import { SluiceError } from '../../../../proto/errors.js';
import { codecById, codecByName, type Compression, compressionTypes, isCompression } from '../../../../proto/record-batch/compression.js';
import { buildRecordBatch, checkBatch, decodeRecords, readBatchHeader, validateProducerBatch } from '../../../../proto/record-batch/record-batch.js';
import { goldenBatches } from '../../../helpers/golden-batches.js';
import { seededRandom } from '../../../helpers/random.js';

const zstd = createRequire(import.meta.url)('zstd-napi/binding') as typeof ZstdBinding;
const codecs = ['gzip', 'snappy', 'lz4', 'zstd'] as const;

/** Text-like bytes: compressible, but not trivially. */
function sample(length: number, seed = 5): Buffer {
  const next = seededRandom(seed);
  const words = ['sluice', 'record', 'batch', 'kafka', 'offset', 'key', 'value', ' ', ' ', '\n'];
  const parts: string[] = [];
  let size = 0;
  while (size < length) {
    const word = words[Math.floor(next() * words.length)]!;
    parts.push(word);
    size += word.length;
  }
  return Buffer.from(parts.join('')).subarray(0, length);
}

/** A zstd frame whose header does not declare its content size, as Java's streaming writer makes them. */
function zstdFrameWithoutSize(data: Buffer): Buffer {
  const context = new zstd.CCtx();
  context.setParameter(zstd.CParameter.contentSizeFlag, 0);
  const output = Buffer.alloc(zstd.compressBound(data.length) + 64);
  const [, written] = context.compressStream2(output, data, zstd.EndDirective.end);
  return output.subarray(0, written);
}

/** A raw snappy block of literals only, built from the format description, not by the library. */
function literalSnappyBlock(data: Buffer): Buffer {
  expect(data.length).toBeLessThanOrEqual(60);
  return Buffer.concat([Buffer.from([data.length, (data.length - 1) << 2]), data]);
}

function xerial(blocks: Buffer[]): Buffer {
  const header = Buffer.from('82534e4150505900' + '00000001' + '00000001', 'hex');
  return Buffer.concat([header, ...blocks.flatMap((block) => {
    const length = Buffer.alloc(4);
    length.writeInt32BE(block.length);
    return [length, block];
  })]);
}

function expectTyped(work: () => unknown, code?: string): void {
  try {
    work();
  } catch (error) {
    if (!SluiceError.is(error)) throw error;
    if (code !== undefined) expect(error.code).toBe(code);
  }
}

describe('the codec registry', () => {
  it('has one codec per Kafka compression type, numbered as in the attributes', () => {
    expect(compressionTypes).toEqual(['none', 'gzip', 'snappy', 'lz4', 'zstd']);
    compressionTypes.forEach((name, id) => {
      expect(codecById(id).name).toBe(name);
      expect(codecByName(name).id).toBe(id);
    });
    expect(isCompression('zstd')).toBe(true);
    expect(isCompression('brotli')).toBe(false);
  });

  it('refuses codecs 5–7 with UNSUPPORTED_COMPRESSION', () => {
    for (const id of [5, 6, 7]) expect(() => codecById(id)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_UNSUPPORTED_COMPRESSION' }));
    expect(() => codecByName('brotli' as Compression)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_UNSUPPORTED_COMPRESSION' }));
  });
});

describe.each(codecs)('the %s codec', (name) => {
  const codec = codecByName(name);

  it('round-trips empty, small, chunk-crossing and incompressible data', () => {
    const next = seededRandom(17);
    const random = Buffer.from(Array.from({ length: 70_000 }, () => Math.floor(next() * 256)));
    for (const data of [Buffer.alloc(0), Buffer.from('x'), sample(1000), sample(200_000), random]) {
      const compressed = codec.compress(data);
      expect(codec.decompress(compressed, data.length).equals(data)).toBe(true);
    }
    expect(codec.compress(sample(200_000)).length).toBeLessThan(200_000 / 2);
  });

  it('decompresses views into a larger buffer, and into a scratch buffer without changing the result', () => {
    const data = sample(5000, 9);
    const compressed = codec.compress(data);
    const padded = Buffer.concat([Buffer.alloc(13, 0xee), compressed, Buffer.alloc(7, 0xee)]);
    expect(codec.decompress(padded.subarray(13, 13 + compressed.length), 1 << 20).equals(data)).toBe(true);
    const scratch = Buffer.alloc(1 << 16);
    expect(codec.decompress(compressed, 1 << 20, scratch).equals(data)).toBe(true);
  });

  it('decompresses up to exactly the limit and refuses one byte more with INVALID_RECORD', () => {
    const data = sample(100_000, 3);
    const compressed = codec.compress(data);
    expect(codec.decompress(compressed, data.length).length).toBe(data.length);
    expect(() => codec.decompress(compressed, data.length - 1)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_INVALID_RECORD', message: expect.stringMatching(/past the limit of 99999 bytes/) }));
  });

  it('stops a bomb (32 MiB of zeros) at the limit without holding it in memory', () => {
    const compressed = codec.compress(Buffer.alloc(32 * 1024 * 1024));
    expect(compressed.length).toBeLessThan(2 * 1024 * 1024);
    const before = process.memoryUsage().arrayBuffers;
    expect(() => codec.decompress(compressed, 1024 * 1024)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_INVALID_RECORD' }));
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(8 * 1024 * 1024);
  });

  it('answers random bytes, edits and truncations with a typed error only (seeded)', () => {
    const valid = codec.compress(sample(3000, 21));
    const magic = valid.subarray(0, 8);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, withMagic) => {
      expectTyped(() => codec.decompress(withMagic ? Buffer.concat([magic, Buffer.from(bytes)]) : Buffer.from(bytes), 1 << 20));
    }), { seed: 31, numRuns: 1500 });
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { maxLength: 3 }), fc.nat(), (edits, cut) => {
      const mutated = Buffer.from(valid);
      for (const [where, value] of edits) mutated[where % mutated.length] = value;
      expectTyped(() => codec.decompress(mutated, 1 << 20));
      expectTyped(() => codec.decompress(mutated.subarray(0, cut % mutated.length), 1 << 20));
    }), { seed: 32, numRuns: 1500 });
  });

  it('refuses every truncation of a stream with a typed error', () => {
    const valid = codec.compress(sample(2000, 8));
    for (let cut = 0; cut < valid.length; cut += 1) {
      try {
        const decoded = codec.decompress(valid.subarray(0, cut), 1 << 20);
        // Only a stream cut at a block boundary may decode, to a prefix of the data.
        expect(sample(2000, 8).subarray(0, decoded.length).equals(decoded)).toBe(true);
      } catch (error) {
        if (!SluiceError.is(error)) throw error;
        expect(['SLUICE_ERR_CORRUPT_MESSAGE', 'SLUICE_ERR_INVALID_RECORD']).toContain(error.code);
      }
    }
  });
});

describe('gzip', () => {
  it('reads a stream GNU gzip wrote (gzip -9n)', () => {
    const stream = Buffer.from('1f8b08000000000002034bcfcf4949cd5348afca2c50284a4dce2f4a2956482bcacf5570f70b058b720100f6be5b4922000000', 'hex');
    expect(codecByName('gzip').decompress(stream, 1024).toString()).toBe('golden gzip records from GNU gzip\n');
  });

  it('refuses a stream that is not gzip with CORRUPT_MESSAGE', () => {
    expect(() => codecByName('gzip').decompress(Buffer.from('not gzip at all'), 1024)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_CORRUPT_MESSAGE' }));
  });
});

describe('snappy', () => {
  const snappy = codecByName('snappy');

  it('writes xerial framing as Kafka\'s Java client does: magic, version 1, compatible 1, 32 KiB chunks', () => {
    const data = sample(80_000, 4);
    const stream = snappy.compress(data);
    expect(stream.subarray(0, 16).toString('hex')).toBe('82534e4150505900' + '00000001' + '00000001');
    const chunkLengths: number[] = [];
    for (let position = 16; position < stream.length; position += 4 + stream.readInt32BE(position)) chunkLengths.push(stream.readInt32BE(position));
    expect(chunkLengths).toHaveLength(3);
    // Each chunk's raw block declares its input size: 32 KiB, 32 KiB, the rest.
    let position = 16;
    const declared = chunkLengths.map((length) => {
      const block = stream.subarray(position + 4, position + 4 + length);
      position += 4 + length;
      let value = 0;
      for (let index = 0, shift = 1; ; index += 1, shift *= 128) {
        value += (block[index]! & 0x7f) * shift;
        if (block[index]! < 0x80) return value;
      }
    });
    expect(declared).toEqual([32768, 32768, 80_000 - 65_536]);
  });

  it('reads xerial streams and raw blocks built by hand from the format descriptions', () => {
    const first = Buffer.from('key-1 value one, ');
    const second = Buffer.from('key-2 value two');
    expect(snappy.decompress(xerial([literalSnappyBlock(first), literalSnappyBlock(second)]), 1024).toString()).toBe('key-1 value one, key-2 value two');
    expect(snappy.decompress(literalSnappyBlock(first), 1024).toString()).toBe('key-1 value one, ');
    // A copy: 4 literal bytes "abcd", then copy-1 of length 8 at offset 4 → "abcdabcdabcd".
    const withCopy = Buffer.from([12, 3 << 2, 0x61, 0x62, 0x63, 0x64, 0x01 | ((8 - 4) << 2), 4]);
    expect(snappy.decompress(withCopy, 1024).toString()).toBe('abcdabcdabcd');
    expect(snappy.decompress(xerial([]), 1024).length).toBe(0);
  });

  it('refuses xerial chunks that do not fit, are empty, or lie about their length', () => {
    const corrupt = { code: 'SLUICE_ERR_CORRUPT_MESSAGE' };
    const block = literalSnappyBlock(Buffer.from('hello'));
    const whole = xerial([block]);
    expect(() => snappy.decompress(whole.subarray(0, whole.length - 1), 1024)).toThrow(expect.objectContaining(corrupt));
    expect(() => snappy.decompress(whole.subarray(0, 18), 1024)).toThrow(expect.objectContaining(corrupt));
    expect(() => snappy.decompress(whole.subarray(0, 12), 1024)).toThrow(expect.objectContaining(corrupt));
    expect(() => snappy.decompress(xerial([Buffer.alloc(0)]), 1024)).toThrow(expect.objectContaining(corrupt));
    const lying = Buffer.from(block);
    lying[0] = 9;
    expect(() => snappy.decompress(xerial([lying]), 1024)).toThrow(expect.objectContaining(corrupt));
    expect(() => snappy.decompress(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f]), 1 << 30)).toThrow(expect.objectContaining(corrupt));
  });

  it('checks the declared lengths against the limit before decoding anything', () => {
    // Raw: a 5-byte header claiming 4 GiB − 1 bytes.
    expect(() => snappy.decompress(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0]), 1 << 20)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_INVALID_RECORD' }));
    // Framed: many small chunks whose declared sizes add up past the limit.
    const chunk = snappy.compress(Buffer.alloc(32 * 1024)).subarray(16);
    const stream = Buffer.concat([snappy.compress(Buffer.alloc(0)), ...Array.from({ length: 40 }, () => chunk)]);
    expect(() => snappy.decompress(stream, 1 << 20)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_INVALID_RECORD' }));
    expect(snappy.decompress(stream, 40 * 32 * 1024).length).toBe(40 * 32 * 1024);
  });
});

describe('zstd', () => {
  const codec = codecByName('zstd');

  it('reads a frame the zstd CLI wrote from a pipe (no content size in its header)', () => {
    const frame = Buffer.from('28b52ffd04587901007a737464206672616d6520776974686f7574206120636f6e74656e742073697a652c2066726f6d206120706970650ae30139b8', 'hex');
    expect(zstd.getFrameContentSize(frame)).toBeNull();
    expect(codec.decompress(frame, 1024).toString()).toBe('zstd frame without a content size, from a pipe\n');
  });

  it('writes frames that declare their content size, and reads concatenated frames of both kinds', () => {
    const first = sample(50_000, 1);
    const second = sample(300_000, 2);
    const ours = codec.compress(first);
    expect(zstd.getFrameContentSize(ours)).toBe(first.length);
    const streamed = zstdFrameWithoutSize(second);
    expect(zstd.getFrameContentSize(streamed)).toBeNull();
    const joined = Buffer.concat([first, second]);
    expect(codec.decompress(Buffer.concat([ours, streamed]), joined.length).equals(joined)).toBe(true);
    expect(codec.decompress(Buffer.concat([streamed, ours]), joined.length).equals(Buffer.concat([second, first]))).toBe(true);
    expect(codec.decompress(streamed, second.length, Buffer.alloc(1 << 16)).equals(second)).toBe(true);
  });

  it('bounds a frame without a content size: exactly the limit passes, a byte more and a bomb do not', () => {
    const data = sample(200_000, 6);
    const frame = zstdFrameWithoutSize(data);
    expect(codec.decompress(frame, data.length).equals(data)).toBe(true);
    expect(() => codec.decompress(frame, data.length - 1)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_INVALID_RECORD' }));
    const bomb = zstdFrameWithoutSize(Buffer.alloc(64 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const before = process.memoryUsage().arrayBuffers;
    expect(() => codec.decompress(bomb, 1024 * 1024)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_INVALID_RECORD' }));
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(8 * 1024 * 1024);
  });

  it('refuses a cut-short streamed frame, an empty input and trailing garbage with CORRUPT_MESSAGE', () => {
    const corrupt = { code: 'SLUICE_ERR_CORRUPT_MESSAGE' };
    const frame = zstdFrameWithoutSize(sample(100_000, 7));
    expect(() => codec.decompress(frame.subarray(0, frame.length - 10), 1 << 20)).toThrow(expect.objectContaining(corrupt));
    expect(() => codec.decompress(Buffer.alloc(0), 1 << 20)).toThrow(expect.objectContaining(corrupt));
    expect(() => codec.decompress(Buffer.concat([codec.compress(Buffer.from('ok')), Buffer.from('junk')]), 1 << 20)).toThrow(expect.objectContaining(corrupt));
  });
});

describe('batches real Kafka clients wrote (test/helpers/golden-batches.ts)', () => {
  const expected = Array.from({ length: 40 }, (_, index) => ({
    offset: index,
    key: `key-${(index + 1) % 7}`,
    value: `value ${index + 1} of the golden batch, repeated text repeated text`,
    headers: [{ key: 'trace', value: 'golden' }],
  }));

  it.each(goldenBatches.map((golden) => [golden.client, golden.compression, golden.hex] as const))('%s, %s: CRC, validation, every record', (client, compression, hex) => {
    const batch = Buffer.from(hex, 'hex');
    expect(checkBatch(batch, 0, batch.length)).toBe(batch.length);
    expect(readBatchHeader(batch)).toMatchObject({ compression, recordsCount: 40, lastOffsetDelta: 39 });
    expect(validateProducerBatch(batch, 1 << 20)).toMatchObject({ recordsCount: 40, hasNullKey: false });
    const records = decodeRecords(batch);
    expect(records.map((record) => ({
      offset: record.offset, key: record.key?.toString(), value: record.value?.toString(),
      headers: record.headers.map((header) => ({ key: header.key, value: header.value?.toString() })),
    }))).toEqual(expected);
    if (client === 'java') expect(records.map((record) => record.timestamp)).toEqual(expected.map((_, index) => 1_700_000_000_001 + index));
    // Built again by Sluice with the same codec, the batch decodes to the same records.
    const rebuilt = buildRecordBatch(records.map((record) => ({ key: record.key, value: record.value, headers: record.headers, timestamp: record.timestamp })), { compression });
    expect(decodeRecords(rebuilt)).toEqual(records);
  });

  it('Java frames snappy as xerial and Sluice writes the same header; librdkafka writes a raw block', () => {
    const section = (client: string) => Buffer.from(goldenBatches.find((golden) => golden.client === client && golden.compression === 'snappy')!.hex, 'hex').subarray(61);
    const ours = buildRecordBatch([{ key: null, value: Buffer.from('v') }], { compression: 'snappy' }).subarray(61);
    expect(section('java').subarray(0, 16).equals(ours.subarray(0, 16))).toBe(true);
    expect(section('librdkafka').subarray(0, 8).toString('hex')).not.toBe('82534e4150505900');
  });
});
