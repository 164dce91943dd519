/**
 * Log compaction (cleanup.policy=compact): every sealed segment keeps, per key, only the
 * record with the highest offset among the sealed segments, and tombstones (null values)
 * disappear once their segment is older than delete.retention.ms. Offsets never change:
 * a rebuilt batch keeps its base offset and last offset delta, and its surviving records keep
 * their deltas, so readers see gaps, as in Kafka. The active segment is never cleaned.
 *
 * A cleaned segment is written beside the old one as `<base>.log.cleaned`, synced, and renamed
 * over `<base>.log` after its index files are removed; a crash before the rename leaves the old
 * segment (the stray `.cleaned` file is deleted on open), a crash after it leaves the new
 * segment without indexes, which opening rebuilds. Slices handed out earlier keep the old
 * bytes, because their mapping lives on.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BATCH_LENGTH_OFFSET, BATCH_LOG_OVERHEAD, LAST_OFFSET_DELTA_OFFSET } from '../../proto/record-batch/layout.js';
import { buildRecordBatch, decodeRecords, readBatchHeader } from '../../proto/record-batch/record-batch.js';
import { syncDirectory } from './checkpoint.js';
import { segmentFileName } from './segment.js';

export const cleanedSuffix = '.cleaned';

/** Each batch of `bytes` (whole batches laid end to end) with its position and size. */
function* batchesOf(bytes: Buffer): Generator<{ batch: Buffer }> {
  for (let position = 0; position < bytes.length;) {
    const size = BATCH_LOG_OVERHEAD + bytes.readInt32BE(position + BATCH_LENGTH_OFFSET);
    yield { batch: bytes.subarray(position, position + size) };
    position += size;
  }
}

/** The highest offset of every key in these segments' bytes (keys compared byte for byte). */
export function latestOffsets(segments: Iterable<Buffer>): Map<string, number> {
  const latest = new Map<string, number>();
  for (const bytes of segments) {
    for (const { batch } of batchesOf(bytes)) {
      for (const record of decodeRecords(batch)) if (record.key !== null) latest.set(record.key.toString('latin1'), record.offset);
    }
  }
  return latest;
}

/**
 * One segment's bytes after compaction, or undefined when nothing would change. Records without
 * a key cannot be compacted and are dropped (producers to compacted topics must send keys).
 */
export function compactSegment(bytes: Buffer, latest: Map<string, number>, dropTombstones: boolean): { bytes: Buffer; removed: number } | undefined {
  const kept: Buffer[] = [];
  let removed = 0;
  for (const { batch } of batchesOf(bytes)) {
    const records = decodeRecords(batch);
    const survivors = records.filter((record) => record.key !== null
      && latest.get(record.key.toString('latin1')) === record.offset
      && !(dropTombstones && record.value === null));
    removed += records.length - survivors.length;
    if (survivors.length === records.length) {
      kept.push(batch);
    } else if (survivors.length > 0) {
      const header = readBatchHeader(batch);
      kept.push(buildRecordBatch(survivors, {
        compression: header.compression === 'lz4' ? 'lz4' : 'none',
        baseOffset: header.baseOffset,
        baseTimestamp: header.baseTimestamp,
        offsetDeltas: survivors.map((record) => record.offset - header.baseOffset),
        lastOffsetDelta: batch.readInt32BE(LAST_OFFSET_DELTA_OFFSET),
        producerId: header.producerId,
        producerEpoch: header.producerEpoch,
        baseSequence: header.baseSequence,
        partitionLeaderEpoch: header.partitionLeaderEpoch,
      }));
    }
  }
  return removed === 0 ? undefined : { bytes: Buffer.concat(kept), removed };
}

/** Swaps a segment's log for its cleaned bytes, crash-safely (see the top of this file). */
export function replaceSegmentLog(directory: string, baseOffset: number, bytes: Buffer): void {
  const target = path.join(directory, segmentFileName(baseOffset, '.log'));
  const temporary = `${target}${cleanedSuffix}`;
  const fd = fs.openSync(temporary, 'w', 0o644);
  try {
    fs.writeSync(fd, bytes);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.rmSync(path.join(directory, segmentFileName(baseOffset, '.index')), { force: true });
  fs.rmSync(path.join(directory, segmentFileName(baseOffset, '.timeindex')), { force: true });
  fs.renameSync(temporary, target);
  syncDirectory(directory);
}
