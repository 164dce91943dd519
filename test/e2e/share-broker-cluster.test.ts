/**
 * Share-group coordinator failover in a 3-broker cluster (etcd, real processes): the coordinator
 * of a share group (the leader of its `__consumer_offsets` partition) is SIGKILLed while a member
 * holds records. The new coordinator loads the replicated share state: no record whose ACCEPT
 * was answered is delivered again, records held or released at the kill come back with higher
 * delivery counts, poison records rejected under either coordinator are in the DLQ exactly once,
 * and the group ends with every other record acknowledged. The topic's partitions
 * are led by different brokers, so the coordinator reads some from their leaders over the
 * broker link.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { BrokerConnection } from '../../client/connection.js';
import { Sluice } from '../../client/sluice.js';
import { Api } from '../../proto/messages.js';
import { waitFor } from '../helpers/broker-process.js';
import { leaders, waitForFullIsr } from '../helpers/cluster-checks.js';
import { closeProbes, consumerFetch, produceTo } from '../helpers/cluster-probes.js';
import { cleanupCluster, startCluster, type TestCluster } from '../helpers/cluster.js';
import { accept, reject, release, type ShareRecord, ShareWire } from '../helpers/share-wire.js';

afterAll(async () => {
  closeProbes();
  await cleanupCluster();
});

const quiet = { warn: () => {}, error: () => {}, info: () => {}, debug: () => {} } as never;
const topic = 'jobs';
const group = 'workers';
const partitions = 3;
const perPartition = 200;
/** Rejected whenever delivered: dead-lettered to the DLQ, some by each coordinator. */
const poison = (record: ShareRecord) => record.offset % 50 === 5;
const poisonCount = partitions * (perPartition / 50);

/** The group's coordinator as a live broker answers FindCoordinator. */
async function coordinatorOf(cluster: TestCluster, exclude: number): Promise<{ nodeId: number; port: number }> {
  let found: { nodeId: number; port: number } | undefined;
  await waitFor('a share coordinator', async () => {
    for (const broker of cluster.brokers) {
      if (broker.process === undefined || broker.nodeId === exclude) continue;
      const connection = new BrokerConnection({ host: '127.0.0.1', port: broker.port, clientId: 'find', connectTimeoutMs: 1000 });
      try {
        const answer = await connection.request<'findCoordinator'>(Api.FIND_COORDINATOR, { key: group, keyType: 0 }, { timeoutMs: 2000 });
        if ((answer.errorCode ?? 0) === 0 && answer.nodeId !== exclude) found = { nodeId: answer.nodeId, port: answer.port };
      } catch {
        // Not answering yet: ask another.
      } finally {
        connection.close();
      }
      if (found !== undefined) return true;
    }
    return false;
  }, 20_000);
  return found!;
}

