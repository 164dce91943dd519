/**
 * Recovery of the timer log in process, on real logs: a crash between a round's appends to the
 * target and its fired marker (simulated by appending the fired copies by hand and never
 * marking them) must not fire those records again; the others fire once, in due order.
 * Recovering again later finds nothing left to fire. The fired checkpoint moves the timer
 * log's start up to the lowest offset still pending, and no further.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DelayedDelivery } from '../../../../broker/delayed/delayed-delivery.js';
import { delayedFrom, delayedFromHeader } from '../../../../broker/delayed/delayed-topic.js';
import { type SplitBatch, splitDelayed } from '../../../../broker/delayed/split-batch.js';
import type { TimerSettings } from '../../../../broker/delayed/timer-settings.js';
import { LocalTimerIo } from '../../../../broker/delayed/timer-io.js';
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

/** A produced batch for topic t-0 whose records are due at `dues`, split as produce does. */
function held(dues: number[], padding = 0): SplitBatch {
  const batch = buildRecordBatch(dues.map((due, index) => ({
    key: null, value: Buffer.from(`v${index}${' '.repeat(padding)}`), headers: [{ key: 'x-deliver-at', value: Buffer.from(String(due)) }],
  })));
  return splitDelayed(batch, readBatchHeader(batch), Date.now(), { topic: 't', partition: 0, logEndOffset: 0, maxMs: 86_400_000 })!;
}

function tempTopics(): TopicManager {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-delayed-'));
  cleanups.push(() => fs.rmSync(directory, { recursive: true, force: true }));
  const topics = open(directory);
  topics.create('t', 1, { 'delayed.delivery.enable': 'true' });
  return topics;
}

/** Topic t and a started DelayedDelivery over it, both closed after the test. */
async function started(settings: TimerSettings): Promise<{ topics: TopicManager; delayed: DelayedDelivery }> {
  const topics = tempTopics();
  cleanups.push(() => topics.close());
  const delayed = new DelayedDelivery({ topics, io: new LocalTimerIo(topics), logger, settings });
  cleanups.unshift(() => delayed.close());
  await delayed.start();
  return { topics, delayed };
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
    let topics = tempTopics();
    const directory = path.dirname(topics.partition('t', 0).log.directory);
    const first = new DelayedDelivery({ topics, io: new LocalTimerIo(topics), logger, settings: { windowMs: 60_000, refillEveryMs: 60_000 } });
    await first.start();
    // Already due: the first broker would fire them at once (its timer never runs: it is closed first).
    const due = Date.now() - 1000;
    const split = held(Array.from({ length: 10 }, (_, index) => due + index));
    await first.hold('t', 0, split).done;
    // The crash: records 0–3 reached the target, no marker was written, the broker died.
    first.close();
    const target = topics.partition('t', 0);
    target.log.append(buildRecordBatch([0, 1, 2, 3].map((offset) => ({
      key: null, value: Buffer.from(`v${offset}`), headers: [{ key: delayedFromHeader, value: Buffer.from(delayedFrom(0, offset)) }],
    }))));
    topics.close();
    topics = open(directory);
    cleanups.push(() => topics.close());
    const second = new DelayedDelivery({ topics, io: new LocalTimerIo(topics), logger, settings: { windowMs: 60_000, refillEveryMs: 60_000 } });
    cleanups.unshift(() => second.close());
    await second.start();
    expect(second.backlog().inMemory).toBe(6);
    await waitFor('the rest to fire', () => second.stats.fired === 6, 5000);
    expect(values(topics)).toEqual(Array.from({ length: 10 }, (_, index) => `v${index}@0:${index}`));
    expect(second.stats.early).toBe(0);
    // A second crash after more rounds: what the first recovery found in the target was marked then.
    second.close();
    const third = new DelayedDelivery({ topics, io: new LocalTimerIo(topics), logger, settings: { windowMs: 60_000, refillEveryMs: 60_000 } });
    await third.start();
    third.close();
    expect(third.backlog().inMemory).toBe(0);
  });

  it('moves the timer log start to the lowest pending offset once records fired', async () => {
    const { topics, delayed } = await started({ windowMs: 400, refillEveryMs: 50 });
    const now = Date.now();
    // Offsets 0–4 due at once, 5 due after the window (on disk), 6 due at once.
    await delayed.hold('t', 0, held([now, now, now, now, now, now + 10_000])).done;
    await delayed.hold('t', 0, held([now])).done;
    expect(delayed.backlog().onDisk).toBe(1);
    const timerLog = topics.partition('__delayed_records', 0).log;
    await waitFor('the checkpoint to move', () => timerLog.logStartOffset === 5, 3000);
    expect(delayed.stats.fired).toBe(6);
    expect(delayed.backlog()).toMatchObject({ inMemory: 0, onDisk: 1 });
  });

  it('indexes each record once when records are held while a refill scans the log', async () => {
    const { delayed } = await started({ windowMs: 400, refillEveryMs: 20 });
    // 12 MiB of records due in an hour: each refill scans it in several chunks, yielding between them.
    for (let batch = 0; batch < 40; batch += 1) await delayed.hold('t', 0, held(Array.from({ length: 1000 }, () => Date.now() + 3_600_000), 300)).done;
    let sent = 0;
    let lastDue = 0;
    const until = Date.now() + 1500;
    while (Date.now() < until) {
      lastDue = Date.now() + 300 + Math.floor(Math.random() * 300);
      await delayed.hold('t', 0, held([lastDue])).done;
      sent += 1;
      await new Promise((resolve) => setImmediate(resolve));
    }
    // A round's records leave the index before their append is counted: wait for the count.
    await waitFor('every record due to fire', () => Date.now() > lastDue && delayed.stats.fired >= sent, 5000);
    expect(delayed.stats.fired).toBe(sent);
    expect(delayed.backlog().inMemory).toBe(0);
    expect(delayed.backlog().onDisk).toBe(40_000);
  });

  it('fires records whose append failed after it landed (the answer was lost) once: the target is read before they fire again', async () => {
    const topics = tempTopics();
    cleanups.push(() => topics.close());
    let failures = 0;
    // The first append lands in the target, then fails as a lost answer from a dying leader would.
    class LosesFirstAnswer extends LocalTimerIo {
      override async appendToTarget(topic: string, partition: number, batch: Buffer, appendTime: number): Promise<number | undefined> {
        const end = await super.appendToTarget(topic, partition, batch, appendTime);
        if (failures === 0) {
          failures += 1;
          throw new Error('connection closed before the answer');
        }
        return end;
      }
    }
    const delayed = new DelayedDelivery({ topics, io: new LosesFirstAnswer(topics), logger, settings: { windowMs: 60_000, refillEveryMs: 60_000 } });
    cleanups.unshift(() => delayed.close());
    await delayed.start();
    const now = Date.now();
    await delayed.hold('t', 0, held([now, now, now])).done;
    await delayed.hold('t', 0, held([now + 300])).done;
    await waitFor('the later record to fire', () => values(topics).length >= 4 && delayed.backlog().inMemory === 0, 5000);
    expect(failures).toBe(1);
    expect(values(topics)).toEqual(['v0@0:0', 'v1@0:1', 'v2@0:2', 'v0@0:3']);
  });
});
