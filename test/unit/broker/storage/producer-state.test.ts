/**
 * Producer state of a partition (broker/storage/producer-state.ts) through a real Log on disk:
 * each rule of the client-append check, snapshots at roll and close, a crash, the rebuild after
 * truncation, expiry and the log start moving.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Log } from '../../../../broker/storage/log.js';
import { decodeSnapshot, encodeSnapshot, type ProducerEntry } from '../../../../broker/storage/producer-state.js';
import { SluiceError } from '../../../../proto/errors.js';
import { buildRecordBatch } from '../../../../proto/record-batch/record-batch.js';
import { tempLogs } from '../../../helpers/temp-logs.js';

const { tempDirectory, open } = tempLogs('sluice-producer-state-');

function batch(producerId: number, producerEpoch: number, baseSequence: number, records = 3, options: { transactional?: boolean; timestamp?: number } = {}): Buffer {
  const timestamp = options.timestamp ?? 1_700_000_000_000;
  return buildRecordBatch(
    Array.from({ length: records }, (_, index) => ({ key: null, value: Buffer.from(`p${producerId}-e${producerEpoch}-s${baseSequence + index}`), timestamp })),
    { producerId, producerEpoch, baseSequence, transactional: options.transactional },
  );
}

/** What produce does: the check, then the append unless it is a resend. */
function produce(log: Log, bytes: Buffer): { baseOffset: number; duplicate: boolean } {
  const duplicate = log.checkProducerBatch(bytes);
  if (duplicate !== undefined) return { baseOffset: duplicate.firstOffset, duplicate: true };
  return { baseOffset: log.append(Buffer.from(bytes)).baseOffset, duplicate: false };
}

function errorCode(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    if (SluiceError.is(error)) return error.code;
    throw error;
  }
  return undefined;
}

