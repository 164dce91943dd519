/**
 * ClusterMetadata against a real etcd: registration and epochs, topics made by the controller
 * only, and AlterPartition as one compare-and-swap with Kafka's rules.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { IsrProposal, PartitionState } from '../../broker/cluster/partition-state.js';
import { waitFor } from '../helpers/broker-process.js';
import { cleanupEtcd, cleanupEtcdLinks, type EtcdCluster, startTestEtcd } from '../helpers/etcd.js';
import { closeTestBrokers, newClusterName, percentile, startTestBroker, type TestBroker, waitForState } from './cluster-metadata-harness.js';

let etcd: EtcdCluster;

beforeAll(async () => {
  etcd = await startTestEtcd();
});
afterEach(async () => {
  await closeTestBrokers();
  await cleanupEtcdLinks();
});
afterAll(cleanupEtcd);

async function threeBrokers(): Promise<TestBroker[]> {
  const cluster = newClusterName();
  const brokers: TestBroker[] = [];
  for (const id of [1, 2, 3]) brokers.push(await startTestBroker(etcd, cluster, id));
  await waitFor('all brokers see each other and broker 1 as controller', () => brokers.every((b) => b.metadata.brokers.size === 3 && b.metadata.controllerId === 1) && brokers[0]!.metadata.isController);
  return brokers;
}

function proposal(state: PartitionState, isr: number[], brokers: TestBroker[]): IsrProposal {
  const brokerEpochs: Record<number, number> = {};
  for (const id of isr) brokerEpochs[id] = brokers.find((b) => b.nodeId === id)!.metadata.brokerEpoch;
  return { topic: state.topic, partition: state.partition, leaderId: state.leader, leaderEpoch: state.leaderEpoch, partitionEpoch: state.partitionEpoch, isr, brokerEpochs };
}

describe('cluster metadata', () => {
  it('registers brokers on leases with their registration revision as epoch, and elects the first as controller', async () => {
    const brokers = await threeBrokers();
    const epochs = brokers.map((b) => b.metadata.brokerEpoch);
    expect(epochs[0]).toBeGreaterThan(0);
    expect(epochs[1]).toBeGreaterThan(epochs[0]!);
    expect(epochs[2]).toBeGreaterThan(epochs[1]!);
    for (const b of brokers) {
      expect([...b.metadata.brokers.values()].map((r) => [r.nodeId, r.brokerEpoch, r.port, r.rack])).toEqual(
        expect.arrayContaining([[1, epochs[0], 9001, 'r1'], [2, epochs[1], 9002, 'r2'], [3, epochs[2], 9003, 'r3']]));
      expect(b.metadata.controllerEpoch).toBeGreaterThan(0);
    }
    expect(brokers.filter((b) => b.metadata.isController).map((b) => b.nodeId)).toEqual([1]);
    const described = brokers[2]!.metadata.describeCluster();
    expect(described.controllerId).toBe(1);
    expect(described.brokers.map((b) => [b.nodeId, b.alive, b.brokerEpoch, b.shuttingDown])).toEqual([[1, true, epochs[0], false], [2, true, epochs[1], false], [3, true, epochs[2], false]]);
  });

  it('creates topics on the controller only, placed as Kafka places them, and deletes them', async () => {
    const brokers = await threeBrokers();
    const created: string[] = [];
    brokers[2]!.metadata.on('topicCreated', (topic) => created.push(topic.name));
    await expect(brokers[1]!.metadata.createTopic({ name: 'x', partitions: 1 })).rejects.toMatchObject({ code: 'SLUICE_ERR_NOT_CONTROLLER' });
    await expect(brokers[0]!.metadata.createTopic({ name: 'x', partitions: 1, replicationFactor: 4 })).rejects.toMatchObject({ code: 'SLUICE_ERR_INVALID_REPLICATION_FACTOR' });
    await expect(brokers[0]!.metadata.createTopic({ name: 'bad/name', partitions: 1 })).rejects.toMatchObject({ code: 'SLUICE_ERR_INVALID_TOPIC' });
    const topic = await brokers[0]!.metadata.createTopic({ name: 'orders', partitions: 6, replicationFactor: 3, placement: { startIndex: 0, replicaShift: 0 }, configs: { 'retention.ms': '1000' } });
    expect(topic.configs).toEqual({ 'min.insync.replicas': '1', 'retention.ms': '1000' });
    await expect(brokers[0]!.metadata.createTopic({ name: 'orders', partitions: 1 })).rejects.toMatchObject({ code: 'SLUICE_ERR_TOPIC_ALREADY_EXISTS' });
    await waitForState(brokers, 'orders', 5, 'all partition states', () => true);
    for (const b of brokers) {
      expect(b.metadata.partitionStates().filter((s) => s.topic === 'orders').sort((a, c) => a.partition - c.partition).map((s) => [s.leader, ...s.replicas])).toEqual([
        [1, 1, 2, 3], [2, 2, 3, 1], [3, 3, 1, 2], [1, 1, 3, 2], [2, 2, 1, 3], [3, 3, 2, 1],
      ]);
      expect(b.metadata.partitionState('orders', 0)).toMatchObject({ isr: [1, 2, 3], leaderEpoch: 0, partitionEpoch: 0, leaderRecoveryState: 'recovered' });
    }
    expect(created).toEqual(['orders']);
    expect(brokers[1]!.metadata.describeCluster().brokers.map((b) => b.leaderCount)).toEqual([2, 2, 2]);

    const deleted: string[] = [];
    brokers[1]!.metadata.on('partitionDeleted', (t, p) => deleted.push(`${t}-${p}`));
    await brokers[0]!.metadata.deleteTopic('orders');
    await expect(brokers[0]!.metadata.deleteTopic('orders')).rejects.toMatchObject({ code: 'SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION' });
    await waitFor('topic gone everywhere', () => brokers.every((b) => b.metadata.topic('orders') === undefined && b.metadata.partitionStates().length === 0));
    expect(deleted.sort()).toEqual(['orders-0', 'orders-1', 'orders-2', 'orders-3', 'orders-4', 'orders-5']);
  });

  it('applies AlterPartition as one compare-and-swap with Kafka\'s rules; of two concurrent proposals one wins', async () => {
    const brokers = await threeBrokers();
    await brokers[0]!.metadata.createTopic({ name: 't', partitions: 1, replicationFactor: 3, placement: { startIndex: 0, replicaShift: 0 } });
    const initial = await waitForState(brokers, 't', 0, 'partition state', () => true);
    const leader = brokers[0]!.metadata;
    const seen: number[] = [];
    brokers[2]!.metadata.on('partitionState', (s) => {
      if (s.topic === 't' && s.partition === 0) seen.push(s.partitionEpoch);
    });

    const shrink = await leader.alterPartition(proposal(initial, [1, 2], brokers));
    expect(shrink).toEqual({ kind: 'committed', state: { ...initial, isr: [1, 2], partitionEpoch: 1 } });
    await waitForState(brokers, 't', 0, 'the shrink everywhere', (s) => s.partitionEpoch === 1);

    expect(await leader.alterPartition(proposal(initial, [1], brokers))).toMatchObject({ kind: 'stale', code: 'SLUICE_ERR_INVALID_UPDATE_VERSION' });
    expect(await leader.alterPartition({ ...proposal(initial, [1], brokers), leaderEpoch: -1 })).toMatchObject({ kind: 'stale', code: 'SLUICE_ERR_FENCED_LEADER_EPOCH' });
    const current = leader.partitionState('t', 0)!;
    expect(await leader.alterPartition({ ...proposal(current, [1], brokers), leaderId: 2 })).toMatchObject({ kind: 'rejected', code: 'SLUICE_ERR_INVALID_REQUEST' });
    expect(await leader.alterPartition(proposal(current, [2, 3], brokers))).toMatchObject({ kind: 'rejected', code: 'SLUICE_ERR_INVALID_REQUEST' });
    expect(await leader.alterPartition({ ...proposal(current, [1, 2, 3], brokers), brokerEpochs: { 3: 1 } })).toMatchObject({ kind: 'rejected', code: 'SLUICE_ERR_INELIGIBLE_REPLICA' });
    expect(await leader.alterPartition({ ...current, leaderId: 1, isr: [1], brokerEpochs: {}, partition: 9 })).toMatchObject({ kind: 'stale', code: 'SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION' });

    const [a, b] = await Promise.all([
      leader.alterPartition(proposal(current, [1], brokers)),
      brokers[1]!.metadata.alterPartition(proposal(current, [1, 2, 3], brokers)),
    ]);
    expect([a.kind, b.kind].sort()).toEqual(['committed', 'stale']);
    const winner = a.kind === 'committed' ? a.state : b.kind === 'committed' ? b.state : undefined;
    await waitForState(brokers, 't', 0, 'the winner everywhere', (s) => s.partitionEpoch === 2 && s.isr.length === winner!.isr.length);

    // Latency of one ISR change (fresh read of the state and registrations, then the CAS).
    const times: number[] = [];
    let state = leader.partitionState('t', 0)!;
    for (let i = 0; i < 100; i += 1) {
      const started = performance.now();
      const outcome = await leader.alterPartition(proposal(state, i % 2 === 0 ? [1, 2] : [1, 2, 3], brokers));
      times.push(performance.now() - started);
      if (outcome.kind !== 'committed') throw new Error(`ISR change ${i} not committed: ${JSON.stringify(outcome)}`);
      state = outcome.state;
    }
    process.stdout.write(`AlterPartition (validated on the watched copy, one CAS) on single-node etcd through a TCP relay: p50 ${percentile(times, 50).toFixed(2)} ms, p99 ${percentile(times, 99).toFixed(2)} ms over ${times.length}\n`);
    await waitForState(brokers, 't', 0, 'the last change everywhere', (s) => s.partitionEpoch === state.partitionEpoch);
    // Every change reached the watching broker, once each and in order.
    expect(seen).toEqual(Array.from({ length: state.partitionEpoch }, (_, i) => i + 1));
  });
});
