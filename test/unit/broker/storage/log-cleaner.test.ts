/**
 * Compaction: a topic with repeated keys compacts to the last value per key, offsets never
 * move, tombstones go once older than delete.retention.ms, and the compacted log survives a
 * reopen and still takes appends. A rebuilt batch keeps its header (timestamp type,
 * transactional and control bits, producer fields, LogAppendTime maxTimestamp); a pass runs
 * only past min.cleanable.dirty.ratio, never re-reads what the clean point says is clean, and
 * with a full offset map cleans up to where it filled.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { crc32c } from '@node-rs/crc32';
import { readCleanerCheckpoint } from '../../../../broker/storage/cleaner-checkpoint.js';
import { Log } from '../../../../broker/storage/log.js';
import { LogCleaner } from '../../../../broker/storage/log-cleaner.js';
import {
  ATTRIBUTE_CONTROL_MASK, ATTRIBUTE_TIMESTAMP_TYPE_MASK, ATTRIBUTES_OFFSET, CRC_OFFSET, MAX_TIMESTAMP_OFFSET,
} from '../../../../proto/record-batch/layout.js';
import {
  type BatchHeader, type BatchOptions, buildRecordBatch, checkBatch, decodeRecords, readBatchHeader,
} from '../../../../proto/record-batch/record-batch.js';
import { logBatches, logRecords } from '../../../helpers/log-contents.js';
import { seededRandom } from '../../../helpers/random.js';

let directory: string;
let cleaner: LogCleaner;
beforeEach(() => {
  directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-compact-'));
  cleaner = new LogCleaner();
});
afterEach(async () => {
  await cleaner.close();
  fs.rmSync(directory, { recursive: true, force: true });
});

const readAll = logRecords;

describe('log compaction', () => {
  it('keeps exactly the last value per key, at its original offset, and drops old tombstones', async () => {
    let now = 1_700_000_000_000;
    const config = { cleanupPolicy: 'compact' as const, segmentBytes: 4096, deleteRetentionMs: 60_000 };
    let log = Log.open(directory, { config, now: () => now });
    const random = seededRandom(11);
    const expected = new Map<string, { offset: number; value: string | null }>();
    for (let batch = 0; batch < 60; batch += 1) {
      const records = Array.from({ length: 8 }, (_, index) => {
        const key = `key-${Math.floor(random() * 20)}`;
        const deleted = random() < 0.1;
        return { key: Buffer.from(key), value: deleted ? null : Buffer.from(`value-${batch}-${index}`), timestamp: now };
      });
      const { baseOffset } = log.append(buildRecordBatch(records, { compression: batch % 2 === 0 ? 'lz4' : 'none' }));
      records.forEach((record, index) => {
        expected.set(record.key.toString(), { offset: baseOffset + index, value: record.value?.toString() ?? null });
      });
    }
    log.roll();
    const endBefore = log.logEndOffset;
    const outcome = await log.compact(cleaner);
    expect(outcome.segmentsCleaned).toBeGreaterThan(0);
    expect(log.logEndOffset).toBe(endBefore);
    const afterFirst = readAll(log);
    expect(afterFirst.length).toBe(expected.size);
    for (const record of afterFirst) {
      const wanted = expected.get(record.key!.toString())!;
      expect(record.offset).toBe(wanted.offset);
      expect(record.value?.toString() ?? null).toBe(wanted.value);
    }
    // Tombstones stay until delete.retention.ms has passed, then go.
    now += 120_000;
    await log.compact(cleaner);
    const live = [...expected.values()].filter((entry) => entry.value !== null);
    expect(readAll(log).map((record) => record.offset)).toEqual(live.map((entry) => entry.offset).sort((a, b) => a - b));
    log.close();

    log = Log.open(directory, { config, now: () => now });
    expect(readAll(log)).toHaveLength(live.length);
    const appended = log.append(buildRecordBatch([{ key: Buffer.from('key-1'), value: Buffer.from('newest'), timestamp: now }]));
    expect(appended.baseOffset).toBe(endBefore);
    log.close();
  });

  it.each(['gzip', 'snappy', 'zstd'] as const)('compacts a topic of %s batches: the rebuilt batches keep their codec and read back', async (compression) => {
    const log = Log.open(directory, { config: { cleanupPolicy: 'compact', segmentBytes: 4096 } });
    const expected = new Map<string, { offset: number; value: string }>();
    for (let batch = 0; batch < 80; batch += 1) {
      const records = Array.from({ length: 6 }, (_, index) => ({ key: Buffer.from(`key-${(batch * 7 + index * 3) % 11}`), value: Buffer.from(`value-${batch}-${index}`) }));
      const { baseOffset } = log.append(buildRecordBatch(records, { compression }));
      records.forEach((record, index) => {
        expected.set(record.key.toString(), { offset: baseOffset + index, value: record.value.toString() });
      });
    }
    log.roll();
    const outcome = await log.compact(cleaner);
    expect(outcome.segmentsCleaned).toBeGreaterThan(1);
    expect(outcome.recordsRemoved).toBe(80 * 6 - expected.size);
    const live = [...expected.values()].sort((a, b) => a.offset - b.offset);
    expect(readAll(log).map((record) => ({ offset: record.offset, value: record.value?.toString() }))).toEqual(live);
    const batches = storedBatches(log);
    expect(batches.length).toBeGreaterThan(0);
    for (const batch of batches) {
      expect(checkBatch(batch, 0, batch.length)).toBe(batch.length);
      expect(readBatchHeader(batch).compression).toBe(compression);
    }
    log.close();
  });

  it('leaves topics with cleanup.policy=delete alone and never touches the active segment', async () => {
    const log = Log.open(directory, { config: { segmentBytes: 4096 } });
    for (let batch = 0; batch < 10; batch += 1) log.append(buildRecordBatch([{ key: Buffer.from('same'), value: Buffer.alloc(500, batch) }]));
    expect(await log.compact(cleaner)).toEqual({ segmentsCleaned: 0, recordsRemoved: 0, bytesRead: 0 });
    log.close();
    const compacted = Log.open(path.join(directory, 'c'), { config: { cleanupPolicy: 'compact' } });
    for (let batch = 0; batch < 10; batch += 1) compacted.append(buildRecordBatch([{ key: Buffer.from('same'), value: Buffer.alloc(500, batch) }]));
    expect(compacted.segmentCount).toBe(1);
    expect(await compacted.compact(cleaner)).toEqual({ segmentsCleaned: 0, recordsRemoved: 0, bytesRead: 0 });
    compacted.close();
  });

  it('removes a leftover .cleaned file on open', () => {
    const log = Log.open(directory, { config: { cleanupPolicy: 'compact' } });
    log.append(buildRecordBatch([{ key: Buffer.from('k'), value: Buffer.from('v') }]));
    log.close();
    fs.writeFileSync(path.join(directory, '00000000000000000000.log.cleaned'), 'half written');
    const reopened = Log.open(directory, { config: { cleanupPolicy: 'compact' } });
    expect(fs.existsSync(path.join(directory, '00000000000000000000.log.cleaned'))).toBe(false);
    expect(readAll(reopened)).toHaveLength(1);
    reopened.close();
  });
});

/** Every batch the log holds, as stored (copied out of the mapping). */
const storedBatches = (log: Log): Buffer[] => logBatches(log).map((batch) => Buffer.from(batch));

