/**
 * Deterministic record batches for storage tests: batch `n` always has the same records, so a
 * test can rebuild what a crashed process appended and compare bytes.
 */
import { buildRecordBatch } from '../../proto/record-batch/record-batch.js';

export const recordsPerTestBatch = 10;
export const testBaseTimestamp = 1_700_000_000_000;

/** Batch number `n`: 10 records whose values vary in length, timestamps rising with `n`. */
export function testBatch(n: number, timestamp = testBaseTimestamp + n * 10): Buffer {
  const records = [];
  for (let index = 0; index < recordsPerTestBatch; index += 1) {
    const length = 20 + ((n * 31 + index * 17) % 180);
    records.push({
      key: index % 3 === 0 ? null : Buffer.from(`key-${n}-${index}`),
      value: Buffer.alloc(length, `batch-${n}-record-${index}|`),
      timestamp: timestamp + index,
    });
  }
  return buildRecordBatch(records);
}

/** Copy of `batch` with baseOffset set, as the log stores it (the CRC does not cover it). */
export function withBaseOffset(batch: Buffer, baseOffset: number): Buffer {
  const copy = Buffer.from(batch);
  copy.writeBigInt64BE(BigInt(baseOffset), 0);
  return copy;
}
