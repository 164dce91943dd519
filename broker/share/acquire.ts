/**
 * Acquiring records of one share-partition from batches read from its log (behaviour 4):
 * lowest offsets first, only AVAILABLE ones, the window grown record by record while
 * SPEO − SPSO + 1 stays within share.partition.max.window, expired records dead-lettered
 * instead of handed out, offsets with no record (compaction, control batches) finished as GAP.
 * Returns the acquired offsets as ranges of one delivery count and the batches that hold them.
 */
import type { ShareAcquiredRange } from '../../proto/messages.js';
import { decodeRecords, readBatchHeader } from '../../proto/record-batch/record-batch.js';
import type { PartitionRead } from '../replication/partition-source.js';
import { recordExpiresAt } from './record-expiry.js';
import { RecordState } from './share-records.js';
import type { SharePartition } from './share-partition.js';

export interface AcquireLimits {
  member: number;
  /** Records this member may still take. */
  room: number;
  maxWindow: number;
  now: number;
  lockExpiry: number;
  hasDlq: boolean;
}

export interface Acquired {
  ranges: ShareAcquiredRange[];
  batches: Buffer[];
  count: number;
  /** Records that expired and now wait for the dead-letter writer (or were dropped). */
  expired: number;
}

export function acquireFrom(share: SharePartition, read: PartitionRead, limits: AcquireLimits, into: Acquired): void {
  if (read.logStartOffset > share.start) share.skipTo(read.logStartOffset);
  for (const batch of read.batches) {
    if (limits.room <= 0) return;
    const header = readBatchHeader(batch);
    const last = header.baseOffset + header.lastOffsetDelta;
    if (last < share.start) continue;
    if (header.isControl) {
      if (last >= share.end) {
        if (!share.canAdd(last, limits.maxWindow)) return;
        share.addGapTo(last + 1);
      }
      continue;
    }
    if (last < share.end && !share.hasAvailable(header.baseOffset, last)) continue;
    let used = false;
    let stopped = false;
    for (const record of decodeRecords(batch)) {
      const offset = record.offset;
      if (offset < share.start) continue;
      if (offset >= share.end) {
        if (limits.room <= 0 || !share.canAdd(offset, limits.maxWindow)) {
          stopped = true;
          break;
        }
        share.addRecord(offset);
      }
      if (share.state(offset) !== RecordState.available) continue;
      if (limits.room <= 0) {
        stopped = true;
        break;
      }
      if (recordExpiresAt(record, read.ttlMs) <= limits.now) {
        share.expire(offset, limits.hasDlq);
        into.expired += 1;
        continue;
      }
      const deliveryCount = share.acquire(offset, limits.member, limits.now, limits.lockExpiry);
      const range = into.ranges.at(-1);
      if (range !== undefined && range.lastOffset === offset - 1 && range.deliveryCount === deliveryCount) range.lastOffset = offset;
      else into.ranges.push({ firstOffset: offset, lastOffset: offset, deliveryCount });
      into.count += 1;
      limits.room -= 1;
      used = true;
    }
    if (used) into.batches.push(batch);
    if (stopped) return;
    // Records compacted away at the batch's end are offsets without a record.
    if (last >= share.end && share.canAdd(last, limits.maxWindow)) share.addGapTo(last + 1);
  }
}