describe('share coordinator failover', () => {
  it('the new coordinator redelivers only what was not accepted, with counts that survived', async () => {
    const cluster = await startCluster({ brokers: 3, args: ['--offsets-topic-num-partitions', '3'] });
    const sluice = new Sluice({ bootstrap: cluster.bootstrap, logger: quiet });
    const admin = sluice.admin();
    await admin.createTopic(topic, { partitions, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } });
    await waitForFullIsr(admin, topic);
    const leaderOf = await leaders(admin, topic);
    for (let partition = 0; partition < partitions; partition += 1) {
      const leader = cluster.broker(leaderOf.get(partition)!);
      const answer = await produceTo(leader, topic, partition, Array.from({ length: perPartition }, (_, index) => `p${partition}-${index}`), -1, 10_000);
      expect(answer.errorCode, answer.errorMessage).toBe(0);
    }
    const first = await coordinatorOf(cluster, -1);
    let client = new ShareWire(first.port);
    expect((await client.alterConfigs(group, { 'share.auto.offset.reset': 'earliest', 'share.dlq.topic': 'jobs-dlq' })).errorCode).toBe(0);
    let member = await client.join(group, [topic]);
    const accepted = new Set<string>();
    const countsBefore = new Map<string, number>();
    const key = (record: { partition: number; offset: number }) => `${record.partition}:${record.offset}`;
    // Accept about half, release a few, and hold the rest (30 s locks) when the coordinator dies.
    for (let round = 0; round < 20 && countsBefore.size < (partitions * perPartition) / 2; round += 1) {
      const { records } = await client.fetch(group, member, { maxRecords: 100, lockMs: 30_000, maxWaitMs: 500 });
      const acks = records.map((record) => (poison(record) ? reject(record) : record.offset % 10 === 0 && record.deliveryCount === 1 ? release(record) : accept(record)));
      for (const record of records) countsBefore.set(key(record), record.deliveryCount);
      const results = await client.ack(group, member, acks.slice(0, Math.ceil(acks.length / 2)));
      results.forEach((result, index) => {
        if (result.errorCode === 0 && acks[index]!.type === 1) accepted.add(key(records[index]!));
      });
    }
    expect(accepted.size).toBeGreaterThan(0);
    client.close();
    await cluster.kill(first.nodeId);

    const second = await coordinatorOf(cluster, first.nodeId);
    client = new ShareWire(second.port);
    await waitFor('the new coordinator to take the member', async () => {
      try {
        member = await client.join(group, [topic]);
        return true;
      } catch {
        return false;
      }
    }, 20_000);
    const countsAfter = new Map<string, number>();
    const deadline = Date.now() + 25_000;
    while (accepted.size < partitions * perPartition - poisonCount && Date.now() < deadline) {
      let records: Awaited<ReturnType<ShareWire['fetch']>>['records'];
      try {
        ({ records } = await client.fetch(group, member, { maxRecords: 200, maxWaitMs: 500 }));
      } catch {
        // A data partition led by the killed broker may still be electing its leader.
        continue;
      }
      for (const record of records) {
        expect(accepted.has(key(record)), `accepted ${key(record)} delivered again`).toBe(false);
        countsAfter.set(key(record), Math.max(countsAfter.get(key(record)) ?? 0, record.deliveryCount));
      }
      const acks = records.map((record) => (poison(record) ? reject(record) : accept(record)));
      const results = await client.ack(group, member, acks);
      results.forEach((result, index) => {
        if (result.errorCode === 0 && acks[index]!.type === 1) accepted.add(key(records[index]!));
      });
    }
    expect(accepted.size).toBe(partitions * perPartition - poisonCount);
    let redelivered = 0;
    for (const [record, count] of countsBefore) {
      if (countsAfter.has(record)) {
        redelivered += 1;
        expect(countsAfter.get(record)!, record).toBeGreaterThan(count);
      }
    }
    expect(redelivered).toBeGreaterThan(0);
    let described = await client.describe(group);
    await waitFor('every poison record dead-lettered', async () => {
      described = await client.describe(group);
      return described.partitions.reduce((sum, partition) => sum + Number(partition.deadLettered), 0) === poisonCount;
    }, 15_000);
    const perPartitionAcked = perPartition - poisonCount / partitions;
    expect(described.partitions.map((partition) => Number(partition.acknowledged))).toEqual([perPartitionAcked, perPartitionAcked, perPartitionAcked]);
    // Each poison record is in the DLQ exactly once, whichever coordinator wrote it.
    const dlqLeaders = await leaders(admin, 'jobs-dlq');
    const dead: string[] = [];
    for (const [partition, leader] of dlqLeaders) {
      const { records } = await consumerFetch(cluster.broker(leader), 'jobs-dlq', partition, 0);
      dead.push(...records.map((record) => record.value));
    }
    expect(dead.sort()).toEqual(Array.from({ length: partitions }, (_, partition) => Array.from({ length: perPartition / 50 }, (_, index) => `p${partition}-${index * 50 + 5}`)).flat().sort());
    client.close();
    await sluice.close();
  }, 90_000);
});
