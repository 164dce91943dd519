/**
 * Kafka RecordBatch v2, byte for byte: building (producer), checking (broker hot path and
 * crash recovery), and decoding (consumer). Header layout in layout.ts. Each record:
 *
 *   length varint (bytes after it) | attributes int8 (0) | timestampDelta varlong |
 *   offsetDelta varint | keyLength varint (-1 null) | key | valueLength varint (-1 null) |
 *   value | headerCount varint | headers: keyLength varint, key (UTF-8), valueLength, value
 *
 * With a codec (attributes bits 0–2; compression.ts) the records section — everything after
 * recordsCount — is one compressed stream of the records.
 * The CRC-32C covers attributes to the end, so rewriting baseOffset or
 * partitionLeaderEpoch never touches it.
 */
import { crc32c } from '@node-rs/crc32';
import { CorruptRecordError, SluiceError } from '../errors.js';
import {
  ATTRIBUTE_CODEC_MASK, ATTRIBUTE_CONTROL_MASK, ATTRIBUTE_TIMESTAMP_TYPE_MASK, ATTRIBUTE_TRANSACTIONAL_MASK,
  ATTRIBUTES_OFFSET, BASE_OFFSET_OFFSET, BASE_SEQUENCE_OFFSET, BASE_TIMESTAMP_OFFSET, BATCH_HEADER_SIZE,
  BATCH_LENGTH_OFFSET, BATCH_LOG_OVERHEAD, CODEC_NONE, CRC_OFFSET, LAST_OFFSET_DELTA_OFFSET, MAGIC_OFFSET,
  MAGIC_V2, MAX_TIMESTAMP_OFFSET, PARTITION_LEADER_EPOCH_OFFSET, PRODUCER_EPOCH_OFFSET, PRODUCER_ID_OFFSET,
  RECORDS_COUNT_OFFSET, RECORDS_OFFSET,
} from './layout.js';
import { batchSizeAt } from './batch-iterator.js';
import { codecById, codecByName, type Compression, compressionTypes } from './compression.js';
import { ByteReader } from './reader.js';
import { type RecordWalkLimits, type RecordWalkSummary, walkRecords } from './record-walk.js';
import { varintSize, varlongSize, writeVarint, writeVarlong } from './varint.js';

export type { Compression } from './compression.js';

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface RecordInput {
  key: Buffer | null;
  value: Buffer | null;
  headers?: RecordHeader[];
  /** Milliseconds since the epoch; defaults to the batch's base timestamp. */
  timestamp?: number;
}

export interface BatchOptions {
  compression?: Compression;
  /** Defaults to the first record's timestamp, or now. */
  baseTimestamp?: number;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  partitionLeaderEpoch?: number;
  transactional?: boolean;
  /**
   * For the log cleaner, which rewrites a batch keeping only some records: the batch's base
   * offset, each record's offset delta, and the original last offset delta, all unchanged.
   */
  baseOffset?: number;
  offsetDeltas?: number[];
  lastOffsetDelta?: number;
}

export interface BatchHeader {
  baseOffset: number;
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordsCount: number;
  compression: Compression | 'invalid';
  timestampType: 'create' | 'log-append';
  isTransactional: boolean;
  isControl: boolean;
}

