/**
 * Compaction: a topic with repeated keys compacts to the last value per key, offsets never
 * move, tombstones go once older than delete.retention.ms, and the compacted log survives a
 * reopen and still takes appends.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Log } from '../../../../broker/storage/log.js';
import { LogCleaner } from '../../../../broker/storage/log-cleaner.js';
import { buildRecordBatch, decodeRecords, type DecodedRecord } from '../../../../proto/record-batch/record-batch.js';
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

function readAll(log: Log): DecodedRecord[] {
  const records: DecodedRecord[] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const { slices } = log.read(offset, 1 << 20);
    if (slices.length === 0) break;
    for (const slice of slices) {
      for (let position = 0; position < slice.length;) {
        const size = 12 + slice.readInt32BE(position + 8);
        records.push(...decodeRecords(slice.subarray(position, position + size)));
        offset = Number(slice.readBigInt64BE(position)) + slice.readInt32BE(position + 23) + 1;
        position += size;
      }
    }
  }
  return records;
}

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
