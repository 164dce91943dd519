/**
 * The leader's per-record check of a producer's batch (Kafka's LogValidator): one cursor over
 * the records section that reads every length, skips keys, values and headers without
 * copying or decoding them, and allocates nothing per record. A batch that passes can be
 * decoded by every consumer and by compaction, record for record, with the offsets its
 * header promises.
 *
 * Record layout (record-batch.ts): length varint | attributes int8 | timestampDelta varlong |
 * offsetDelta varint | keyLength varint (-1 null) | key | valueLength varint (-1 null) | value |
 * headerCount varint | headers: keyLength varint, key, valueLength varint (-1 null), value
 */
import { CorruptRecordError, SluiceError } from '../errors.js';

/** Kafka's NO_TIMESTAMP: a record without a time, which no bound applies to. */
const noTimestamp = -1;

export interface RecordWalkLimits {
  /** Each record's timestamp must lie in [lowestTimestamp, highestTimestamp]. */
  lowestTimestamp: number;
  highestTimestamp: number;
}

export interface RecordWalkSummary {
  /** Some record has a null key (refused on compacted topics). */
  hasNullKey: boolean;
  /** The largest record timestamp, what the header's maxTimestamp must say (CreateTime). */
  maxTimestamp: number;
}

/** A bounds-checked cursor whose every failure is INVALID_RECORD naming the record. */
class RecordCursor {
  readonly #buffer: Buffer;
  position: number;
  /** The end of what may be read now: the section's end, or the current record's. */
  limit: number;
  record = 0;

  constructor(buffer: Buffer, position: number, limit: number) {
    this.#buffer = buffer;
    this.position = position;
    this.limit = limit;
  }

  fail(why: string): never {
    throw new CorruptRecordError(`record ${this.record} of the batch: ${why}`, 'SLUICE_ERR_INVALID_RECORD');
  }

  /** Zigzag varint, at most 5 bytes (int32). */
  varint(what: string): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (this.position >= this.limit) this.fail(`${what} runs past the record's end`);
      const byte = this.#buffer[this.position++]!;
      result |= (byte & 0x7f) << shift;
      if (byte < 0x80) return (result >>> 1) ^ -(result & 1);
    }
    return this.fail(`${what} is a varint longer than 5 bytes`);
  }

  /** Zigzag varlong, at most 10 bytes; exact up to 2^53. */
  varlong(what: string): number {
    let result = 0;
    let scale = 1;
    for (let index = 0; index < 10; index += 1) {
      if (this.position >= this.limit) this.fail(`${what} runs past the record's end`);
      const byte = this.#buffer[this.position++]!;
      result += (byte & 0x7f) * scale;
      scale *= 0x80;
      if (byte < 0x80) return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
    }
    return this.fail(`${what} is a varlong longer than 10 bytes`);
  }

  skip(length: number, what: string): void {
    if (length < 0) this.fail(`${what} has negative length ${length}`);
    if (length > this.limit - this.position) this.fail(`${what} of ${length} bytes runs past the record's end`);
    this.position += length;
  }

  /** A varint length then that many bytes; returns false for length -1 (null). */
  nullable(what: string): boolean {
    const length = this.varint(`${what} length`);
    if (length === -1) return false;
    this.skip(length, what);
    return true;
  }
}

export const unboundedTimestamps: Readonly<RecordWalkLimits> = Object.freeze({ lowestTimestamp: -Infinity, highestTimestamp: Infinity });

/**
 * Walks the `count` records in `buffer[start, end)` of a batch whose baseTimestamp is
 * `baseTimestamp`: each record's length must hold it exactly, offset deltas must run
 * 0..count−1, timestamps must lie within `limits`, and the records must fill the section
 * exactly. Throws INVALID_RECORD (INVALID_TIMESTAMP for a timestamp out of bounds).
 */
export function walkRecords(
  buffer: Buffer, start: number, end: number, count: number, baseTimestamp: number,
  limits: Readonly<RecordWalkLimits> = unboundedTimestamps,
): RecordWalkSummary {
  const cursor = new RecordCursor(buffer, start, end);
  const { lowestTimestamp, highestTimestamp } = limits;
  let hasNullKey = false;
  let maxTimestamp = noTimestamp;
  for (let index = 0; index < count; index += 1) {
    cursor.record = index;
    cursor.limit = end;
    if (cursor.position >= end) cursor.fail(`the batch declares ${count} records but its bytes end after ${index}`);
    const length = cursor.varint('length');
    if (length < 0 || length > end - cursor.position) cursor.fail(`length ${length} runs past the batch's end (${end - cursor.position} bytes left)`);
    const recordEnd = cursor.position + length;
    cursor.limit = recordEnd;
    cursor.skip(1, 'attributes');
    const timestamp = baseTimestamp + cursor.varlong('timestampDelta');
    if (timestamp !== noTimestamp && (timestamp < lowestTimestamp || timestamp > highestTimestamp)) {
      throw new SluiceError('SLUICE_ERR_INVALID_TIMESTAMP',
        `record ${index} has timestamp ${timestamp}, outside the allowed [${lowestTimestamp}, ${highestTimestamp}] (broker clock − message.timestamp.before.max.ms, + message.timestamp.after.max.ms); fix the producer's clock or the record's timestamp`);
    }
    if (timestamp > maxTimestamp) maxTimestamp = timestamp;
    const offsetDelta = cursor.varint('offsetDelta');
    if (offsetDelta !== index) cursor.fail(`offsetDelta is ${offsetDelta}; a producer's records must have offset deltas 0..${count - 1} in order`);
    if (!cursor.nullable('key')) hasNullKey = true;
    cursor.nullable('value');
    const headerCount = cursor.varint('headerCount');
    if (headerCount < 0) cursor.fail(`headerCount is ${headerCount}`);
    for (let header = 0; header < headerCount; header += 1) {
      cursor.skip(cursor.varint('header key length'), 'header key');
      cursor.nullable('header value');
    }
    if (cursor.position !== recordEnd) cursor.fail(`its fields end at byte ${cursor.position - start} of the records, its length says ${recordEnd - start}`);
  }
  if (cursor.position !== end) {
    throw new CorruptRecordError(`${end - cursor.position} bytes follow the last of the ${count} records the batch declares`, 'SLUICE_ERR_INVALID_RECORD');
  }
  return { hasNullKey, maxTimestamp };
}
