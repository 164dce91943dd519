/**
 * Batches no honest producer builds: records with chosen offset deltas, lengths and counts,
 * wrapped in a header whose CRC-32C is right, so only a per-record check can catch them.
 */
import { crc32c } from '@node-rs/crc32';
import { createRequire } from 'node:module';
import { codecByName, type Compression } from '../../proto/record-batch/compression.js';
import { writeVarint, writeVarlong } from '../../proto/record-batch/varint.js';

export interface RawRecord {
  offsetDelta: number;
  timestampDelta?: number;
  key?: Buffer | null;
  value?: Buffer | null;
  headers?: Array<{ key: Buffer; value: Buffer | null }>;
  /** Added to the record's true length when writing its length field. */
  lengthAdjust?: number;
}

function field(bytes: Buffer | null): Buffer {
  const out = Buffer.alloc(5 + (bytes?.length ?? 0));
  const end = writeVarint(out, 0, bytes === null ? -1 : bytes.length);
  if (bytes !== null) bytes.copy(out, end);
  return out.subarray(0, end + (bytes?.length ?? 0));
}

/** The records section, each record exactly as described (no checks). */
export function rawRecords(records: RawRecord[]): Buffer {
  const parts: Buffer[] = [];
  for (const record of records) {
    const head = Buffer.alloc(30);
    head[0] = 0;
    let position = writeVarlong(head, 1, record.timestampDelta ?? 0);
    position = writeVarint(head, position, record.offsetDelta);
    const headers = record.headers ?? [];
    const count = Buffer.alloc(5);
    const body = Buffer.concat([
      head.subarray(0, position),
      field(record.key === undefined ? Buffer.from(`key-${record.offsetDelta}`) : record.key),
      field(record.value === undefined ? Buffer.from(`value-${record.offsetDelta}`) : record.value),
      count.subarray(0, writeVarint(count, 0, headers.length)),
      ...headers.flatMap((header) => [field(header.key), field(header.value)]),
    ]);
    const length = Buffer.alloc(5);
    parts.push(length.subarray(0, writeVarint(length, 0, body.length + (record.lengthAdjust ?? 0))), body);
  }
  return Buffer.concat(parts);
}

/** `count` well-formed records with offset deltas 0..count−1. */
export function goodRecords(count: number): RawRecord[] {
  return Array.from({ length: count }, (_, offsetDelta) => ({ offsetDelta }));
}

export interface CraftOptions {
  count: number;
  lastOffsetDelta?: number;
  compression?: Compression;
  /** With a codec: the records section as is (bytes posing as a compressed stream), not compressed. */
  rawFrame?: boolean;
  baseTimestamp?: number;
  maxTimestamp?: number;
}

/** A producer batch (baseOffset 0) around `section`, with a correct CRC-32C. */
export function craftBatch(section: Buffer, options: CraftOptions): Buffer {
  const codec = codecByName(options.compression ?? 'none');
  const payload = options.rawFrame ? section : codec.compress(section);
  const batch = Buffer.alloc(61 + payload.length);
  batch.writeInt32BE(batch.length - 12, 8);
  batch.writeInt32BE(-1, 12);
  batch[16] = 2;
  batch.writeInt16BE(codec.id, 21);
  batch.writeInt32BE(options.lastOffsetDelta ?? options.count - 1, 23);
  const baseTimestamp = options.baseTimestamp ?? Date.now();
  batch.writeBigInt64BE(BigInt(baseTimestamp), 27);
  batch.writeBigInt64BE(BigInt(options.maxTimestamp ?? baseTimestamp), 35);
  batch.writeBigInt64BE(-1n, 43);
  batch.writeInt16BE(-1, 51);
  batch.writeInt32BE(-1, 53);
  batch.writeInt32BE(options.count, 57);
  payload.copy(batch, 61);
  return withValidCrc(batch);
}

export function withValidCrc(batch: Buffer): Buffer {
  batch.writeUInt32BE(crc32c(batch.subarray(21)), 17);
  return batch;
}

const lz4Native = createRequire(import.meta.url)('lz4') as { utils: { descriptorChecksum(descriptor: Buffer): number } };

/**
 * The LZ4 bomb of issue 9: a frame declaring 4 MiB blocks, then `blocks` one-byte blocks that
 * each decode to nothing (261 bytes for 50 blocks).
 */
export function emptyBlocksFrame(blocks: number): Buffer {
  const descriptor = Buffer.from([0x60, 0x70]);
  const parts = [Buffer.from([0x04, 0x22, 0x4d, 0x18]), descriptor, Buffer.from([lz4Native.utils.descriptorChecksum(descriptor)])];
  for (let index = 0; index < blocks; index += 1) parts.push(Buffer.from([1, 0, 0, 0, 0]));
  parts.push(Buffer.alloc(4));
  return Buffer.concat(parts);
}