/** A batch built by buildRecordBatch, then given header bits it cannot set, with the CRC recomputed. */
function handMadeBatch(keys: string[], options: BatchOptions & { timestamp: number; attributes?: number; maxTimestamp?: number }): Buffer {
  const batch = buildRecordBatch(keys.map((key, index) => ({ key: Buffer.from(key), value: Buffer.from(`${key}@${options.timestamp}`), timestamp: options.timestamp + index })), options);
  batch.writeInt16BE(batch.readInt16BE(ATTRIBUTES_OFFSET) | (options.attributes ?? 0), ATTRIBUTES_OFFSET);
  if (options.maxTimestamp !== undefined) batch.writeBigInt64BE(BigInt(options.maxTimestamp), MAX_TIMESTAMP_OFFSET);
  batch.writeUInt32BE(crc32c(batch.subarray(ATTRIBUTES_OFFSET)), CRC_OFFSET);
  return batch;
}

function keyed(keys: string[], value: string): Buffer {
  return buildRecordBatch(keys.map((key) => ({ key: Buffer.from(key), value: Buffer.from(value) })));
}

/** Header fields a cleaner must keep: everything but the length, CRC and record count. */
function keptHeader(header: BatchHeader) {
  const { batchLength: _length, crc: _crc, recordsCount: _count, ...kept } = header;
  return kept;
}

