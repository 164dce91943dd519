/**
 * Recovery of the timer log in process, on real logs: a crash between a round's appends to the
 * target and its fired marker (simulated by appending the fired copies by hand and never
 * marking them) must not fire those records again; the others fire once, in due order.
 * Recovering again later finds nothing left to fire.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DelayedDelivery } from '../../../../broker/delayed/delayed-delivery.js';
import { delayedFrom, delayedFromHeader } from '../../../../broker/delayed/delayed-topic.js';
import { splitDelayed } from '../../../../broker/delayed/split-batch.js';
import { TopicManager } from '../../../../broker/topics/topic-manager.js';
import { buildRecordBatch, decodeRecords, readBatchHeader } from '../../../../proto/record-batch/record-batch.js';
import { replayChunk } from '../../../../broker/storage/log-replay.js';
import { waitFor } from '../../../helpers/broker-process.js';

const logger = pino({ level: 'silent' });
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function open(directory: string): TopicManager {
  const topics = new TopicManager(directory, {}, (error) => { throw error; });
  topics.open();
  return topics;
}

function values(topics: TopicManager): string[] {
  const log = topics.partition('t', 0).log;
  const found: string[] = [];
  for (let offset = log.logStartOffset; offset < log.logEndOffset;) {
    offset = replayChunk(log, offset, (batch) => {
      for (const record of decodeRecords(batch)) found.push(`${record.value!.toString()}@${record.headers.find((h) => h.key === delayedFromHeader)?.value}`);
    });
  }
  return found;
}

describe('timer log recovery', () => {
  it('does not fire again what reached the target before the crash, fires the rest once', async () => {
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-delayed-'));
    cleanups.push(() => fs.rmSync(directory, { recursive: true, force: true }));
    let topics = open(directory);
    topics.create('t', 1, { 'delayed.delivery.enable': 'true' });
    const first = new DelayedDelivery(topics, logger, { windowMs: 60_000, refillEveryMs: 60_000 });
    first.start();
    // Already due: the first broker would fire them at once (its timer never runs: it is closed first).
    const due = Date.now() - 1000;
    const batch = buildRecordBatch(Array.from({ length: 10 }, (_, index) => ({
      key: null, value: Buffer.from(`v${index}`), headers: [{ key: 'x-deliver-at', value: Buffer.from(String(due + index)) }],
    })));
    const split = splitDelayed(batch, readBatchHeader(batch), Date.now(), { topic: 't', partition: 0, logEndOffset: 0, maxMs: 86_400_000 })!;
    await first.hold('t', 0, split);
    // The crash: records 0–3 reached the target, no marker was written, the broker died.
    first.close();
    const target = topics.partition('t', 0);
    target.log.append(buildRecordBatch([0, 1, 2, 3].map((offset) => ({
      key: null, value: Buffer.from(`v${offset}`), headers: [{ key: delayedFromHeader, value: Buffer.from(delayedFrom(0, offset)) }],
    }))));
    topics.close();
    topics = open(directory);
    cleanups.push(() => topics.close());
    const second = new DelayedDelivery(topics, logger, { windowMs: 60_000, refillEveryMs: 60_000 });
    cleanups.unshift(() => second.close());
    second.start();
    expect(second.backlog().inMemory).toBe(6);
    await waitFor('the rest to fire', () => second.stats.fired === 6, 5000);
    expect(values(topics)).toEqual(Array.from({ length: 10 }, (_, index) => `v${index}@0:${index}`));
    expect(second.stats.early).toBe(0);
    // A second crash after more rounds: what the first recovery found in the target was marked then.
    second.close();
    const third = new DelayedDelivery(topics, logger, { windowMs: 60_000, refillEveryMs: 60_000 });
    third.start();
    third.close();
    expect(third.backlog().inMemory).toBe(0);
  });
});
