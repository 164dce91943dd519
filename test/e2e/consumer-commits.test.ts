/**
 * A consumer commits only what it handed out: a member that reads one record with for-await
 * and breaks, or polls N, then closes, leaves the group's offset right after the last record
 * it gave the application, so the next member starts there. A seek during iteration is
 * obeyed at once: no record fetched for the old position is yielded after it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Consumer, ConsumerRecord } from '../../client/consumer.js';
import { Sluice } from '../../client/sluice.js';
import { type BrokerProcess, cleanupBrokers, startBroker } from '../helpers/broker-process.js';

let broker: BrokerProcess;
let sluice: Sluice;

beforeAll(async () => {
  broker = await startBroker({ args: ['--group-initial-rebalance-delay-ms', '100'] });
  sluice = new Sluice({ bootstrap: broker.bootstrap });
});

afterAll(async () => {
  await sluice.close();
  await cleanupBrokers();
});

async function topicOfTen(name: string): Promise<void> {
  await sluice.admin().createTopic(name, { partitions: 1 });
  await sluice.producer().send({ topic: name, messages: Array.from({ length: 10 }, (_, index) => ({ value: `${name}-${index}` })) });
}

function member(group: string, topic: string, options: { maxPollRecords?: number } = {}): Consumer {
  const consumer = sluice.consumer({ groupId: group, autoOffsetReset: 'earliest', sessionTimeoutMs: 3000, heartbeatIntervalMs: 200, ...options });
  consumer.subscribe([topic]);
  return consumer;
}

/** The first records a consumer hands out, polling until some arrive (bounded). */
async function firstPoll(consumer: Consumer): Promise<ConsumerRecord[]> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const records = await consumer.poll({ timeoutMs: 500 });
    if (records.length > 0) return records;
  }
  throw new Error('no records within 15 s');
}

describe('consumer commits', () => {
  it('commits only the record yielded before break: the next member starts at offset 1', async () => {
    await topicOfTen('iterated');
    const first = member('iterating', 'iterated');
    const yielded: number[] = [];
    for await (const record of first) {
      yielded.push(record.offset);
      break;
    }
    expect(yielded).toEqual([0]);
    await first.close();
    expect((await sluice.admin().describeGroup('iterating')).partitions).toMatchObject([{ partition: 0, committedOffset: 1 }]);
    const next = member('iterating', 'iterated');
    expect((await firstPoll(next))[0]!.offset).toBe(1);
    await next.close();
  });

  it('commits what poll() returned: the next member starts at N', async () => {
    await topicOfTen('polled');
    const first = member('polling', 'polled', { maxPollRecords: 3 });
    const records = await firstPoll(first);
    expect(records.map((record) => record.offset)).toEqual([0, 1, 2]);
    await first.close();
    const next = member('polling', 'polled');
    expect((await firstPoll(next))[0]!.offset).toBe(3);
    await next.close();
  });

  it('never yields a record buffered for a position that a seek replaced', async () => {
    await topicOfTen('sought');
    const consumer = sluice.consumer({ autoOffsetReset: 'earliest' });
    consumer.assign([{ topic: 'sought', partition: 0, offset: 0 }]);
    const yielded: number[] = [];
    for await (const record of consumer) {
      yielded.push(record.offset);
      if (yielded.length === 1) await consumer.seek('sought', 0, 7);
      if (record.offset === 9) break;
    }
    expect(yielded).toEqual([0, 7, 8, 9]);
    expect(consumer.position('sought', 0)).toBe(10);
    await consumer.close();
  });
});
