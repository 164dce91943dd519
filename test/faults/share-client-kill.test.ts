/**
 * Behaviour 25 through the client: the broker is SIGKILLed while 3 share consumers accept 20k
 * records over 3 partitions, and started again on its port and data. No record whose accept
 * was answered is delivered again; every other record is delivered again or dead-lettered
 * (or its accept was in flight at the crash); delivery counts survive (each delivery of a
 * record counts higher than the one before); no two members held a record at once.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { Sluice } from '../../client/sluice.js';
import { cleanupBrokers, startBroker } from '../helpers/broker-process.js';
import { consumeThroughCrash } from '../helpers/share-crash.js';

const records = 20_000;
const quiet = { warn: () => {}, error: () => {}, info: () => {}, debug: () => {} } as never;
let sluice: Sluice | undefined;

afterAll(async () => {
  await sluice?.close();
  await cleanupBrokers();
});

it(`broker SIGKILL with 3 share consumers and ${records} records: nothing answered is redelivered, the rest is redelivered or dead-lettered, counts survive`, async () => {
  const dataDirectory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-share-kill-'));
  let broker = await startBroker({ kafkaPort: 'off', dataDirectory });
  sluice = new Sluice({ bootstrap: broker.bootstrap, requestTimeoutMs: 5000, connectTimeoutMs: 10_000, logger: quiet });
  await sluice.admin().createTopic('kill-jobs', { partitions: 3 });
  await sluice.admin().alterGroupConfigs('killed', { 'share.auto.offset.reset': 'earliest', 'share.record.lock.duration.ms': '2000', 'share.dlq.topic': 'kill-dlq' });
  const producer = sluice.producer({ lingerMs: 5 });
  await producer.send({ topic: 'kill-jobs', messages: Array.from({ length: records }, (_, index) => ({ key: `k${index}`, value: `job-${index}` })) });
  await producer.close();

  const run = await consumeThroughCrash(sluice, {
    groupId: 'killed', topic: 'kill-jobs', records, members: 3, timeoutMs: 50_000,
    crash: async () => {
      const port = broker.port;
      await broker.stop('SIGKILL');
      broker = await startBroker({ kafkaPort: 'off', dataDirectory, port });
    },
  });
  const { tracker, description } = run;
  expect(run.crashedAfter).toBeGreaterThan(0);
  expect(tracker.deliveredAfterAccept).toEqual([]);
  // Records in flight at the crash come again: their counts must go on from where they were.
  expect([...tracker.deliveries.values()].filter((list) => list.length > 1).length).toBeGreaterThan(0);
  expect(tracker.countsNotRising()).toEqual([]);
  expect(tracker.overlaps()).toEqual([]);
  const deadLettered = description.partitions.reduce((sum, entry) => sum + entry.deadLettered, 0);
  const delivered = new Set(tracker.deliveries.keys());
  // Every record was handed out, and the coordinator finished each: accepted (answered, or in flight at the crash) or dead-lettered.
  expect(delivered.size).toBe(records);
  const unaccounted = [...delivered].filter((key) => !tracker.accepted.has(key) && !tracker.uncertain.has(key));
  expect(unaccounted.length).toBeLessThanOrEqual(deadLettered);
  expect(tracker.acceptedTwice()).toEqual([]);
}, 90_000);
