/**
 * The one walk over whole batches laid end to end (a produce, a fetch response, a segment).
 * It trusts nothing: each batchLength is checked against the header size and the bytes left
 * before the walk steps over it, so a torn tail or a hostile length ends in a
 * CorruptRecordError, never a RangeError or a step backwards. It checks lengths only; the
 * magic and the CRC are checkBatch's job.
 */
import { CorruptRecordError } from '../errors.js';
import { BATCH_HEADER_SIZE, BATCH_LENGTH_OFFSET, BATCH_LOG_OVERHEAD } from './layout.js';

export interface BatchSpan {
  /** Where the batch starts in the buffer. */
  readonly position: number;
  /** Its whole size: 12 + batchLength. */
  readonly size: number;
}

/** Size of the batch at `position`, which must end by `end`. */
export function batchSizeAt(buffer: Buffer, position: number, end: number): number {
  if (end - position < BATCH_HEADER_SIZE) {
    throw new CorruptRecordError(`batch at position ${position} is cut short: ${end - position} bytes, a header needs ${BATCH_HEADER_SIZE}`);
  }
  const batchLength = buffer.readInt32BE(position + BATCH_LENGTH_OFFSET);
  if (batchLength < BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD) {
    throw new CorruptRecordError(`batch at position ${position} declares length ${batchLength}, below the header's size`);
  }
  const size = BATCH_LOG_OVERHEAD + batchLength;
  if (size > end - position) {
    throw new CorruptRecordError(`batch at position ${position} declares ${size} bytes but only ${end - position} follow`);
  }
  return size;
}

/**
 * Every batch in `buffer[start, end)`, in order. Throws (after yielding the good batches
 * before it) at the first batch whose length does not fit, so a caller that must stop at a
 * torn tail knows it from the last span it got.
 */
export function* eachBatch(buffer: Buffer, start = 0, end = buffer.length): Generator<BatchSpan, void, undefined> {
  for (let position = start; position < end;) {
    const size = batchSizeAt(buffer, position, end);
    yield { position, size };
    position += size;
  }
}
