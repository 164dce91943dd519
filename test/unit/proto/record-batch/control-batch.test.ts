/**
 * Commit and abort markers (proto/record-batch/control-batch.ts): built and read back, the bytes
 * Kafka defines (control and transactional bits, key and value layout), and hostile bytes
 * always end in a CorruptRecordError.
 */
import { describe, expect, it } from 'vitest';
import { CorruptRecordError } from '../../../../proto/errors.js';
import { buildControlBatch, readControlRecord } from '../../../../proto/record-batch/control-batch.js';
import { decodeRecords, readBatchHeader } from '../../../../proto/record-batch/record-batch.js';
import { seededRandom } from '../../../helpers/random.js';

describe('control batches', () => {
  it('round-trips commit and abort markers', () => {
    for (const committed of [true, false]) {
      const batch = buildControlBatch({ producerId: 2 ** 40 + 5, producerEpoch: 7, committed, coordinatorEpoch: 123456, timestamp: 1_700_000_000_000 });
      expect(readControlRecord(batch)).toEqual({ producerId: 2 ** 40 + 5, producerEpoch: 7, type: committed ? 1 : 0, committed, coordinatorEpoch: 123456 });
      const header = readBatchHeader(batch);
      expect(header).toMatchObject({ isControl: true, isTransactional: true, recordsCount: 1, producerId: 2 ** 40 + 5, producerEpoch: 7, baseSequence: -1 });
      const [record] = decodeRecords(batch, { topic: 't', partition: 0 });
      expect(record!.key).toEqual(Buffer.from([0, 0, 0, committed ? 1 : 0]));
      expect(record!.value).toEqual(Buffer.from([0, 0, 0x00, 0x01, 0xe2, 0x40]));
    }
  });

  it('refuses plain batches and throws a typed error for truncated or random bytes', () => {
    const batch = buildControlBatch({ producerId: 1, producerEpoch: 0, committed: true, coordinatorEpoch: 0, timestamp: 0 });
    for (let length = 0; length < batch.length; length += 1) expect(() => readControlRecord(batch.subarray(0, length))).toThrow(CorruptRecordError);
    const random = seededRandom(12);
    for (let round = 0; round < 2000; round += 1) {
      const bytes = Buffer.from(batch);
      for (let flips = 1 + Math.floor(random() * 4); flips > 0; flips -= 1) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      try {
        readControlRecord(bytes);
      } catch (error) {
        expect(error).toBeInstanceOf(CorruptRecordError);
      }
      const noise = Buffer.from(Array.from({ length: Math.floor(random() * 120) }, () => Math.floor(random() * 256)));
      expect(() => readControlRecord(noise)).toThrow(CorruptRecordError);
    }
  });
});
