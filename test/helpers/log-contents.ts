/** What a partition log holds, read the way a fetch reads it, for storage tests. */
import type { Log } from '../../broker/storage/log.js';
import { eachBatch } from '../../proto/record-batch/batch-iterator.js';
import { batchLastOffset, decodeRecords, type DecodedRecord } from '../../proto/record-batch/record-batch.js';

/** Every batch from the log start to its end, in order, as views of the mappings. */
export function logBatches(log: Log): Buffer[] {
  const batches: Buffer[] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const { slices } = log.read(offset, 1 << 20);
    if (slices.length === 0) break;
    for (const slice of slices) {
      for (const { position, size } of eachBatch(slice)) {
        batches.push(slice.subarray(position, position + size));
        offset = batchLastOffset(slice, position) + 1;
      }
    }
  }
  return batches;
}

/** Every record of the log, in offset order. */
export function logRecords(log: Log): DecodedRecord[] {
  return logBatches(log).flatMap((batch) => decodeRecords(batch));
}
