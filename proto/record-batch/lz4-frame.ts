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

/**
 * Most bytes a compressed block of `size` bytes can decode to. Each LZ4 sequence spends at
 * least one byte per 255 bytes of literal or match length it produces, so the output is below
 * 255× the input, plus a token's worth of lengths for the last sequence.
 */
function decodedBound(size: number): number {
  return 255 * size + 24;
}

/**
 * Decodes one frame into one buffer. Never allocates or produces more than `maxOutputBytes`
 * (else CorruptRecordError with SLUICE_ERR_INVALID_RECORD): a first pass over the block
 * headers bounds the output from the compressed sizes, so a frame of many tiny blocks costs
 * what it could honestly decode to, not a block maximum each. When that bound fits in
 * `scratch`, the output is a view of `scratch` (for a caller that reads it and lets it go,
 * like the produce validation: fresh memory costs a page fault per 4 KiB written).
 */
export function lz4FrameDecode(frame: Buffer, maxOutputBytes: number, scratch?: Buffer): Buffer {
  const fail = (why: string): never => {
    throw new CorruptRecordError(`LZ4 frame: ${why}`);
  };
  const tooLarge = (): never => {
    throw new CorruptRecordError(`LZ4 frame: records decompress past the limit of ${maxOutputBytes} bytes; send smaller batches`, 'SLUICE_ERR_INVALID_RECORD');
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
  const written = position === 6 && flags === writtenFlags && descriptor === writtenBlockDescriptor;
  if ((written ? headerChecksum : lz4.utils.descriptorChecksum(frame.subarray(4, position))) !== frame[position]) fail('bad header checksum');
  const blocksStart = position + 1;
  const trailer = blockChecksums ? 4 : 0;

  // Pass 1: walk the block headers (and checksums) to bound the output before allocating.
  let bound = 0;
  position = blocksStart;
  for (;;) {
    if (position + 4 > frame.length) fail('missing end mark');
    const word = frame.readUInt32LE(position);
    position += 4;
    if (word === 0) break;
    const size = word & 0x7fffffff;
    if (size > blockMax || position + size + trailer > frame.length) fail(`block of ${size} bytes does not fit`);
    if (blockChecksums && (lz4.utils.blockChecksum(frame.subarray(position, position + size)) >>> 0) !== frame.readUInt32LE(position + size)) {
      fail('bad block checksum');
    }
    bound += (word & storedBit) !== 0 ? size : Math.min(blockMax, decodedBound(size));
    position += size + trailer;
  }
  if (contentChecksum && position + 4 > frame.length) fail('truncated content checksum');

  // Pass 2: decode every block straight into one output of the bound (or the limit).
  const outputBytes = Math.min(bound, maxOutputBytes);
  const output = scratch !== undefined && outputBytes <= scratch.length ? scratch.subarray(0, outputBytes) : Buffer.allocUnsafe(outputBytes);
  let total = 0;
  position = blocksStart;
  for (let word = frame.readUInt32LE(position); word !== 0; word = frame.readUInt32LE(position)) {
    const size = word & 0x7fffffff;
    const data = frame.subarray(position + 4, position + 4 + size);
    position += 4 + size + trailer;
    if ((word & storedBit) !== 0) {
      if (size > output.length - total) tooLarge();
      total += data.copy(output, total);
      continue;
    }
    const room = output.length - total;
    const decoded = lz4.decodeBlock(data, output.subarray(total, total + Math.min(room, blockMax)));
    if (decoded < 0) {
      if (room < Math.min(blockMax, decodedBound(size))) tooLarge();
      fail('corrupt block');
    }
    total += decoded;
  }
  return output.subarray(0, total);
}
