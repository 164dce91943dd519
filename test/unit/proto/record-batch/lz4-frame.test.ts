import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../../../proto/errors.js';
import { lz4FrameDecode, lz4FrameEncode } from '../../../../proto/record-batch/lz4-frame.js';
import { emptyBlocksFrame } from '../../../helpers/crafted-batches.js';
import { seededRandom } from '../../../helpers/random.js';

const lz4 = createRequire(import.meta.url)('lz4') as { encode(data: Buffer): Buffer; utils: { descriptorChecksum(d: Buffer): number } };

describe('LZ4 frames', () => {
  it('writes the header Kafka writes: magic, FLG 0x60, BD 0x40, HC 0x82', () => {
    expect(lz4FrameEncode(Buffer.from('hello hello hello hello')).subarray(0, 7).toString('hex')).toBe('04224d18604082');
  });

  it('stores incompressible blocks and splits data past 64 KiB', () => {
    const next = seededRandom(9);
    const random = Buffer.from(Array.from({ length: 1000 }, () => Math.floor(next() * 256)));
    const frame = lz4FrameEncode(random);
    expect(frame.readUInt32LE(7) & 0x80000000).not.toBe(0);
    const big = Buffer.alloc(200_000, 'abcdefgh');
    const bigFrame = lz4FrameEncode(big);
    expect(lz4FrameDecode(bigFrame, 1 << 20).equals(big)).toBe(true);
    expect(lz4FrameDecode(frame, 1 << 20).equals(random)).toBe(true);
  });

  it('reads frames from another encoder (the lz4 package: 4 MiB blocks, content checksum)', () => {
    const data = Buffer.alloc(300_000, 'sluice');
    expect(lz4FrameDecode(lz4.encode(data), 1 << 20).equals(data)).toBe(true);
  });

  it('reads a frame with a content size field', () => {
    const plain = lz4FrameEncode(Buffer.from('content size test'));
    const flags = 0x60 | 0x08;
    const descriptor = Buffer.concat([Buffer.from([flags, 0x40]), Buffer.alloc(8)]);
    descriptor.writeBigUInt64LE(17n, 2);
    const frame = Buffer.concat([plain.subarray(0, 4), descriptor, Buffer.from([lz4.utils.descriptorChecksum(descriptor)]), plain.subarray(7)]);
    expect(lz4FrameDecode(frame, 1024).toString()).toBe('content size test');
  });

  it('refuses output past the limit, linked blocks and bad checksums', () => {
    const frame = lz4FrameEncode(Buffer.alloc(100_000, 1));
    expect(() => lz4FrameDecode(frame, 50_000)).toThrow(SluiceError);
    const linked = Buffer.from(frame);
    linked[4] = 0x40;
    expect(() => lz4FrameDecode(linked, 1 << 20)).toThrow(/linked/);
    const badChecksum = Buffer.from(frame);
    badChecksum[6] = badChecksum[6]! ^ 0xff;
    expect(() => lz4FrameDecode(badChecksum, 1 << 20)).toThrow(/checksum/);
  });

  it('round-trips random data and only throws typed errors on random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 5000 }), (bytes) => {
      const data = Buffer.from(bytes);
      expect(lz4FrameDecode(lz4FrameEncode(data), 1 << 20).equals(data)).toBe(true);
    }), { seed: 3, numRuns: 300 });
    const valid = lz4FrameEncode(Buffer.alloc(5000, 'xyz'));
    fc.assert(fc.property(fc.nat(), fc.nat({ max: 255 }), fc.nat(), (where, value, cut) => {
      const mutated = Buffer.from(valid);
      mutated[7 + (where % (valid.length - 7))] = value;
      for (const input of [mutated, mutated.subarray(0, cut % mutated.length)]) {
        try {
          lz4FrameDecode(input, 1 << 20);
        } catch (error) {
          expect(SluiceError.is(error)).toBe(true);
        }
      }
    }), { seed: 4, numRuns: 3000 });
  });

  it('decodes the 261-byte frame of 50 empty 4 MiB-class blocks without allocating the block maxima', () => {
    const bomb = emptyBlocksFrame(50);
    expect(bomb.length).toBe(261);
    const before = process.memoryUsage().arrayBuffers;
    let result: Buffer | undefined;
    try {
      result = lz4FrameDecode(bomb, 64 * 1024 * 1024);
    } catch (error) {
      expect(SluiceError.is(error)).toBe(true);
    }
    const grown = process.memoryUsage().arrayBuffers - before;
    expect(result === undefined || result.length === 0).toBe(true);
    // The old decoder held 50 × 4 MiB here.
    expect(grown).toBeLessThan(1024 * 1024);
  });

  it('refuses with INVALID_RECORD a frame whose blocks decompress past the maximum, allocating at most that', () => {
    const data = Buffer.alloc(4 * 1024 * 1024, 0);
    const frame = lz4.encode(data);
    expect(frame.length).toBeLessThan(64 * 1024);
    const before = process.memoryUsage().arrayBuffers;
    expect(() => lz4FrameDecode(frame, 256 * 1024)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_INVALID_RECORD', message: expect.stringMatching(/past the limit of 262144 bytes/) }));
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1024 * 1024);
    const ourFrame = lz4FrameEncode(Buffer.alloc(300_000, 7));
    expect(() => lz4FrameDecode(ourFrame, 299_999)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_INVALID_RECORD' }));
  });

  it('still round-trips normal frames decoded into one buffer, up to exactly the limit', () => {
    const next = seededRandom(11);
    const data = Buffer.from(Array.from({ length: 200_000 }, (_, index) => (index % 7 === 0 ? Math.floor(next() * 256) : index & 0xff)));
    const frame = lz4FrameEncode(data);
    expect(lz4FrameDecode(frame, data.length).equals(data)).toBe(true);
    expect(lz4FrameDecode(lz4.encode(data), data.length).equals(data)).toBe(true);
    const stored = lz4FrameEncode(Buffer.alloc(0));
    expect(lz4FrameDecode(stored, 0).length).toBe(0);
  });
});
