/**
 * etcd away: brokers keep the last known metadata and answer from it, calls that need etcd
 * fail fast with METADATA_STORE instead of hanging, and everything resumes once etcd is back.
 * A 3-member etcd with one member down keeps working.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { freePort } from '../../bench/etcd-process.js';
import { ClusterMetadata } from '../../broker/cluster/cluster-metadata.js';
import { createEtcdClient } from '../../broker/cluster/etcd-client.js';
import { ClusterKeys } from '../../broker/cluster/keys.js';
import type { AlterPartitionOutcome, IsrProposal, PartitionState } from '../../broker/cluster/partition-state.js';
import { waitFor } from '../helpers/broker-process.js';
import { cleanupEtcd, cleanupEtcdLinks, type EtcdCluster, startTestEtcd } from '../helpers/etcd.js';
import { closeTestBrokers, newClusterName, startTestBroker, type TestBroker, waitForState } from './cluster-metadata-harness.js';

afterEach(async () => {
  await closeTestBrokers();
  await cleanupEtcdLinks();
  await cleanupEtcd();
});

async function twoBrokers(etcd: EtcdCluster): Promise<TestBroker[]> {
  const cluster = newClusterName();
  const brokers = [await startTestBroker(etcd, cluster, 1), await startTestBroker(etcd, cluster, 2)];
  await waitFor('brokers see each other', () => brokers.every((b) => b.metadata.brokers.size === 2) && brokers[0]!.metadata.isController);
  await brokers[0]!.metadata.createTopic({ name: 't', partitions: 2, replicationFactor: 2, placement: { startIndex: 0, replicaShift: 0 } });
  await waitForState(brokers, 't', 1, 'states', () => true);
  return brokers;
}

function isrChange(brokers: TestBroker[], state: PartitionState, isr: number[]): Promise<AlterPartitionOutcome> {
  const brokerEpochs: Record<number, number> = {};
  for (const id of isr) brokerEpochs[id] = brokers.find((b) => b.nodeId === id)!.metadata.brokerEpoch;
  const request: IsrProposal = { topic: state.topic, partition: state.partition, leaderId: state.leader, leaderEpoch: state.leaderEpoch, partitionEpoch: state.partitionEpoch, isr, brokerEpochs };
  return brokers.find((b) => b.nodeId === state.leader)!.metadata.alterPartition(request);
}

/**
 * Retries an ISR change the store could not take (etcd electing a leader) until it commits. An
 * "unavailable" answer is ambiguous: a transaction sent to a hung etcd is applied when it wakes,
 * so a retry from the old state is then stale, and the change is found in the watched state.
 */
async function isrChangeCommitted(brokers: TestBroker[], topic: string, partition: number, isr: number[]): Promise<PartitionState> {
  let committed: PartitionState | undefined;
  await waitFor(`ISR [${isr}] committed`, async () => {
    const current = brokers[0]!.metadata.partitionState(topic, partition)!;
    const outcome = await isrChange(brokers, current, isr);
    if (outcome.kind === 'committed') committed = outcome.state;
    else if (outcome.kind === 'stale') {
      const latest = brokers[0]!.metadata.partitionState(topic, partition)!;
      if (latest.partitionEpoch > current.partitionEpoch && latest.isr.join() === isr.join()) committed = latest;
    } else if (outcome.kind !== 'unavailable') throw new Error(`unexpected outcome ${JSON.stringify(outcome)}`);
    return committed !== undefined;
  }, 15_000);
  await waitForState(brokers, topic, partition, 'the change everywhere', (s) => s.partitionEpoch === committed!.partitionEpoch);
  return committed!;
}

