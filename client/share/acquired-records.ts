/**
 * Turns one partition of a ShareFetch answer into the records this member acquired. The
 * batches hold every acquired offset but may hold others too (offsets another member holds,
 * or finished ones): only offsets inside an acquired range are kept, each with its range's
 * delivery count. Every batch is checked (CRC-32C) and decompressed by the record-batch codec.
 */
import { ATTRIBUTE_CONTROL_MASK, ATTRIBUTES_OFFSET } from '../../proto/record-batch/layout.js';
import { eachBatch } from '../../proto/record-batch/batch-iterator.js';
import { checkMagicAndCrc, type DecodedRecord, decodeRecords } from '../../proto/record-batch/record-batch.js';
import type { ShareAcquiredRange } from '../../proto/messages.js';

export interface AcquiredRecord {
  record: DecodedRecord;
  deliveryCount: number;
}

export interface AcquiredRecords {
  records: AcquiredRecord[];
  /** Acquired offsets no batch held (removed by compaction or retention): nothing to hand out. */
  missing: number[];
}

export function acquiredRecords(topic: string, partition: number, acquired: readonly ShareAcquiredRange[], batches: Buffer): AcquiredRecords {
  const ranges = [...acquired].sort((a, b) => a.firstOffset - b.firstOffset);
  const records: AcquiredRecord[] = [];
  const seen = new Set<number>();
  if (ranges.length > 0) {
    for (const { position, size } of eachBatch(batches)) {
      checkMagicAndCrc(batches, position, size);
      if ((batches.readInt16BE(position + ATTRIBUTES_OFFSET) & ATTRIBUTE_CONTROL_MASK) !== 0) continue;
      let index = 0;
      for (const record of decodeRecords(batches.subarray(position, position + size), { topic, partition })) {
        while (index < ranges.length && ranges[index]!.lastOffset < record.offset) index += 1;
        const range = ranges[index];
        if (range === undefined) break;
        if (record.offset < range.firstOffset || seen.has(record.offset)) continue;
        seen.add(record.offset);
        records.push({ record, deliveryCount: range.deliveryCount });
      }
    }
  }
  const missing: number[] = [];
  for (const range of ranges) for (let offset = range.firstOffset; offset <= range.lastOffset; offset += 1) if (!seen.has(offset)) missing.push(offset);
  return { records, missing };
}
