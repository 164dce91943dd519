/**
 * The cleaner off the request path: the event loop keeps turning while a pass runs on the
 * worker; deleting, closing or truncating a partition in the middle of a pass is safe (no
 * crash, no record lost, no `.cleaned` file left behind); and the retention timer runs one
 * round of compaction at a time. Needs the compiled worker: `npm run build` first.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readCleanerCheckpoint } from '../../../../broker/storage/cleaner-checkpoint.js';
import type { CleanerJob } from '../../../../broker/storage/cleaner-pass.js';
import { Log } from '../../../../broker/storage/log.js';
import { type CleanerTask, LogCleaner } from '../../../../broker/storage/log-cleaner.js';
import { RetentionTimer } from '../../../../broker/storage/retention-timer.js';
import { buildRecordBatch } from '../../../../proto/record-batch/record-batch.js';
import { logRecords } from '../../../helpers/log-contents.js';

let root: string;
let cleaner: LogCleaner;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-cleaner-'));
  cleaner = new LogCleaner();
});
afterEach(async () => {
  await cleaner.close();
  fs.rmSync(root, { recursive: true, force: true });
});

const config = { cleanupPolicy: 'compact' as const, segmentBytes: 2 * 1024 * 1024 };
const keyCount = 2000;

/** ~16 MiB over 2 MiB segments: 1 KiB values, 16 records a batch, keys cycling over 2000. */
function bigLog(directory: string): { log: Log; latest: Map<string, string> } {
  const log = Log.open(directory, { config });
  const latest = new Map<string, string>();
  const value = Buffer.alloc(1000, 'v');
  for (let batch = 0; batch < 1000; batch += 1) {
    const records = Array.from({ length: 16 }, (_, index) => {
      const key = `key-${(batch * 16 + index) % keyCount}`;
      const tag = `${batch}-${index}|`;
      latest.set(key, tag);
      return { key: Buffer.from(key), value: Buffer.concat([Buffer.from(tag), value]) };
    });
    log.append(buildRecordBatch(records));
  }
  log.roll();
  return { log, latest };
}

/** Key → value tag of every record, checking offsets only ever rise. */
function contents(log: Log): Map<string, string> {
  const seen = new Map<string, string>();
  let last = -1;
  for (const record of logRecords(log)) {
    expect(record.offset).toBeGreaterThan(last);
    last = record.offset;
    seen.set(record.key!.toString(), record.value!.toString().split('|')[0]! + '|');
  }
  return seen;
}

const cleanedFiles = (directory: string) => (fs.existsSync(directory) ? fs.readdirSync(directory).filter((name) => name.endsWith('.cleaned')) : []);

/** Turns the event loop until `condition` holds or `pass` settles; true when the condition held. */
async function whilePassRuns(pass: Promise<unknown>, condition: () => boolean): Promise<boolean> {
  let settled = false;
  void pass.finally(() => { settled = true; }).catch(() => {});
  const deadline = Date.now() + 20_000;
  while (!settled && Date.now() < deadline) {
    if (condition()) return true;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return false;
}

describe('the log cleaner off the request path', () => {
  it('lets the event loop keep turning while a pass runs', async () => {
    const { log, latest } = bigLog(path.join(root, 'p'));
    let ticks = 0;
    const ticker = setInterval(() => { ticks += 1; }, 1);
    const outcome = await log.compact(cleaner);
    clearInterval(ticker);
    // A pass on this thread would not let a single tick through; delays are measured by bench:compaction.
    expect(ticks).toBeGreaterThan(3);
    expect(outcome.recordsRemoved).toBe(16_000 - keyCount);
    expect(contents(log)).toEqual(latest);
    log.close();
  });

  it('survives the partition being deleted before or during a pass, leaving nothing behind', async () => {
    const early = bigLog(path.join(root, 'early')).log;
    const earlyPass = early.compact(cleaner);
    early.delete();
    await expect(earlyPass).resolves.toMatchObject({ segmentsCleaned: 0 });
    expect(fs.existsSync(path.join(root, 'early'))).toBe(false);

    const directory = path.join(root, 'during');
    const during = bigLog(directory).log;
    const pass = during.compact(cleaner);
    expect(await whilePassRuns(pass, () => cleanedFiles(directory).length > 0)).toBe(true);
    during.delete();
    await expect(pass).resolves.toBeDefined();
    expect(fs.existsSync(directory)).toBe(false);

    // The cleaner goes on serving other partitions.
    const { log: next, latest } = bigLog(path.join(root, 'next'));
    expect((await next.compact(cleaner)).segmentsCleaned).toBeGreaterThan(0);
    expect(contents(next)).toEqual(latest);
    expect(fs.existsSync(directory)).toBe(false);
    next.close();
  });

  it('loses nothing when the partition closes during a pass, and reopens without .cleaned files', async () => {
    const directory = path.join(root, 'p');
    const { log, latest } = bigLog(directory);
    const pass = log.compact(cleaner);
    expect(await whilePassRuns(pass, () => cleanedFiles(directory).length > 0)).toBe(true);
    log.close();
    await expect(pass).resolves.toBeDefined();
    const reopened = Log.open(directory, { config });
    expect(cleanedFiles(directory)).toEqual([]);
    expect(contents(reopened)).toEqual(latest);
    await reopened.compact(cleaner);
    expect(contents(reopened)).toEqual(latest);
    reopened.close();
  });

  it('drops a pass overtaken by a truncation and cleans the truncated log correctly later', async () => {
    const directory = path.join(root, 'p');
    const { log } = bigLog(directory);
    const end = log.logEndOffset;
    const pass = log.compact(cleaner);
    expect(await whilePassRuns(pass, () => cleanedFiles(directory).length > 0)).toBe(true);
    log.truncateTo(end - 4000);
    // Cut while the worker was still writing: none of its segments may be swapped in.
    expect(await pass).toMatchObject({ segmentsCleaned: 0 });
    expect(cleanedFiles(directory)).toEqual([]);
    expect(log.logEndOffset).toBeLessThanOrEqual(end - 4000);
    expect(readCleanerCheckpoint(directory)?.cleanPoint ?? 0).toBeLessThanOrEqual(log.logEndOffset);
    // What is left is the first records up to the cut, less what the pass removed before it.
    const expected = new Map<string, string>();
    for (let offset = 0; offset < log.logEndOffset; offset += 1) {
      expected.set(`key-${offset % keyCount}`, `${Math.floor(offset / 16)}-${offset % 16}|`);
    }
    log.roll();
    await log.compact(cleaner);
    expect(contents(log)).toEqual(expected);
    expect(cleanedFiles(directory)).toEqual([]);
    log.close();
  });
});

class CountingCleaner extends LogCleaner {
  runs = 0;

  override run(job: CleanerJob): CleanerTask {
    this.runs += 1;
    return super.run(job);
  }
}

describe('the retention timer', () => {
  it('starts no second round of compaction while one runs', async () => {
    const logs = [bigLog(path.join(root, 'a')).log, bigLog(path.join(root, 'b')).log];
    const counting = new CountingCleaner();
    const timer = new RetentionTimer(() => logs, 60_000, (error) => { throw error; }, counting);
    timer.runOnce();
    const round = timer.compacting;
    expect(round).toBeDefined();
    timer.runOnce();
    timer.runOnce();
    expect(timer.compacting).toBe(round);
    await round;
    expect(counting.runs).toBe(2);
    expect(timer.compacting).toBeUndefined();
    timer.stop();
    for (const log of logs) log.close();
  });
});
