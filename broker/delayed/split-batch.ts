/**
 * Splits a producer's batch on a topic with delayed.delivery.enable into the records to hold
 * in the timer log and the rest, which the partition appends as usual.
 *
 * The rest keeps the producer's batch header: producer id, epoch, base sequence, compression,
 * and the original last offset delta, with each kept record at its original offset delta (as
 * the log cleaner rewrites a batch). So an idempotent producer's sequence numbers advance by the
 * whole batch, its resend is recognised as a duplicate by the partition before anything is
 * held again, and the held records leave gaps in the partition's offsets (consumers skip gaps
 * as after compaction). An idempotent batch whose records are all delayed leaves a batch of no
 * records for the same reason. A plain batch whose records are all delayed appends nothing.
 */
import { crc32c } from '@node-rs/crc32';
import { CorruptRecordError } from '../../proto/errors.js';
import {
  ATTRIBUTE_CODEC_MASK, ATTRIBUTES_OFFSET, BATCH_HEADER_SIZE, BATCH_LOG_OVERHEAD, CRC_OFFSET, LAST_OFFSET_DELTA_OFFSET, MAGIC_OFFSET, MAGIC_V2,
  BASE_SEQUENCE_OFFSET, BASE_TIMESTAMP_OFFSET, BATCH_LENGTH_OFFSET, MAX_TIMESTAMP_OFFSET, PARTITION_LEADER_EPOCH_OFFSET, PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET, RECORDS_COUNT_OFFSET,
} from '../../proto/record-batch/layout.js';
import { type BatchHeader, buildRecordBatch, type DecodedRecord, decodeRecords, type RecordHeader, type RecordInput, writeInt64 } from '../../proto/record-batch/record-batch.js';
import { dueTime } from './delay-headers.js';
import { delayedFromHeader } from './delayed-topic.js';
import { encodeTarget, targetHeader } from './timer-codec.js';

/** A record for the timer log: its due time as timestamp, the target header first. */
export type HeldRecord = RecordInput & { timestamp: number; headers: RecordHeader[] };

export interface SplitBatch {
  /**
   * The held records for the timer log, sorted by due time (ties in produce order), each with
   * its due time as timestamp and the target header first.
   */
  held: HeldRecord[];
  /** What the partition appends; undefined when nothing is. */
  remainder: Buffer | undefined;
  /** Records in the remainder. */
  keptCount: number;
  /** The largest timestamp among kept records (-1 when none). */
  keptMaxTimestamp: number;
}

export interface SplitTarget {
  topic: string;
  partition: number;
  /** The partition's log end offset now. */
  logEndOffset: number;
  maxMs: number;
}

/** A batch of no records standing for an idempotent batch whose records were all held. */
function emptyBatch(header: BatchHeader, timestamp: number): Buffer {
  const batch = Buffer.alloc(BATCH_HEADER_SIZE);
  batch.writeInt32BE(BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD, BATCH_LENGTH_OFFSET);
  batch.writeInt32BE(-1, PARTITION_LEADER_EPOCH_OFFSET);
  batch[MAGIC_OFFSET] = MAGIC_V2;
  batch.writeInt16BE(header.attributes & ~ATTRIBUTE_CODEC_MASK, ATTRIBUTES_OFFSET);
  batch.writeInt32BE(header.lastOffsetDelta, LAST_OFFSET_DELTA_OFFSET);
  writeInt64(batch, BASE_TIMESTAMP_OFFSET, timestamp);
  writeInt64(batch, MAX_TIMESTAMP_OFFSET, timestamp);
  writeInt64(batch, PRODUCER_ID_OFFSET, header.producerId);
  batch.writeInt16BE(header.producerEpoch, PRODUCER_EPOCH_OFFSET);
  batch.writeInt32BE(header.baseSequence, BASE_SEQUENCE_OFFSET);
  batch.writeInt32BE(0, RECORDS_COUNT_OFFSET);
  batch.writeUInt32BE(crc32c(batch.subarray(ATTRIBUTES_OFFSET)), CRC_OFFSET);
  return batch;
}

function input(record: DecodedRecord): RecordInput {
  return { key: record.key, value: record.value, headers: record.headers, timestamp: record.timestamp };
}

/**
 * Returns undefined when no record of the batch has a delay header (the caller appends the
 * batch untouched). Throws INVALID_RECORD for a due time beyond `maxMs` or a delayed record in
 * a transaction (its commit could not cover a record appended later).
 */
export function splitDelayed(records: Buffer, header: BatchHeader, now: number, target: SplitTarget): SplitBatch | undefined {
  const decoded = decodeRecords(records);
  const held: { record: DecodedRecord; due: number }[] = [];
  const kept: DecodedRecord[] = [];
  for (const record of decoded) {
    // A fired record (sent to its partition's leader by the timer partition's leader) keeps its delay headers: it is not held again.
    const due = record.headers.some((header) => header.key === delayedFromHeader) ? undefined : dueTime(record.headers, now, target.maxMs, target.topic);
    if (due === undefined) kept.push(record);
    else held.push({ record, due });
  }
  if (held.length === 0) return undefined;
  if (header.isTransactional) {
    throw new CorruptRecordError(`topic ${target.topic}: delayed records cannot be part of a transaction; send them outside it`, 'SLUICE_ERR_INVALID_RECORD');
  }
  // Array.prototype.sort is stable: equal due times keep produce order.
  held.sort((a, b) => a.due - b.due);
  const targetValue = encodeTarget({ topic: target.topic, partition: target.partition, endAtProduce: target.logEndOffset });
  const timerRecords = held.map(({ record, due }): HeldRecord => ({
    key: record.key, value: record.value, timestamp: due, headers: [{ key: targetHeader, value: targetValue }, ...record.headers],
  }));
  let remainder: Buffer | undefined;
  let keptMaxTimestamp = kept.length === 0 ? now : -1;
  for (const record of kept) keptMaxTimestamp = Math.max(keptMaxTimestamp, record.timestamp);
  if (kept.length > 0) {
    remainder = buildRecordBatch(kept.map(input), {
      compression: header.compression === 'invalid' ? 'none' : header.compression,
      baseTimestamp: header.baseTimestamp,
      producerId: header.producerId, producerEpoch: header.producerEpoch, baseSequence: header.baseSequence,
      offsetDeltas: kept.map((record) => record.offset), lastOffsetDelta: header.lastOffsetDelta,
    });
  } else if (header.producerId >= 0) {
    remainder = emptyBatch(header, now);
  }
  return { held: timerRecords, remainder, keptCount: kept.length, keptMaxTimestamp };
}
