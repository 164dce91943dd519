/**
 * Acknowledgements waiting to be sent. On the wire they travel as offset ranges: consecutive
 * offsets of one partition with the same type (and the same delay or reason) make one
 * ShareAckRange, so a worker acking a fetch's 500 records in order sends one range, not 500.
 * Each ack has a promise that settles with the broker's answer for its range. The broker
 * refuses a range as a whole when the member does not hold every record of it (a lock that
 * expired in the middle), so a refused range of several records is handed back to be asked
 * again record by record, and only the records really refused are rejected.
 */
import { errorCodes, errorFromWire, SluiceError } from '../../proto/errors.js';
import type { ShareAckRange, ShareAckResult, ShareAckTypeValue } from '../../proto/messages.js';

export interface PendingAck {
  topic: string;
  partition: number;
  offset: number;
  type: ShareAckTypeValue;
  delayMs: number;
  reason: string;
  /** The membership the record was acquired under: an ack from an earlier one cannot hold. */
  membership: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** Ranges to send, each with the acks it carries. */
export interface AckBatch {
  ranges: ShareAckRange[];
  acks: PendingAck[][];
}

const sameKind = (a: PendingAck, b: PendingAck) => a.topic === b.topic && a.partition === b.partition && a.type === b.type && a.delayMs === b.delayMs && a.reason === b.reason;

/**
 * Merges acks into ranges. Sorting is stable, so two acks of one offset (a renew, then an
 * accept) keep their order; they never merge, since a range holds each offset once.
 */
export function toRanges(pending: readonly PendingAck[]): AckBatch {
  const sorted = [...pending].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition || a.offset - b.offset));
  const batch: AckBatch = { ranges: [], acks: [] };
  for (const ack of sorted) {
    const index = batch.ranges.length - 1;
    const range = batch.ranges[index];
    const last = batch.acks[index]?.at(-1);
    if (range !== undefined && last !== undefined && sameKind(last, ack) && ack.offset === range.lastOffset + 1) {
      range.lastOffset = ack.offset;
      batch.acks[index]!.push(ack);
      continue;
    }
    batch.ranges.push({
      topic: ack.topic, partition: ack.partition, firstOffset: ack.offset, lastOffset: ack.offset, type: ack.type,
      ...(ack.delayMs > 0 ? { delayMs: ack.delayMs } : {}), ...(ack.reason === '' ? {} : { reason: ack.reason }),
    });
    batch.acks.push([ack]);
  }
  return batch;
}

const invalidState = errorCodes.SLUICE_ERR_INVALID_RECORD_STATE.wire;

/**
 * Settles a batch with the broker's per-range results; returns the acks of refused ranges of
 * several records, to be asked again one by one. A range the broker did not answer is refused.
 */
export function settle(batch: AckBatch, results: readonly ShareAckResult[]): PendingAck[] {
  const byRange = new Map(results.map((result) => [`${result.topic}\u0000${result.partition}\u0000${result.firstOffset}\u0000${result.lastOffset}`, result]));
  const again: PendingAck[] = [];
  batch.ranges.forEach((range, index) => {
    const acks = batch.acks[index]!;
    const result = byRange.get(`${range.topic}\u0000${range.partition}\u0000${range.firstOffset}\u0000${range.lastOffset}`);
    if (result !== undefined && result.errorCode === 0) {
      for (const ack of acks) ack.resolve();
    } else if (result?.errorCode === invalidState && acks.length > 1) {
      again.push(...acks);
    } else {
      const error = result === undefined
        ? new SluiceError('SLUICE_ERR_INVALID_RECORD_STATE', `the broker did not answer the acknowledgement of ${range.topic}/${range.partition} offsets ${range.firstOffset}..${range.lastOffset}`)
        : errorFromWire(result.errorCode, result.errorMessage || `${range.topic}/${range.partition} offsets ${range.firstOffset}..${range.lastOffset} refused`);
      for (const ack of acks) ack.reject(error);
    }
  });
  return again;
}

/** Rejects every ack of a batch with one error. */
export function failBatch(batch: AckBatch, error: unknown): void {
  for (const acks of batch.acks) for (const ack of acks) ack.reject(error);
}

/** Each ack in a range of its own: how a refused range is asked again. */
export function oneByOne(pending: readonly PendingAck[]): AckBatch {
  const batch: AckBatch = { ranges: [], acks: [] };
  for (const ack of pending) {
    const single = toRanges([ack]);
    batch.ranges.push(...single.ranges);
    batch.acks.push(...single.acks);
  }
  return batch;
}