export interface DecodedRecord {
  /** What the caller passed in DecodeOptions: a batch does not know its topic or partition. */
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

const codecNames: readonly (Compression | 'invalid')[] = [...compressionTypes, 'invalid', 'invalid', 'invalid'];
/** Decompressed records of one batch may not exceed this unless the caller says otherwise. */
export const decompressedBytesMax = 64 * 1024 * 1024;

/** An int64 field as a JS number; refuses values past 2^53, which no offset or time reaches. */
export function readInt64(buffer: Buffer, position: number): number {
  const high = buffer.readInt32BE(position);
  const value = high * 4294967296 + buffer.readUInt32BE(position + 4);
  if (high > 0x1fffff || high < -0x200000) throw new CorruptRecordError(`int64 at position ${position} is beyond 2^53`);
  return value;
}

export function writeInt64(buffer: Buffer, position: number, value: number): void {
  const high = Math.floor(value / 4294967296);
  buffer.writeInt32BE(high, position);
  buffer.writeUInt32BE(value - high * 4294967296, position + 4);
}

function recordBodySize(record: RecordInput, timestampDelta: number, offsetDelta: number): number {
  let size = 1 + varlongSize(timestampDelta) + varintSize(offsetDelta);
  size += record.key === null ? 1 : varintSize(record.key.length) + record.key.length;
  size += record.value === null ? 1 : varintSize(record.value.length) + record.value.length;
  const headers = record.headers ?? [];
  size += varintSize(headers.length);
  for (const header of headers) {
    const keyBytes = Buffer.byteLength(header.key);
    size += varintSize(keyBytes) + keyBytes;
    size += header.value === null ? 1 : varintSize(header.value.length) + header.value.length;
  }
  return size;
}

function writeBytes(target: Buffer, position: number, bytes: Buffer | null): number {
  if (bytes === null) return writeVarint(target, position, -1);
  position = writeVarint(target, position, bytes.length);
  return position + bytes.copy(target, position);
}

/** Encodes `records` into a new batch (baseOffset 0, valid CRC). */
export function buildRecordBatch(records: RecordInput[], options: BatchOptions = {}): Buffer {
  if (records.length === 0) throw new SluiceError('SLUICE_ERR_INVALID_RECORD', 'a record batch needs at least one record');
  const baseTimestamp = options.baseTimestamp ?? records[0]!.timestamp ?? Date.now();
  let maxTimestamp = -1;
  let recordsBytes = 0;
  const bodySizes = new Array<number>(records.length);
  for (let index = 0; index < records.length; index += 1) {
    const record = records[index]!;
    const timestamp = record.timestamp ?? baseTimestamp;
    if (timestamp > maxTimestamp) maxTimestamp = timestamp;
    const body = recordBodySize(record, timestamp - baseTimestamp, options.offsetDeltas?.[index] ?? index);
    bodySizes[index] = body;
    recordsBytes += varintSize(body) + body;
  }
  const codec = codecByName(options.compression ?? 'none');
  const compress = codec.id !== CODEC_NONE;
  const section = compress ? Buffer.allocUnsafe(recordsBytes) : undefined;
  const batch = compress ? undefined : Buffer.allocUnsafe(RECORDS_OFFSET + recordsBytes);
  const target = section ?? batch!;
  let position = compress ? 0 : RECORDS_OFFSET;
  for (let index = 0; index < records.length; index += 1) {
    const record = records[index]!;
    position = writeVarint(target, position, bodySizes[index]!);
    target[position++] = 0;
    position = writeVarlong(target, position, (record.timestamp ?? baseTimestamp) - baseTimestamp);
    position = writeVarint(target, position, options.offsetDeltas?.[index] ?? index);
    position = writeBytes(target, position, record.key);
    position = writeBytes(target, position, record.value);
    const headers = record.headers ?? [];
    position = writeVarint(target, position, headers.length);
    for (const header of headers) {
      const keyBytes = Buffer.byteLength(header.key);
      position = writeVarint(target, position, keyBytes);
      position += target.write(header.key, position);
      position = writeBytes(target, position, header.value);
    }
  }
  let output: Buffer;
  if (section === undefined) {
    output = batch!;
  } else {
    const compressed = codec.compress(section);
    output = Buffer.allocUnsafe(RECORDS_OFFSET + compressed.length);
    compressed.copy(output, RECORDS_OFFSET);
  }
  let attributes = codec.id;
  if (options.transactional) attributes |= ATTRIBUTE_TRANSACTIONAL_MASK;
  writeInt64(output, BASE_OFFSET_OFFSET, options.baseOffset ?? 0);
  output.writeInt32BE(output.length - BATCH_LOG_OVERHEAD, BATCH_LENGTH_OFFSET);
  output.writeInt32BE(options.partitionLeaderEpoch ?? -1, PARTITION_LEADER_EPOCH_OFFSET);
  output[MAGIC_OFFSET] = MAGIC_V2;
  output.writeInt16BE(attributes, ATTRIBUTES_OFFSET);
  output.writeInt32BE(options.lastOffsetDelta ?? records.length - 1, LAST_OFFSET_DELTA_OFFSET);
  writeInt64(output, BASE_TIMESTAMP_OFFSET, baseTimestamp);
  writeInt64(output, MAX_TIMESTAMP_OFFSET, maxTimestamp);
  writeInt64(output, PRODUCER_ID_OFFSET, options.producerId ?? -1);
  output.writeInt16BE(options.producerEpoch ?? -1, PRODUCER_EPOCH_OFFSET);
  output.writeInt32BE(options.baseSequence ?? -1, BASE_SEQUENCE_OFFSET);
  output.writeInt32BE(records.length, RECORDS_COUNT_OFFSET);
  output.writeUInt32BE(crc32c(output.subarray(ATTRIBUTES_OFFSET)), CRC_OFFSET);
  return output;
}

/**
 * The broker's check of one batch at `position`, which must end by `end`: length, magic and
 * CRC-32C. Returns the batch's total size. Allocates nothing; used on every produce and by
 * crash recovery.
 */
export function checkBatch(buffer: Buffer, position: number, end: number): number {
  const size = batchSizeAt(buffer, position, end);
  checkMagicAndCrc(buffer, position, size);
  return size;
}

/** The magic and CRC-32C of the batch at `position` whose size batchSizeAt has checked. */
export function checkMagicAndCrc(buffer: Buffer, position: number, size: number): void {
  const magic = buffer[position + MAGIC_OFFSET];
  if (magic !== MAGIC_V2) throw new CorruptRecordError(`batch at position ${position} has magic ${magic}; only RecordBatch v2 (magic 2) is supported`);
  const stored = buffer.readUInt32BE(position + CRC_OFFSET);
  const computed = crc32c(buffer.subarray(position + ATTRIBUTES_OFFSET, position + size));
  if (stored !== computed) {
    throw new CorruptRecordError(`batch at position ${position} fails its CRC-32C (stored ${hex(stored)}, computed ${hex(computed)})`);
  }
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}

export function readBatchHeader(buffer: Buffer, position = 0): BatchHeader {
  if (buffer.length - position < BATCH_HEADER_SIZE) {
    throw new CorruptRecordError(`a batch header needs ${BATCH_HEADER_SIZE} bytes, ${buffer.length - position} given`);
  }
  const magic = buffer.readInt8(position + MAGIC_OFFSET);
  if (magic !== MAGIC_V2) throw new CorruptRecordError(`batch has magic ${magic}; only RecordBatch v2 (magic 2) is supported`);
  const attributes = buffer.readInt16BE(position + ATTRIBUTES_OFFSET);
  return {
    baseOffset: readInt64(buffer, position + BASE_OFFSET_OFFSET),
    batchLength: buffer.readInt32BE(position + BATCH_LENGTH_OFFSET),
    partitionLeaderEpoch: buffer.readInt32BE(position + PARTITION_LEADER_EPOCH_OFFSET),
    magic,
    crc: buffer.readUInt32BE(position + CRC_OFFSET),
    attributes,
    lastOffsetDelta: buffer.readInt32BE(position + LAST_OFFSET_DELTA_OFFSET),
    baseTimestamp: readInt64(buffer, position + BASE_TIMESTAMP_OFFSET),
    maxTimestamp: readInt64(buffer, position + MAX_TIMESTAMP_OFFSET),
    producerId: readInt64(buffer, position + PRODUCER_ID_OFFSET),
    producerEpoch: buffer.readInt16BE(position + PRODUCER_EPOCH_OFFSET),
    baseSequence: buffer.readInt32BE(position + BASE_SEQUENCE_OFFSET),
    recordsCount: buffer.readInt32BE(position + RECORDS_COUNT_OFFSET),
    compression: codecNames[attributes & ATTRIBUTE_CODEC_MASK]!,
    timestampType: (attributes & ATTRIBUTE_TIMESTAMP_TYPE_MASK) === 0 ? 'create' : 'log-append',
    isTransactional: (attributes & ATTRIBUTE_TRANSACTIONAL_MASK) !== 0,
    isControl: (attributes & ATTRIBUTE_CONTROL_MASK) !== 0,
  };
}

export interface ProducerBatchOptions {
  /** Decompressed records may not exceed this; default producerDecompressedLimit(maxBytes). */
  maxDecompressedBytes?: number;
  /** CreateTime bounds on every record's timestamp; none when omitted (LogAppendTime). */
  timestamps?: Readonly<RecordWalkLimits>;
}

export interface ProducerBatch extends BatchHeader {
  /** Some record has a null key (compacted topics refuse the batch). */
  hasNullKey: boolean;
  /** The largest record timestamp (-1 when no record has one). */
  recordsMaxTimestamp: number;
}

/**
 * How far a producer's compressed records may expand: max.message.bytes × 64, and never past
 * what decodeRecords reads by default, so every batch the broker takes its consumers can read.
 */
export const decompressionRatioMax = 64;

/**
 * Where validation decompresses batches up to this size: the records are walked and
 * dropped (the log stores the compressed bytes), so one buffer serves every batch.
 */
const scratchBytes = 1024 * 1024;
let scratch: Buffer | undefined;

export function producerDecompressedLimit(maxMessageBytes: number): number {
  return Math.min(decompressedBytesMax, maxMessageBytes * decompressionRatioMax);
}

/**
 * What a leader checks on a producer's batch before appending it, as Kafka's LogValidator
 * does: one whole batch, baseOffset 0, within `maxBytes`, valid CRC (the one CRC pass of the
 * produce path), a consistent record count, not a control batch, CreateTime, a codec we can
 * read, and then every record (decompressed within a bound first) by walkRecords.
 */
export function validateProducerBatch(buffer: Buffer, maxBytes: number, options: ProducerBatchOptions = {}): ProducerBatch {
  if (buffer.length > maxBytes) {
    throw new SluiceError('SLUICE_ERR_MESSAGE_TOO_LARGE', `a batch of ${buffer.length} bytes exceeds max.message.bytes (${maxBytes})`);
  }
  const size = checkBatch(buffer, 0, buffer.length);
  if (size !== buffer.length) {
    throw new CorruptRecordError(`a produce must carry exactly one batch per partition; ${buffer.length - size} bytes follow the first`, 'SLUICE_ERR_INVALID_RECORD');
  }
  const header = readBatchHeader(buffer);
  const invalid = (why: string): never => {
    throw new CorruptRecordError(why, 'SLUICE_ERR_INVALID_RECORD');
  };
  if (header.baseOffset !== 0) invalid(`a producer batch must have baseOffset 0, not ${header.baseOffset}`);
  if (header.recordsCount <= 0 || header.lastOffsetDelta + 1 !== header.recordsCount) {
    invalid(`batch holds ${header.recordsCount} records but its lastOffsetDelta is ${header.lastOffsetDelta}`);
  }
  if (header.isControl) invalid('clients may not write control batches');
  if (header.producerId >= 0 && header.baseSequence < 0) invalid('an idempotent batch needs a baseSequence ≥ 0');
  if (header.timestampType !== 'create') {
    throw new SluiceError('SLUICE_ERR_INVALID_TIMESTAMP', 'producers must send CreateTime batches; the broker sets LogAppendTime');
  }
  const codec = codecById(header.attributes & ATTRIBUTE_CODEC_MASK);
  let summary: RecordWalkSummary;
  if (codec.id === CODEC_NONE) {
    summary = walkRecords(buffer, RECORDS_OFFSET, size, header.recordsCount, header.baseTimestamp, options.timestamps);
  } else {
    scratch ??= Buffer.allocUnsafe(scratchBytes);
    const records = codec.decompress(buffer.subarray(RECORDS_OFFSET, size), options.maxDecompressedBytes ?? producerDecompressedLimit(maxBytes), scratch);
    summary = walkRecords(records, 0, records.length, header.recordsCount, header.baseTimestamp, options.timestamps);
  }
  // Object.assign, not a spread: spreading the 17-field header costs more than the CRC.
  return Object.assign(header, { hasNullKey: summary.hasNullKey, recordsMaxTimestamp: summary.maxTimestamp });
}

/**
 * Sets the batch's timestamp type and maxTimestamp, as Kafka's leader does after validation
 * (LogAppendTime: the broker's clock; CreateTime: the largest record timestamp, so a header
 * cannot claim a time its records do not). Both are under the CRC, so it is recomputed, but
 * only when something changed. Returns whether it did.
 */
export function setMaxTimestamp(buffer: Buffer, position: number, timestampType: 'create' | 'log-append', maxTimestamp: number): boolean {
  const attributes = buffer.readInt16BE(position + ATTRIBUTES_OFFSET);
  const stamped = timestampType === 'log-append' ? attributes | ATTRIBUTE_TIMESTAMP_TYPE_MASK : attributes & ~ATTRIBUTE_TIMESTAMP_TYPE_MASK;
  if (stamped === attributes && batchMaxTimestamp(buffer, position) === maxTimestamp) return false;
  buffer.writeInt16BE(stamped, position + ATTRIBUTES_OFFSET);
  writeInt64(buffer, position + MAX_TIMESTAMP_OFFSET, maxTimestamp);
  const size = batchSizeAt(buffer, position, buffer.length);
  buffer.writeUInt32BE(crc32c(buffer.subarray(position + ATTRIBUTES_OFFSET, position + size)), position + CRC_OFFSET);
  return true;
}

export interface DecodeOptions {
  /** Decompressed records may not exceed this (default 64 MiB). */
  maxUncompressedBytes?: number;
  /** Stamped into every record, so consumers hand records out without copying them. */
  topic?: string;
  partition?: number;
}

const noHeaders: RecordHeader[] = Object.freeze([]) as unknown as RecordHeader[];

/**
 * The records section of the batch at the start of `batch`, whose size batchSizeAt checked:
 * a view of the batch when it is uncompressed, else the decompressed bytes (never more than
 * `maxUncompressedBytes`). Codecs 5–7 are refused with UNSUPPORTED_COMPRESSION.
 */
export function recordsSection(batch: Buffer, size: number, maxUncompressedBytes = decompressedBytesMax): Buffer {
  const codec = codecById(batch.readInt16BE(ATTRIBUTES_OFFSET) & ATTRIBUTE_CODEC_MASK);
  return codec.decompress(batch.subarray(RECORDS_OFFSET, size), maxUncompressedBytes);
}

/**
 * Decodes every record of the batch at the start of `batch` (checking the CRC is the
 * caller's job). One cursor walks the records; each must end exactly where its length says.
 * Keys, values and header values are views of the batch (or of its decompressed records).
 */
export function decodeRecords(batch: Buffer, options: DecodeOptions = {}): DecodedRecord[] {
  const header = readBatchHeader(batch);
  const reader = new ByteReader(recordsSection(batch, batchSizeAt(batch, 0, batch.length), options.maxUncompressedBytes));
  // Each record takes at least 7 bytes, so a larger count cannot be honest.
  if (header.recordsCount < 0 || header.recordsCount * 7 > reader.remaining) {
    throw new CorruptRecordError(`batch declares ${header.recordsCount} records in ${reader.remaining} bytes`);
  }
  const logAppendTime = header.timestampType === 'log-append';
  const topic = options.topic ?? '';
  const partition = options.partition ?? -1;
  const records = new Array<DecodedRecord>(header.recordsCount);
  for (let index = 0; index < header.recordsCount; index += 1) {
    const length = reader.varint();
    if (length < 0 || length > reader.remaining) throw new CorruptRecordError(`record ${index} declares ${length} bytes, ${reader.remaining} left`);
    const recordEnd = reader.position + length;
    reader.int8();
    const timestampDelta = reader.varlong();
    const offsetDelta = reader.varint();
    const key = reader.nullableBytes('record key');
    const value = reader.nullableBytes('record value');
    const headerCount = reader.varint();
    if (headerCount < 0 || headerCount > recordEnd - reader.position) throw new CorruptRecordError(`record ${index} declares ${headerCount} headers`);
    const headers: RecordHeader[] = headerCount === 0 ? noHeaders : [];
    for (let headerIndex = 0; headerIndex < headerCount; headerIndex += 1) {
      const headerKey = reader.bytes(reader.varint(), 'header key').toString('utf8');
      headers.push({ key: headerKey, value: reader.nullableBytes('header value') });
    }
    if (reader.position !== recordEnd) throw new CorruptRecordError(`record ${index} ends at ${reader.position}, its length says ${recordEnd}`);
    records[index] = {
      topic,
      partition,
      offset: header.baseOffset + offsetDelta,
      timestamp: logAppendTime ? header.maxTimestamp : header.baseTimestamp + timestampDelta,
      key,
      value,
      headers,
    };
  }
  if (header.compression === 'none' && reader.remaining !== 0) {
    throw new CorruptRecordError(`${reader.remaining} bytes follow the last record of the batch`);
  }
  return records;
}

/** The broker's only rewrites; neither field is under the CRC. */
export function setBaseOffset(buffer: Buffer, position: number, offset: number): void {
  writeInt64(buffer, position + BASE_OFFSET_OFFSET, offset);
}

export function setPartitionLeaderEpoch(buffer: Buffer, position: number, epoch: number): void {
  buffer.writeInt32BE(epoch, position + PARTITION_LEADER_EPOCH_OFFSET);
}

export function batchLastOffset(buffer: Buffer, position: number): number {
  return readInt64(buffer, position + BASE_OFFSET_OFFSET) + buffer.readInt32BE(position + LAST_OFFSET_DELTA_OFFSET);
}

export function batchMaxTimestamp(buffer: Buffer, position: number): number {
  return buffer.readInt32BE(position + MAX_TIMESTAMP_OFFSET) * 4294967296 + buffer.readUInt32BE(position + MAX_TIMESTAMP_OFFSET + 4);
}