describe('what a cleaned batch keeps', () => {
  it('keeps timestamp type, transactional and control bits, producer fields and a LogAppendTime maxTimestamp', async () => {
    const config = { cleanupPolicy: 'compact' as const, segmentBytes: 1 << 20 };
    const log = Log.open(directory, { config });
    const appendTime = 1_800_000_000_000;
    const appended = [
      // 0-2: LZ4, LogAppendTime, transactional, producer 42; a and b are written again later.
      handMadeBatch(['a', 'b', 'keep-a'], {
        timestamp: 1_700_000_000_000, compression: 'lz4', producerId: 42, producerEpoch: 3, baseSequence: 0,
        transactional: true, attributes: ATTRIBUTE_TIMESTAMP_TYPE_MASK, maxTimestamp: appendTime,
      }),
      // 3: a transaction marker of producer 42.
      handMadeBatch(['marker'], { timestamp: 1_700_000_000_010, producerId: 42, producerEpoch: 3, transactional: true, attributes: ATTRIBUTE_CONTROL_MASK }),
      // 4: producer 77's first batch, 5-6: its last; both lose every record later.
      handMadeBatch(['c'], { timestamp: 1_700_000_000_020, producerId: 77, producerEpoch: 1, baseSequence: 0 }),
      handMadeBatch(['c', 'd'], { timestamp: 1_700_000_000_030, producerId: 77, producerEpoch: 1, baseSequence: 1 }),
      // 7-9: CreateTime; e2 holds the batch's largest timestamp and is written again later.
      handMadeBatch(['e1', 'e3', 'e2'], { timestamp: 1_700_000_000_040 }),
      // 10-14: the later values.
      keyed(['a', 'b', 'c', 'd', 'e2'], 'later'),
    ];
    for (const batch of appended) log.append(batch, { leaderEpoch: 5 });
    const before = storedBatches(log);
    log.roll();
    const outcome = await log.compact(cleaner);
    expect(outcome).toMatchObject({ segmentsCleaned: 1, recordsRemoved: 6 });

    const after = storedBatches(log);
    for (const batch of after) expect(checkBatch(batch, 0, batch.length)).toBe(batch.length);
    expect(after.map((batch) => readBatchHeader(batch).baseOffset)).toEqual([0, 3, 5, 7, 10]);
    const [logAppend, marker, producerLast, createTime, later] = after.map((batch) => readBatchHeader(batch));

    expect(keptHeader(logAppend!)).toEqual(keptHeader(readBatchHeader(before[0]!)));
    expect(logAppend).toMatchObject({
      compression: 'lz4', timestampType: 'log-append', isTransactional: true, isControl: false, maxTimestamp: appendTime,
      producerId: 42, producerEpoch: 3, baseSequence: 0, partitionLeaderEpoch: 5, lastOffsetDelta: 2, recordsCount: 1,
    });
    expect(decodeRecords(after[0]!).map((record) => [record.offset, record.key!.toString(), record.timestamp])).toEqual([[2, 'keep-a', appendTime]]);

    expect(after[1]).toEqual(before[1]);
    expect(marker!.isControl).toBe(true);

    // Producer 77's last batch stays, empty, for its producer state; its earlier one goes.
    expect(after[2]!.length).toBe(61);
    expect(producerLast).toMatchObject({
      recordsCount: 0, lastOffsetDelta: 1, producerId: 77, producerEpoch: 1, baseSequence: 1, compression: 'none', partitionLeaderEpoch: 5,
    });
    expect(decodeRecords(after[2]!)).toEqual([]);

    expect(keptHeader({ ...createTime!, maxTimestamp: 0 })).toEqual(keptHeader({ ...readBatchHeader(before[4]!), maxTimestamp: 0 }));
    expect(decodeRecords(after[3]!).map((record) => [record.offset, record.key!.toString(), record.timestamp]))
      .toEqual([[7, 'e1', 1_700_000_000_040], [8, 'e3', 1_700_000_000_041]]);
    // CreateTime: maxTimestamp is the largest of the records kept, as Kafka's cleaner writes it.
    expect(createTime!.maxTimestamp).toBe(1_700_000_000_041);
    expect(after[4]).toEqual(before[5]);
    expect(later!.recordsCount).toBe(5);
    log.close();
  });
});

