/**
 * LZ4 frames as Kafka writes and reads them (codec 3 of RecordBatch v2). All fields LE:
 *
 *   magic    4  04 22 4D 18
 *   FLG      1  version 01, block independence, block checksum?, content size?, content checksum?
 *   BD       1  block max size code: 4 = 64 KiB … 7 = 4 MiB
 *   (content size 8, when flagged)
 *   HC       1  (xxHash32(FLG..descriptor end, seed 0) >> 8) & 0xFF
 *   block ×n    u32 size (high bit: stored uncompressed), data, (u32 checksum when flagged)
 *   end mark 4  0
 *   (content checksum 4, when flagged: read, not checked, as Java does)
 *
 * We write what Kafka's Java client writes: FLG 0x60, BD 0x40 (independent 64 KiB blocks, no
 * checksums). We read anything the Java client reads, and refuse linked blocks and reserved
 * bits the same way. Raw blocks come from the native `lz4` package.
 */
import { createRequire } from 'node:module';
import { CorruptRecordError } from '../errors.js';

interface Lz4Native {
  encodeBound(size: number): number;
  encodeBlock(input: Buffer, output: Buffer): number;
  decodeBlock(input: Buffer, output: Buffer): number;
  utils: { descriptorChecksum(descriptor: Buffer): number; blockChecksum(block: Buffer): number };
}

const lz4 = createRequire(import.meta.url)('lz4') as Lz4Native;

const frameMagic = 0x184d2204;
const writtenFlags = 0x60;
const writtenBlockDescriptor = 0x40;
const writtenBlockBytes = 64 * 1024;
const blockBytesByCode = [0, 0, 0, 0, 64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024];
const storedBit = 0x80000000;

const headerChecksum = lz4.utils.descriptorChecksum(Buffer.from([writtenFlags, writtenBlockDescriptor]));
const scratch = Buffer.allocUnsafe(lz4.encodeBound(writtenBlockBytes));

export function lz4FrameEncode(data: Buffer): Buffer {
  const blocks = Math.max(1, Math.ceil(data.length / writtenBlockBytes));
  const output = Buffer.allocUnsafe(7 + blocks * (4 + writtenBlockBytes) + 4);
  output.writeUInt32LE(frameMagic, 0);
  output[4] = writtenFlags;
  output[5] = writtenBlockDescriptor;
  output[6] = headerChecksum;
  let position = 7;
  for (let start = 0; start < data.length; start += writtenBlockBytes) {
    const block = data.subarray(start, Math.min(data.length, start + writtenBlockBytes));
    const compressed = lz4.encodeBlock(block, scratch);
    if (compressed > 0 && compressed < block.length) {
      output.writeUInt32LE(compressed, position);
      scratch.copy(output, position + 4, 0, compressed);
      position += 4 + compressed;
    } else {
      output.writeUInt32LE((block.length | storedBit) >>> 0, position);
      block.copy(output, position + 4);
      position += 4 + block.length;
    }
  }
  output.writeUInt32LE(0, position);
  return output.subarray(0, position + 4);
}

/** Decodes one frame; never produces more than `maxOutputBytes` (else CorruptRecordError). */
export function lz4FrameDecode(frame: Buffer, maxOutputBytes: number): Buffer {
  const fail = (why: string): never => {
    throw new CorruptRecordError(`LZ4 frame: ${why}`);
  };
  if (frame.length < 7 || frame.readUInt32LE(0) !== frameMagic) fail('bad magic number');
  const flags = frame[4]!;
  const descriptor = frame[5]!;
  if (flags >> 6 !== 1) fail(`unsupported version ${flags >> 6}`);
  if ((flags & 0x20) === 0) fail('linked blocks are not supported');
  if ((flags & 0x03) !== 0 || (descriptor & 0x8f) !== 0) fail('reserved bits are set');
  const blockChecksums = (flags & 0x10) !== 0;
  const contentSize = (flags & 0x08) !== 0;
  const contentChecksum = (flags & 0x04) !== 0;
  const blockMax = blockBytesByCode[(descriptor >> 4) & 0x07]!;
  if (blockMax === 0) fail(`bad block size code ${(descriptor >> 4) & 0x07}`);
  let position = 6 + (contentSize ? 8 : 0);
  if (frame.length < position + 1) fail('truncated descriptor');
  if (lz4.utils.descriptorChecksum(frame.subarray(4, position)) !== frame[position]) fail('bad header checksum');
  position += 1;

  const blocks: Buffer[] = [];
  let total = 0;
  for (;;) {
    if (position + 4 > frame.length) fail('missing end mark');
    const word = frame.readUInt32LE(position);
    position += 4;
    if (word === 0) break;
    const stored = (word & storedBit) !== 0;
    const size = word & 0x7fffffff;
    if (size > blockMax || position + size > frame.length) fail(`block of ${size} bytes does not fit`);
    const data = frame.subarray(position, position + size);
    position += size;
    if (blockChecksums) {
      if (position + 4 > frame.length) fail('truncated block checksum');
      if ((lz4.utils.blockChecksum(data) >>> 0) !== frame.readUInt32LE(position)) fail('bad block checksum');
      position += 4;
    }
    const room = Math.min(blockMax, maxOutputBytes - total);
    let block: Buffer;
    if (stored) {
      if (size > room) fail(`output exceeds ${maxOutputBytes} bytes`);
      block = data;
    } else {
      const target = Buffer.allocUnsafe(room);
      const decoded = room === 0 ? -1 : lz4.decodeBlock(data, target);
      if (decoded < 0) fail(room < blockMax ? `output exceeds ${maxOutputBytes} bytes` : 'corrupt block');
      block = target.subarray(0, decoded);
    }
    blocks.push(block);
    total += block.length;
  }
  if (contentChecksum && position + 4 > frame.length) fail('truncated content checksum');
  return blocks.length === 1 ? blocks[0]! : Buffer.concat(blocks, total);
}
