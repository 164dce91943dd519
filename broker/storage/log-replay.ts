/**
 * Replaying a log into memory in chunks, as the group and transaction coordinators load their
 * internal topics' partitions: a chunk at a time, so a long replay can yield to the event loop
 * between chunks.
 */
import { eachBatch } from '../../proto/record-batch/batch-iterator.js';
import { batchLastOffset } from '../../proto/record-batch/record-batch.js';
import type { Log } from './log.js';

const replayChunkBytes = 4 * 1024 * 1024;

/**
 * Hands each batch from `offset` on, up to about `replayChunkBytes`, to `visit`; returns the
 * offset to go on from (the log end once nothing is left to read).
 */
export function replayChunk(log: Log, offset: number, visit: (batch: Buffer) => void): number {
  const { slices } = log.read(offset, replayChunkBytes);
  if (slices.length === 0) return log.logEndOffset;
  let next = offset;
  for (const slice of slices) {
    for (const { position, size } of eachBatch(slice)) {
      next = batchLastOffset(slice, position) + 1;
      visit(slice.subarray(position, position + size));
    }
  }
  return next;
}