describe('producer state checks', () => {
  it('answers a resent batch with its original offset and appends it once', () => {
    const log = open(tempDirectory());
    const first = batch(7, 0, 0);
    expect(produce(log, first)).toEqual({ baseOffset: 0, duplicate: false });
    expect(produce(log, batch(7, 0, 3))).toEqual({ baseOffset: 3, duplicate: false });
    expect(produce(log, first)).toEqual({ baseOffset: 0, duplicate: true });
    expect(log.logEndOffset).toBe(6);
  });

  it('remembers the last 5 batches only', () => {
    const log = open(tempDirectory());
    for (let index = 0; index < 6; index += 1) produce(log, batch(7, 0, index * 3));
    expect(produce(log, batch(7, 0, 3))).toEqual({ baseOffset: 3, duplicate: true });
    // The oldest fell out of the cache: it is neither a duplicate nor in sequence.
    expect(errorCode(() => log.checkProducerBatch(batch(7, 0, 0)))).toBe('SLUICE_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER');
  });

  it('refuses a gap, an older epoch, and a new epoch not starting at 0', () => {
    const log = open(tempDirectory());
    produce(log, batch(7, 2, 0));
    expect(errorCode(() => log.checkProducerBatch(batch(7, 2, 5)))).toBe('SLUICE_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect(errorCode(() => log.checkProducerBatch(batch(7, 1, 3)))).toBe('SLUICE_ERR_INVALID_PRODUCER_EPOCH');
    expect(errorCode(() => log.checkProducerBatch(batch(7, 3, 3)))).toBe('SLUICE_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect(produce(log, batch(7, 3, 0))).toEqual({ baseOffset: 3, duplicate: false });
    // The bump forgot the old epoch's batches and fences it.
    expect(errorCode(() => log.checkProducerBatch(batch(7, 2, 0)))).toBe('SLUICE_ERR_INVALID_PRODUCER_EPOCH');
  });

  it('accepts any sequence from a producer it has no state for, and plain batches without checks', () => {
    const log = open(tempDirectory());
    expect(produce(log, batch(9, 0, 1234))).toEqual({ baseOffset: 0, duplicate: false });
    const plain = buildRecordBatch([{ key: null, value: Buffer.from('plain') }]);
    expect(log.checkProducerBatch(plain)).toBeUndefined();
    log.append(Buffer.from(plain));
    expect(log.checkProducerBatch(plain)).toBeUndefined();
    expect(log.producerCount).toBe(1);
  });

  it('wraps the sequence after 2^31-1', () => {
    const log = open(tempDirectory());
    produce(log, batch(7, 0, 0x7fffffff - 1, 2));
    expect(errorCode(() => log.checkProducerBatch(batch(7, 0, 0x7fffffff)))).toBe('SLUICE_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect(produce(log, batch(7, 0, 0))).toEqual({ baseOffset: 2, duplicate: false });
    // A batch that itself wraps: sequences 2^31-2, 2^31-1, 0.
    const other = open(tempDirectory());
    produce(other, batch(8, 0, 0x7fffffff - 1, 3));
    expect(produce(other, batch(8, 0, 1))).toEqual({ baseOffset: 3, duplicate: false });
  });

  it('refuses a non-transactional batch while the producer has a transaction open', () => {
    const log = open(tempDirectory());
    produce(log, batch(7, 0, 0, 3, { transactional: true }));
    expect(errorCode(() => log.checkProducerBatch(batch(7, 0, 3)))).toBe('SLUICE_ERR_INVALID_TXN_STATE');
  });
});

describe('producer state on disk', () => {
  it('round-trips a snapshot and rejects a damaged one', () => {
    const entries: ProducerEntry[] = [
      { producerId: 1, epoch: 3, coordinatorEpoch: 7, txnFirstOffset: 40, lastTimestamp: 1_700_000_000_123, batches: [{ firstSeq: 0, lastSeq: 4, firstOffset: 40, lastOffset: 44, timestamp: 5 }] },
      { producerId: 2 ** 40, epoch: 0, coordinatorEpoch: -1, txnFirstOffset: -1, lastTimestamp: 0, batches: [] },
    ];
    const bytes = encodeSnapshot(entries);
    expect(decodeSnapshot(bytes)).toEqual(entries);
    for (let position = 0; position < bytes.length; position += 7) {
      const damaged = Buffer.from(bytes);
      damaged[position]! ^= 0x40;
      expect(decodeSnapshot(damaged)).toBeUndefined();
    }
    expect(decodeSnapshot(bytes.subarray(0, bytes.length - 1))).toBeUndefined();
  });

  it('writes a snapshot at each roll and at close, and comes back after a clean stop and after a crash', () => {
    const directory = tempDirectory();
    const log = open(directory);
    produce(log, batch(7, 0, 0));
    log.roll();
    produce(log, batch(7, 0, 3));
    expect(fs.readdirSync(directory).filter((name) => name.endsWith('.snapshot'))).toEqual(['00000000000000000003.snapshot']);
    // A crash: the files as they are while the log is open.
    const crashed = tempDirectory();
    fs.cpSync(directory, crashed, { recursive: true });
    const recovered = open(crashed);
    expect(produce(recovered, batch(7, 0, 3))).toEqual({ baseOffset: 3, duplicate: true });
    expect(produce(recovered, batch(7, 0, 0))).toEqual({ baseOffset: 0, duplicate: true });
    expect(errorCode(() => recovered.checkProducerBatch(batch(7, 0, 9)))).toBe('SLUICE_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER');

    log.close();
    expect(fs.existsSync(path.join(directory, '00000000000000000006.snapshot'))).toBe(true);
    const reopened = open(directory);
    expect(produce(reopened, batch(7, 0, 3))).toEqual({ baseOffset: 3, duplicate: true });
    // Without any snapshot the state is rebuilt from the log start.
    reopened.close();
    for (const name of fs.readdirSync(directory)) if (name.endsWith('.snapshot')) fs.rmSync(path.join(directory, name));
    const rebuilt = open(directory);
    expect(produce(rebuilt, batch(7, 0, 0))).toEqual({ baseOffset: 0, duplicate: true });
  });

  it('rebuilds from the newest snapshot below a truncation', () => {
    const directory = tempDirectory();
    const log = open(directory);
    produce(log, batch(7, 0, 0));
    log.roll();
    produce(log, batch(7, 0, 3));
    log.roll();
    produce(log, batch(7, 0, 6));
    log.truncateTo(6);
    expect(fs.readdirSync(directory).filter((name) => name.endsWith('.snapshot')).sort()).toEqual(['00000000000000000003.snapshot', '00000000000000000006.snapshot']);
    log.truncateTo(3);
    expect(fs.readdirSync(directory).filter((name) => name.endsWith('.snapshot'))).toEqual(['00000000000000000003.snapshot']);
    // Sequence 3 was cut: it is appended again, not a duplicate.
    expect(produce(log, batch(7, 0, 3))).toEqual({ baseOffset: 3, duplicate: false });
  });

  it('expires idle producers without an open transaction', () => {
    let now = 1_700_000_000_000;
    const log = open(tempDirectory(), { now: () => now, config: { producerIdExpirationMs: 60_000 } });
    produce(log, batch(7, 0, 0, 3, { timestamp: now }));
    produce(log, batch(8, 0, 0, 3, { timestamp: now, transactional: true }));
    now += 59_000;
    expect(log.expireProducers()).toBe(0);
    now += 1_000;
    expect(log.expireProducers()).toBe(1);
    expect(log.producerState.get(7)).toBeUndefined();
    expect(log.producerState.get(8)).toBeDefined();
    // Expired: any sequence goes again.
    expect(produce(log, batch(7, 0, 50))).toEqual({ baseOffset: 6, duplicate: false });
    // Old record timestamps (a backfill) count from when the batch arrived, not from the records.
    produce(log, batch(9, 0, 0, 3, { timestamp: now - 10 * 86_400_000 }));
    expect(log.expireProducers()).toBe(0);
    expect(log.producerState.get(9)).toBeDefined();
  });

  it('keeps at most max.producer.ids.per.partition producers, forgetting the least recently active idle one', () => {
    const log = open(tempDirectory(), { config: { maxProducerIdsPerPartition: 3 } });
    produce(log, batch(1, 0, 0));
    produce(log, batch(2, 0, 0, 3, { transactional: true }));
    produce(log, batch(3, 0, 0));
    // Producer 1 writes again: producer 3 is now the least recently active without a transaction.
    produce(log, batch(1, 0, 3));
    produce(log, batch(4, 0, 0));
    expect([...log.producerState.entries()].map((entry) => entry.producerId).sort()).toEqual([1, 2, 4]);
    expect(log.producersEvicted).toBe(1);
    // The open transaction is never forgotten (its LSO bound would go with it): 1 goes next.
    produce(log, batch(5, 0, 0));
    expect([...log.producerState.entries()].map((entry) => entry.producerId).sort()).toEqual([2, 4, 5]);
    expect(log.firstUnstableOffset).toBe(3);
    // A forgotten producer's next batch is taken as a new producer's.
    expect(produce(log, batch(3, 0, 3))).toMatchObject({ duplicate: false });
  });

  it('drops producers whose last batch is below a new log start', () => {
    const log = open(tempDirectory());
    produce(log, batch(7, 0, 0));
    produce(log, batch(8, 0, 0));
    log.deleteRecordsBefore(3);
    expect(log.producerState.get(7)).toBeUndefined();
    expect(log.producerState.get(8)).toBeDefined();
  });

  it('builds the same state from replicated batches', () => {
    const leader = open(tempDirectory());
    const follower = open(tempDirectory());
    produce(leader, batch(7, 0, 0));
    const stored = batch(7, 0, 0);
    stored.writeBigInt64BE(0n, 0);
    follower.append(stored, { assignOffsets: false });
    expect(follower.checkProducerBatch(batch(7, 0, 0))).toMatchObject({ firstOffset: 0, lastOffset: 2 });
  });
});