describe('etcd outages', () => {
  it('fails to connect at once with METADATA_STORE when no etcd answers', async () => {
    const started = performance.now();
    await expect(ClusterMetadata.connect({
      endpoints: [`127.0.0.1:${await freePort()}`], clusterName: 'nowhere', self: { nodeId: 1, host: '127.0.0.1', port: 1 },
      sessionTimeoutMs: 2_000, callTimeoutMs: 500, logger: pino({ level: 'silent' }),
    })).rejects.toMatchObject({ code: 'SLUICE_ERR_METADATA_STORE' });
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('keeps the last known state while etcd is stopped, fails fast with METADATA_STORE, and resumes after its restart', async () => {
    const etcd = await startTestEtcd();
    const brokers = await twoBrokers(etcd);
    const [one, two] = brokers as [TestBroker, TestBroker];
    const before = one.metadata.partitionState('t', 0)!;
    const epochs = brokers.map((b) => b.metadata.brokerEpoch);

    await etcd.members[0]!.stop();
    const outageStarted = performance.now();
    let started = performance.now();
    const outcome = await isrChange(brokers, before, [1]);
    const alterMs = performance.now() - started;
    expect(outcome).toMatchObject({ kind: 'unavailable', code: 'SLUICE_ERR_METADATA_STORE' });
    started = performance.now();
    await expect(one.metadata.createTopic({ name: 'u', partitions: 1 })).rejects.toMatchObject({ code: 'SLUICE_ERR_METADATA_STORE' });
    const createMs = performance.now() - started;
    await expect(two.metadata.controlledShutdown(1_000)).rejects.toMatchObject({ code: 'SLUICE_ERR_METADATA_STORE' });
    expect(alterMs).toBeLessThan(2_000);
    expect(createMs).toBeLessThan(2_000);
    await waitFor('both brokers notice the store is gone', () => brokers.every((b) => !b.metadata.storeAvailable));
    for (const b of brokers) {
      expect(b.metadata.partitionState('t', 0)).toEqual(before);
      expect(b.metadata.brokers.size).toBe(2);
      expect(b.metadata.controllerId).toBe(1);
    }
    // The outage itself: etcd stays down for 3 s in all.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 3_000 - (performance.now() - outageStarted))));
    await etcd.members[0]!.start();
    process.stdout.write(`etcd stopped: AlterPartition answered unavailable in ${alterMs.toFixed(0)} ms, CreateTopics METADATA_STORE in ${createMs.toFixed(0)} ms (call deadline 500 ms)\n`);

    await waitFor('the watches are back', () => brokers.every((b) => b.metadata.storeAvailable), 15_000);
    await isrChangeCommitted(brokers, 't', 0, [1]);
    await waitFor('CreateTopics works again', async () => {
      // If the outage cost broker 1 its candidacy's lease it campaigns again, and either broker may win.
      const controller = brokers.find((b) => b.metadata.isController);
      if (controller === undefined) return false;
      try {
        await controller.metadata.createTopic({ name: 'u', partitions: 1 });
        return true;
      } catch (error) {
        const code = (error as { code?: string }).code ?? '';
        // An earlier try's answer may have been lost after its commit.
        if (code === 'SLUICE_ERR_TOPIC_ALREADY_EXISTS') return true;
        if (!['SLUICE_ERR_METADATA_STORE', 'SLUICE_ERR_NOT_CONTROLLER'].includes(code)) throw error;
        return false;
      }
    }, 15_000);
    await waitForState(brokers, 'u', 0, 'u everywhere', () => true);
    // Registrations outlived a 3 s outage (etcd renews leases when it restarts).
    expect(brokers.map((b) => b.metadata.brokerEpoch)).toEqual(epochs);
    // Elections work again: broker 2 leads p1 and goes away.
    await two.cut();
    expect(await waitForState([one], 't', 1, 'p1 led by 1', (s) => s.leader === 1)).toMatchObject({ isr: [1] });
  });

  it('keeps broker epochs and partition states through an outage longer than the clients\' lease patience', async () => {
    const etcd = await startTestEtcd();
    const brokers = await twoBrokers(etcd);
    const cluster = brokers[0]!.metadata.clusterName;
    const keys = new ClusterKeys(cluster);
    const client = createEtcdClient(etcd.endpoints, 1_000);
    try {
      const leaseOf = async (id: number) => (await client.get(keys.broker(id)).exec()).kvs[0];
      const before = await Promise.all([1, 2].map(leaseOf));
      const states = brokers[0]!.metadata.partitionStates();
      const newEpochs: number[] = [];
      for (const b of brokers) b.metadata.on('brokerEpoch', (epoch) => newEpochs.push(epoch));
      await etcd.members[0]!.stop();
      // The outage: longer than 2 × the 2 s lease TTL, after which etcd3 gives a lease up.
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      await etcd.members[0]!.start();
      await waitFor('both registrations moved to new leases', async () => {
        const now = await Promise.all([1, 2].map(leaseOf)).catch(() => [undefined, undefined]);
        return now.every((kv, i) => kv !== undefined && kv.lease !== before[i]!.lease);
      }, 15_000);
      const after = await Promise.all([1, 2].map(leaseOf));
      expect(after.map((kv) => kv!.create_revision)).toEqual(before.map((kv) => kv!.create_revision));
      expect(newEpochs).toEqual([]);
      await isrChangeCommitted(brokers, 't', 0, [1]);
      expect(brokers[1]!.metadata.partitionState('t', 1)).toEqual(states.find((s) => s.partition === 1));
    } finally {
      client.close();
    }
  });

  it('answers at the call deadline, not later, while etcd hangs (SIGSTOP), and goes on when it resumes', async () => {
    const etcd = await startTestEtcd();
    const brokers = await twoBrokers(etcd);
    const before = brokers[0]!.metadata.partitionState('t', 0)!;
    etcd.members[0]!.pause();
    try {
      let started = performance.now();
      expect(await isrChange(brokers, before, [1])).toMatchObject({ kind: 'unavailable', code: 'SLUICE_ERR_METADATA_STORE' });
      const alterMs = performance.now() - started;
      started = performance.now();
      await expect(brokers[0]!.metadata.createTopic({ name: 'u', partitions: 1 })).rejects.toMatchObject({ code: 'SLUICE_ERR_METADATA_STORE' });
      const createMs = performance.now() - started;
      process.stdout.write(`etcd hung: AlterPartition unavailable after ${alterMs.toFixed(0)} ms, CreateTopics after ${createMs.toFixed(0)} ms (call deadline 500 ms)\n`);
      expect(alterMs).toBeLessThan(2_000);
      expect(createMs).toBeLessThan(2_000);
      expect(brokers[1]!.metadata.partitionState('t', 0)).toEqual(before);
    } finally {
      etcd.members[0]!.resume();
    }
    await isrChangeCommitted(brokers, 't', 0, [1]);
  });

  it('keeps working on a 3-member etcd with one member stopped', async () => {
    const etcd = await startTestEtcd({ members: 3 });
    const brokers = await twoBrokers(etcd);
    await etcd.members[2]!.stop();
    for (let i = 0; i < 10; i += 1) await isrChangeCommitted(brokers, 't', 0, i % 2 === 0 ? [1] : [1, 2]);
    await brokers[0]!.metadata.createTopic({ name: 'u', partitions: 3, replicationFactor: 2 });
    await waitForState(brokers, 'u', 2, 'u everywhere', () => true);
    await brokers[1]!.cut();
    expect(await waitForState([brokers[0]!], 't', 1, 'p1 led by 1', (s) => s.leader === 1)).toMatchObject({ isr: [1] });
  });
});
