/**
 * One record batch as the log cleaner sees it: its records' keys, offsets and tombstone flags
 * (read without decoding values or headers), and the batch rebuilt from the records it keeps.
 *
 * A rebuilt batch is the old one with records taken out, nothing else changed: the 61-byte
 * header is copied (base offset, partition leader epoch, attributes — codec, timestamp type,
 * transactional and control bits —, last offset delta, base timestamp, producer id, epoch and
 * base sequence) and each kept record's bytes are copied as they were, which is valid because
 * their timestamp and offset deltas are relative to the unchanged base timestamp and base
 * offset. Only the length, the record count, the CRC and, for CreateTime batches, maxTimestamp
 * (the largest timestamp of the kept records, as Kafka's cleaner computes it) are rewritten; a
 * LogAppendTime batch keeps its maxTimestamp, which is every record's timestamp. Compressed
 * batches are compressed again with the same codec.
 */
import { crc32c } from '@node-rs/crc32';
import { CorruptRecordError } from '../../proto/errors.js';
import {
  ATTRIBUTE_CODEC_MASK, ATTRIBUTE_CONTROL_MASK, ATTRIBUTE_TIMESTAMP_TYPE_MASK, ATTRIBUTES_OFFSET, BASE_TIMESTAMP_OFFSET,
  BATCH_HEADER_SIZE, BATCH_LENGTH_OFFSET, BATCH_LOG_OVERHEAD, CRC_OFFSET, MAX_TIMESTAMP_OFFSET,
  PRODUCER_ID_OFFSET, RECORDS_COUNT_OFFSET, RECORDS_OFFSET,
} from '../../proto/record-batch/layout.js';
import { batchSizeAt } from '../../proto/record-batch/batch-iterator.js';
import { codecById } from '../../proto/record-batch/compression.js';
import { ByteReader } from '../../proto/record-batch/reader.js';
import { readInt64, recordsSection, writeInt64 } from '../../proto/record-batch/record-batch.js';

/** One record of a batch: where its bytes are in the records section, and what the cleaner needs. */
export interface RecordRef {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  tombstone: boolean;
  start: number;
  end: number;
}

export function isControlBatch(batch: Buffer): boolean {
  return (batch.readInt16BE(ATTRIBUTES_OFFSET) & ATTRIBUTE_CONTROL_MASK) !== 0;
}

export function batchProducerId(batch: Buffer): number {
  return readInt64(batch, PRODUCER_ID_OFFSET);
}

/**
 * The records of a whole batch, in order. Throws a SluiceError when the records do not parse,
 * and for codecs Sluice cannot read (the cleaner then keeps the batch as it is).
 */
export function batchRecords(batch: Buffer): { section: Buffer; records: RecordRef[] } {
  const attributes = batch.readInt16BE(ATTRIBUTES_OFFSET);
  const section = recordsSection(batch, batchSizeAt(batch, 0, batch.length));
  const count = batch.readInt32BE(RECORDS_COUNT_OFFSET);
  if (count < 0 || count * 7 > section.length) throw new CorruptRecordError(`batch declares ${count} records in ${section.length} bytes`);
  const baseOffset = readInt64(batch, 0);
  const baseTimestamp = readInt64(batch, BASE_TIMESTAMP_OFFSET);
  const logAppendTime = (attributes & ATTRIBUTE_TIMESTAMP_TYPE_MASK) !== 0;
  const maxTimestamp = readInt64(batch, MAX_TIMESTAMP_OFFSET);
  const reader = new ByteReader(section);
  const records = new Array<RecordRef>(count);
  for (let index = 0; index < count; index += 1) {
    const start = reader.position;
    const length = reader.varint();
    if (length < 0 || length > reader.remaining) throw new CorruptRecordError(`record ${index} declares ${length} bytes, ${reader.remaining} left`);
    const recordEnd = reader.position + length;
    const body = new ByteReader(section, reader.position, recordEnd);
    body.int8();
    const timestampDelta = body.varlong();
    const offsetDelta = body.varint();
    const key = body.nullableBytes('record key');
    const valueLength = body.varint();
    if (valueLength < -1 || valueLength > body.remaining) throw new CorruptRecordError(`record ${index} declares a value of ${valueLength} bytes`);
    records[index] = {
      offset: baseOffset + offsetDelta,
      timestamp: logAppendTime ? maxTimestamp : baseTimestamp + timestampDelta,
      key,
      tombstone: valueLength === -1,
      start,
      end: recordEnd,
    };
    reader.position = recordEnd;
  }
  if (reader.remaining !== 0) throw new CorruptRecordError(`${reader.remaining} bytes follow the last record of the batch`);
  return { section, records };
}

/** `batch` holding only `kept` (a non-empty, ordered subset of its records; see the top of this file). */
export function rebuildBatch(batch: Buffer, section: Buffer, kept: RecordRef[]): Buffer {
  const attributes = batch.readInt16BE(ATTRIBUTES_OFFSET);
  let recordBytes = 0;
  for (const record of kept) recordBytes += record.end - record.start;
  const records = Buffer.allocUnsafe(recordBytes);
  let position = 0;
  for (const record of kept) position += section.copy(records, position, record.start, record.end);
  const body = codecById(attributes & ATTRIBUTE_CODEC_MASK).compress(records);
  const output = Buffer.allocUnsafe(RECORDS_OFFSET + body.length);
  batch.copy(output, 0, 0, RECORDS_OFFSET);
  body.copy(output, RECORDS_OFFSET);
  if ((attributes & ATTRIBUTE_TIMESTAMP_TYPE_MASK) === 0) {
    let maxTimestamp = -1;
    for (const record of kept) if (record.timestamp > maxTimestamp) maxTimestamp = record.timestamp;
    writeInt64(output, MAX_TIMESTAMP_OFFSET, maxTimestamp);
  }
  output.writeInt32BE(kept.length, RECORDS_COUNT_OFFSET);
  return sealed(output);
}

/**
 * `batch` with no records left: the header alone, as Kafka keeps the last batch of a producer
 * so its producer id, epoch and sequence survive. The codec bits are cleared (there is nothing
 * to compress); everything else stays.
 */
export function emptyBatch(batch: Buffer): Buffer {
  const output = Buffer.allocUnsafe(BATCH_HEADER_SIZE);
  batch.copy(output, 0, 0, BATCH_HEADER_SIZE);
  output.writeInt16BE(batch.readInt16BE(ATTRIBUTES_OFFSET) & ~ATTRIBUTE_CODEC_MASK, ATTRIBUTES_OFFSET);
  output.writeInt32BE(0, RECORDS_COUNT_OFFSET);
  return sealed(output);
}

/** Sets the length and the CRC-32C of a rebuilt batch. */
function sealed(batch: Buffer): Buffer {
  batch.writeInt32BE(batch.length - BATCH_LOG_OVERHEAD, BATCH_LENGTH_OFFSET);
  batch.writeUInt32BE(crc32c(batch.subarray(ATTRIBUTES_OFFSET)), CRC_OFFSET);
  return batch;
}
