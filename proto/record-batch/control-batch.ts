/**
 * Control batches: the commit and abort markers that end a transaction in a partition's log
 * (KAFKA-FACTS §3). Only the broker writes them (WriteTxnMarkers), one record each,
 * uncompressed, with attributes bit 5 (control) and bit 4 (transactional):
 *
 *   key   int16 version (0) | int16 type (0 ABORT, 1 COMMIT)
 *   value int16 version (0) | int32 coordinatorEpoch
 *
 * Other control types (Kafka's KRaft-only ones) are read as `type` and ignored by callers.
 */
import { crc32c } from '@node-rs/crc32';
import { CorruptRecordError } from '../errors.js';
import {
  ATTRIBUTE_CONTROL_MASK, ATTRIBUTES_OFFSET, CRC_OFFSET, PRODUCER_EPOCH_OFFSET, PRODUCER_ID_OFFSET, RECORDS_COUNT_OFFSET, RECORDS_OFFSET,
} from './layout.js';
import { batchSizeAt } from './batch-iterator.js';
import { buildRecordBatch, checkMagicAndCrc, readInt64 } from './record-batch.js';
import { ByteReader } from './reader.js';

export const CONTROL_TYPE_ABORT = 0;
export const CONTROL_TYPE_COMMIT = 1;

export interface ControlBatchInput {
  producerId: number;
  producerEpoch: number;
  committed: boolean;
  coordinatorEpoch: number;
  timestamp: number;
}

export interface ControlRecord {
  producerId: number;
  producerEpoch: number;
  /** 0 ABORT, 1 COMMIT; other values are control types this broker does not write. */
  type: number;
  committed: boolean;
  /** -1 when the record is not a commit or abort marker. */
  coordinatorEpoch: number;
}

/** One marker as a whole batch (baseOffset 0, valid CRC); the log gives it its offset. */
export function buildControlBatch(input: ControlBatchInput): Buffer {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(input.committed ? CONTROL_TYPE_COMMIT : CONTROL_TYPE_ABORT, 2);
  const value = Buffer.alloc(6);
  value.writeInt16BE(0, 0);
  value.writeInt32BE(input.coordinatorEpoch, 2);
  const batch = buildRecordBatch([{ key, value, timestamp: input.timestamp }], {
    producerId: input.producerId, producerEpoch: input.producerEpoch, baseSequence: -1, transactional: true, baseTimestamp: input.timestamp,
  });
  batch.writeInt16BE(batch.readInt16BE(ATTRIBUTES_OFFSET) | ATTRIBUTE_CONTROL_MASK, ATTRIBUTES_OFFSET);
  batch.writeUInt32BE(crc32c(batch.subarray(ATTRIBUTES_OFFSET)), CRC_OFFSET);
  return batch;
}

/**
 * The marker in the control batch at `position` (checked: length, magic, CRC, control bit, one
 * record). Throws CorruptRecordError for anything else, so hostile bytes never reach a caller
 * as a RangeError.
 */
export function readControlRecord(buffer: Buffer, position = 0): ControlRecord {
  const size = batchSizeAt(buffer, position, buffer.length);
  checkMagicAndCrc(buffer, position, size);
  if ((buffer.readInt16BE(position + ATTRIBUTES_OFFSET) & ATTRIBUTE_CONTROL_MASK) === 0) throw new CorruptRecordError('not a control batch');
  if (buffer.readInt32BE(position + RECORDS_COUNT_OFFSET) !== 1) throw new CorruptRecordError('a control batch holds exactly one record');
  const producerId = readInt64(buffer, position + PRODUCER_ID_OFFSET);
  const producerEpoch = buffer.readInt16BE(position + PRODUCER_EPOCH_OFFSET);
  const reader = new ByteReader(buffer.subarray(position + RECORDS_OFFSET, position + size));
  reader.varint(); // record length
  reader.int8(); // attributes
  reader.varlong(); // timestamp delta
  reader.varint(); // offset delta
  const keyLength = reader.varint();
  if (keyLength < 4) throw new CorruptRecordError(`control record key of ${keyLength} bytes; it needs 4`);
  const key = reader.bytes(keyLength, 'control record key');
  const type = key.readInt16BE(2);
  const valueLength = reader.varint();
  let coordinatorEpoch = -1;
  if (type === CONTROL_TYPE_ABORT || type === CONTROL_TYPE_COMMIT) {
    if (valueLength < 6) throw new CorruptRecordError(`transaction marker value of ${valueLength} bytes; it needs 6`);
    coordinatorEpoch = reader.bytes(valueLength, 'transaction marker value').readInt32BE(2);
  }
  return { producerId, producerEpoch, type, committed: type === CONTROL_TYPE_COMMIT, coordinatorEpoch };
}
