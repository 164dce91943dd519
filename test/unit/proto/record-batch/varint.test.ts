import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../../../proto/errors.js';
import { ByteReader } from '../../../../proto/record-batch/reader.js';
import { varintSize, varlongSize, writeVarint, writeVarlong } from '../../../../proto/record-batch/varint.js';

describe('varints', () => {
  it('encodes the reference bytes', () => {
    const encode = (value: number) => {
      const buffer = Buffer.alloc(10);
      return buffer.subarray(0, writeVarint(buffer, 0, value)).toString('hex');
    };
    expect(encode(0)).toBe('00');
    expect(encode(-1)).toBe('01');
    expect(encode(1)).toBe('02');
    expect(encode(63)).toBe('7e');
    expect(encode(64)).toBe('8001');
    expect(encode(-2147483648)).toBe('ffffffff0f');
  });

  it('round-trips every int32 and safe-integer long', () => {
    fc.assert(fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (value) => {
      const buffer = Buffer.alloc(5);
      const end = writeVarint(buffer, 0, value);
      expect(end).toBe(varintSize(value));
      expect(new ByteReader(buffer, 0, end).varint()).toBe(value);
    }), { seed: 1, numRuns: 5000 });
    fc.assert(fc.property(fc.maxSafeInteger().map((value) => value >> 0 === value ? value * 4099 : value), (value) => {
      if (!Number.isSafeInteger(value * 2)) return;
      const buffer = Buffer.alloc(10);
      const end = writeVarlong(buffer, 0, value);
      expect(end).toBe(varlongSize(value));
      expect(new ByteReader(buffer, 0, end).varlong()).toBe(value);
    }), { seed: 2, numRuns: 5000 });
  });

  it('refuses overlong and truncated encodings with a typed error', () => {
    expect(() => new ByteReader(Buffer.from('ffffffffff01', 'hex')).varint()).toThrow(SluiceError);
    expect(() => new ByteReader(Buffer.from('ffffffffffffffffffff01', 'hex')).varlong()).toThrow(SluiceError);
    expect(() => new ByteReader(Buffer.from('ff', 'hex')).varint()).toThrow(SluiceError);
    expect(() => new ByteReader(Buffer.from('02', 'hex')).bytes(5, 'value')).toThrow(SluiceError);
  });
});
