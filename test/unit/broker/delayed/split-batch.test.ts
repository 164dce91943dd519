/**
 * Splitting a producer batch on a delayed-delivery topic: held records come out sorted by due
 * time (ties in produce order) with their target; the rest keeps the producer's
 * id, sequence and offset span (gaps where records were held); an idempotent batch with every
 * record held leaves an empty batch; too-far due times and delayed records in a transaction
 * are refused with INVALID_RECORD naming the config.
 */
import { describe, expect, it } from 'vitest';
import { splitDelayed } from '../../../../broker/delayed/split-batch.js';
import { decodeTarget, targetHeader } from '../../../../broker/delayed/timer-codec.js';
import { SluiceError } from '../../../../proto/errors.js';
import { buildRecordBatch, decodeRecords, readBatchHeader, type RecordInput } from '../../../../proto/record-batch/record-batch.js';

const now = 1_800_000_000_000;
const target = { topic: 'orders', partition: 2, logEndOffset: 40, maxMs: 7 * 86_400_000 };
const record = (value: string, headers: Record<string, string> = {}): RecordInput => ({
  key: null, value: Buffer.from(value), timestamp: now, headers: Object.entries(headers).map(([key, text]) => ({ key, value: Buffer.from(text) })),
});
const split = (records: RecordInput[], options = {}) => {
  const batch = buildRecordBatch(records, options);
  return splitDelayed(batch, readBatchHeader(batch), now, target);
};

describe('splitDelayed', () => {
  it('leaves a batch without delay headers alone', () => {
    expect(split([record('a'), record('b')])).toBeUndefined();
  });

  it('holds delayed records sorted by due time and keeps the rest at their offsets with the idempotent header', () => {
    const result = split([
      record('late', { 'x-delay-ms': '5000' }), record('plain'), record('early', { 'x-deliver-at': String(now + 10) }),
      record('tie', { 'x-delay-ms': '5000' }), record('plain2'),
    ], { producerId: 7, producerEpoch: 1, baseSequence: 100 })!;
    const held = result.held;
    expect(held.map((entry) => entry.value!.toString())).toEqual(['early', 'late', 'tie']);
    expect(held.map((entry) => entry.timestamp)).toEqual([now + 10, now + 5000, now + 5000]);
    expect(held[0]!.headers[0]!.key).toBe(targetHeader);
    expect(decodeTarget(held[0]!.headers[0]!.value)).toEqual({ topic: 'orders', partition: 2, endAtProduce: 40 });
    const header = readBatchHeader(result.remainder!);
    expect({ producerId: header.producerId, baseSequence: header.baseSequence, lastOffsetDelta: header.lastOffsetDelta, count: header.recordsCount })
      .toEqual({ producerId: 7, baseSequence: 100, lastOffsetDelta: 4, count: 2 });
    expect(decodeRecords(result.remainder!).map((entry) => [entry.offset, entry.value!.toString()])).toEqual([[1, 'plain'], [4, 'plain2']]);
    expect(result.keptCount).toBe(2);
  });

  it('leaves an empty batch for an idempotent batch held whole, nothing for a plain one', () => {
    const idempotent = split([record('a', { 'x-delay-ms': '1' }), record('b', { 'x-delay-ms': '2' })], { producerId: 3, producerEpoch: 0, baseSequence: 0 })!;
    const header = readBatchHeader(idempotent.remainder!);
    expect({ count: header.recordsCount, lastOffsetDelta: header.lastOffsetDelta, producerId: header.producerId }).toEqual({ count: 0, lastOffsetDelta: 1, producerId: 3 });
    expect(split([record('a', { 'x-delay-ms': '1' })])!.remainder).toBeUndefined();
  });

  it('refuses due times beyond delayed.delivery.max.ms, bad numbers and transactions with INVALID_RECORD', () => {
    const refused = (records: RecordInput[], options = {}): string => {
      try {
        split(records, options);
      } catch (error) {
        expect(SluiceError.is(error) && error.code === 'SLUICE_ERR_INVALID_RECORD').toBe(true);
        return (error as Error).message;
      }
      throw new Error('not refused');
    };
    expect(refused([record('a', { 'x-delay-ms': String(8 * 86_400_000) })])).toMatch(/delayed\.delivery\.max\.ms=604800000/);
    expect(refused([record('a', { 'x-deliver-at': 'tomorrow' })])).toMatch(/x-deliver-at must be a decimal number/);
    expect(refused([record('a', { 'x-delay-ms': '-5' })])).toMatch(/must not be negative/);
    expect(refused([record('a', { 'x-delay-ms': '5' })], { producerId: 1, producerEpoch: 0, baseSequence: 0, transactional: true })).toMatch(/transaction/);
  });
});