describe('when a pass runs and what it reads', () => {
  const config = { cleanupPolicy: 'compact' as const, segmentBytes: 4096 };

  function appendRounds(log: Log, rounds: number, keys: number, tag: string): void {
    for (let round = 0; round < rounds; round += 1) {
      for (let key = 0; key < keys; key += 4) {
        log.append(keyed([0, 1, 2, 3].map((index) => `key-${key + index}`), `${tag}-${round}-${'x'.repeat(100)}`));
      }
    }
  }

  const segmentFiles = () => fs.readdirSync(directory).filter((name) => name.endsWith('.log')).sort()
    .map((name) => { const stat = fs.statSync(path.join(directory, name)); return `${name}:${stat.ino}:${stat.mtimeMs}:${stat.size}`; });

  it('does not read or rewrite clean segments again when nothing new is dirty, also after a restart', async () => {
    let log = Log.open(directory, { config });
    appendRounds(log, 5, 40, 'v');
    log.roll();
    const first = await log.compact(cleaner);
    expect(first.segmentsCleaned).toBeGreaterThan(0);
    expect(first.bytesRead).toBeGreaterThan(0);
    expect(readCleanerCheckpoint(directory)).toEqual({ cleanPoint: log.logEndOffset, tombstoneDeadline: Infinity });
    const files = segmentFiles();

    expect(await log.compact(cleaner)).toEqual({ segmentsCleaned: 0, recordsRemoved: 0, bytesRead: 0 });
    expect(segmentFiles()).toEqual(files);
    log.close();
    log = Log.open(directory, { config });
    expect(await log.compact(cleaner)).toEqual({ segmentsCleaned: 0, recordsRemoved: 0, bytesRead: 0 });
    expect(segmentFiles()).toEqual(files);
    expect(readAll(log)).toHaveLength(40);
    log.close();
  });

  it('waits until the dirty part exceeds min.cleanable.dirty.ratio of the sealed bytes', async () => {
    const log = Log.open(directory, { config });
    appendRounds(log, 5, 40, 'v');
    log.roll();
    await log.compact(cleaner);
    const cleanBytes = log.size;
    // 8 records of the same keys again: well under half of what is sealed.
    appendRounds(log, 1, 8, 'w');
    log.roll();
    expect(log.size - cleanBytes).toBeLessThan(cleanBytes);
    expect(await log.compact(cleaner)).toEqual({ segmentsCleaned: 0, recordsRemoved: 0, bytesRead: 0 });
    expect(readAll(log)).toHaveLength(48);
    // Two rounds over every key: now most of the sealed bytes are dirty.
    appendRounds(log, 2, 40, 'z');
    log.roll();
    const outcome = await log.compact(cleaner);
    expect(outcome.recordsRemoved).toBe(48 + 40);
    const records = readAll(log);
    expect(records).toHaveLength(40);
    expect(records.every((record) => record.value!.toString().startsWith('z-1-'))).toBe(true);
    log.close();
  });

  it('with a full offset map cleans up to where it filled, and the rest in a later pass', async () => {
    // 12 slots: full at 10 keys.
    const log = Log.open(directory, { config: { ...config, cleanerDedupeBufferBytes: 12 * 24, minCleanableDirtyRatio: 0 } });
    const offsetsOf = (keys: string[]) => keys.map((key) => log.append(keyed([key], `${key}@${log.logEndOffset}`)).baseOffset);
    const low = Array.from({ length: 10 }, (_, key) => `low-${key}`);
    const high = Array.from({ length: 10 }, (_, key) => `high-${key}`);
    for (let round = 0; round < 3; round += 1) offsetsOf(low);
    for (let round = 0; round < 3; round += 1) offsetsOf(high);
    log.roll();

    const first = await log.compact(cleaner);
    // The map filled at offset 30, the first record of an 11th key: only [0, 30) was cleaned.
    expect(first.recordsRemoved).toBe(20);
    expect(readCleanerCheckpoint(directory)!.cleanPoint).toBe(30);
    const afterFirst = readAll(log).map((record) => record.offset);
    expect(afterFirst).toEqual([...Array.from({ length: 10 }, (_, index) => 20 + index), ...Array.from({ length: 30 }, (_, index) => 30 + index)]);

    const second = await log.compact(cleaner);
    expect(second.recordsRemoved).toBe(20);
    expect(readCleanerCheckpoint(directory)!.cleanPoint).toBe(60);
    const records = readAll(log);
    expect(records.map((record) => record.offset)).toEqual([...Array.from({ length: 10 }, (_, index) => 20 + index), ...Array.from({ length: 10 }, (_, index) => 50 + index)]);
    expect(records.map((record) => record.value!.toString())).toEqual(records.map((record) => `${record.key!.toString()}@${record.offset}`));
    log.close();
  });

  it('takes the clean point back when the log is truncated below it', async () => {
    const log = Log.open(directory, { config });
    appendRounds(log, 5, 40, 'v');
    log.roll();
    await log.compact(cleaner);
    expect(readCleanerCheckpoint(directory)!.cleanPoint).toBe(200);
    log.truncateTo(150);
    expect(readCleanerCheckpoint(directory)!.cleanPoint).toBe(150);
    log.close();
  });
});
