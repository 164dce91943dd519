/**
 * Behaviour 25 after a failover, through the client: etcd and three brokers, a topic of 3
 * partitions with 3 replicas; 3 share consumers accept 20k records and the broker that
 * coordinates their group (it keeps the share state, and leads partitions) is SIGKILLed once
 * a third are accepted. The consumers follow the new coordinator; no record whose accept was
 * answered is delivered again, every other one is delivered again or dead-lettered (or its
 * accept was in flight at the kill), delivery counts survive the move.
 */
import { afterAll, expect, it } from 'vitest';
import { Sluice } from '../../client/sluice.js';
import { waitFor } from '../helpers/broker-process.js';
import { waitForFullIsr } from '../helpers/cluster-checks.js';
import { cleanupCluster, startCluster } from '../helpers/cluster.js';
import { consumeThroughCrash } from '../helpers/share-crash.js';

const records = 20_000;
const groupId = 'failover-workers';
const quiet = { warn: () => {}, error: () => {}, info: () => {}, debug: () => {} } as never;
let sluice: Sluice | undefined;

afterAll(async () => {
  await sluice?.close();
  await cleanupCluster();
});

it(`the share group's coordinator is killed in a 3-broker cluster while 3 consumers accept ${records} records: nothing answered comes again, counts survive`, async () => {
  const cluster = await startCluster({ brokers: 3, args: ['--offsets-topic-num-partitions', '3'] });
  sluice = new Sluice({ bootstrap: cluster.bootstrap, requestTimeoutMs: 5000, logger: quiet });
  const admin = sluice.admin();
  await admin.createTopic('failover-jobs', { partitions: 3, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } });
  await waitForFullIsr(admin, 'failover-jobs');
  await waitFor('a coordinator for the group', async () => admin.findCoordinator(groupId).then(() => true, () => false), 20_000);
  await admin.alterGroupConfigs(groupId, { 'share.auto.offset.reset': 'earliest', 'share.record.lock.duration.ms': '2000', 'share.dlq.topic': 'failover-dlq' });
  const producer = sluice.producer({ acks: 'all', lingerMs: 5 });
  await producer.send({ topic: 'failover-jobs', messages: Array.from({ length: records }, (_, index) => ({ value: `job-${index}` })) });
  await producer.close();

  let killed = -1;
  const run = await consumeThroughCrash(sluice, {
    groupId, topic: 'failover-jobs', records, members: 3, timeoutMs: 60_000,
    crash: async () => {
      killed = (await admin.findCoordinator(groupId)).nodeId;
      await cluster.kill(killed);
      await waitFor('a new coordinator', async () => (await admin.findCoordinator(groupId).catch(() => ({ nodeId: killed }))).nodeId !== killed, 20_000);
    },
  });
  const { tracker, description } = run;
  expect(killed).toBeGreaterThan(0);
  expect(tracker.deliveredAfterAccept).toEqual([]);
  // Records in flight at the crash come again: their counts must go on from where they were.
  expect([...tracker.deliveries.values()].filter((list) => list.length > 1).length).toBeGreaterThan(0);
  expect(tracker.countsNotRising()).toEqual([]);
  expect(tracker.overlaps()).toEqual([]);
  expect(tracker.acceptedTwice()).toEqual([]);
  const deadLettered = description.partitions.reduce((sum, entry) => sum + entry.deadLettered, 0);
  expect(tracker.deliveries.size).toBe(records);
  const unaccounted = [...tracker.deliveries.keys()].filter((key) => !tracker.accepted.has(key) && !tracker.uncertain.has(key));
  expect(unaccounted.length).toBeLessThanOrEqual(deadLettered);
}, 120_000);
