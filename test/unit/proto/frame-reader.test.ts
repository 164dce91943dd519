/**
 * The broker's pull framing: the next frame's length is known from its prefix alone, however
 * the bytes are split into chunks, and a frame is handed out only once it is whole.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameDecoder } from '../../../proto/frame-decoder.js';
import { FrameReader } from '../../../proto/frame-reader.js';
import { frame } from '../../../proto/wire.js';

describe('FrameReader', () => {
  it('gives the length from the prefix, then the frame once whole', () => {
    const reader = new FrameReader();
    const bytes = frame(Buffer.from('hello world'));
    reader.push(bytes.subarray(0, 2));
    expect(reader.nextLength()).toBeUndefined();
    reader.push(bytes.subarray(2, 6));
    expect(reader.nextLength()).toBe(11);
    expect(reader.take()).toBeUndefined();
    reader.push(bytes.subarray(6));
    expect(reader.take()?.toString()).toBe('hello world');
    expect(reader.buffered).toBe(0);
    expect(reader.nextLength()).toBeUndefined();
  });

  it('splits any chunking of a stream of frames back into the same frames', () => {
    fc.assert(fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 10 }),
      (messages, cuts) => {
        const stream = Buffer.concat(messages.map((message) => frame(message)));
        const reader = new FrameReader();
        const out: Buffer[] = [];
        for (let position = 0, index = 0; position < stream.length; index += 1) {
          const end = Math.min(stream.length, position + cuts[index % cuts.length]!);
          reader.push(stream.subarray(position, end));
          position = end;
          for (let next = reader.take(); next !== undefined; next = reader.take()) out.push(Buffer.from(next));
        }
        expect(out).toEqual(messages.map((message) => Buffer.from(message)));
        expect(reader.buffered).toBe(0);
      },
    ));
  });
});

describe('FrameDecoder', () => {
  it('returns the whole frames of each chunk, across chunk boundaries, and refuses an oversized one', () => {
    const decoder = new FrameDecoder(8);
    const bytes = Buffer.concat([frame(Buffer.from('abc')), frame(Buffer.from('defgh')), frame(Buffer.alloc(9))]);
    expect(decoder.push(bytes.subarray(0, 5)).map(String)).toEqual([]);
    expect(decoder.push(bytes.subarray(5, 14)).map(String)).toEqual(['abc']);
    expect(decoder.push(bytes.subarray(14, 16)).map(String)).toEqual(['defgh']);
    expect(() => decoder.push(bytes.subarray(16, 20))).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_FRAME_TOO_LARGE' }));
  });
});
