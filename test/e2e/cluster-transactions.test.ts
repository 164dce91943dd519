/**
 * Transactions in a 3-broker cluster (etcd and three broker processes), through KafkaJS on the
 * Kafka listeners: the controller makes `__transaction_state` (replicated like
 * `__consumer_offsets`), a transactional producer writes to partitions led by every broker and
 * commits (its markers go to the other leaders as native WRITE_TXN_MARKERS), and when the broker
 * coordinating its transactional id is SIGKILLed with a transaction open, the producer finds
 * the new coordinator — which loaded the id's state from its replica — and commits there. A
 * read_committed consumer then sees every committed record once and none of the aborted ones.
 *
 * Then the coordinator's own failover between PrepareCommit and CompleteCommit, made certain:
 * one partition of the transaction (replication factor 1) lives on a broker that is paused
 * (SIGSTOP) before EndTxn, so its marker cannot land; the coordinator answers EndTxn, is stuck
 * in PrepareCommit, and is SIGKILLed. The new coordinator loads PrepareCommit from its replica
 * of `__transaction_state` and, once the paused broker and the killed one are back, writes the
 * markers and completes the commit; read_committed then sees the transaction's records.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerConnection } from '../../client/connection.js';
import { Api } from '../../proto/messages.js';
import { waitFor } from '../helpers/broker-process.js';
import { cleanupCluster, startCluster, type TestCluster } from '../helpers/cluster.js';
import { kafkajs } from '../helpers/kafka-clients.js';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

afterAll(cleanupCluster);

let cluster: TestCluster;

/** Asks the live brokers over the native protocol (FindCoordinator key type 1) who coordinates the id. */
async function coordinatorOf(transactionalId: string): Promise<number> {
  for (const broker of cluster.brokers.filter((candidate) => candidate.process !== undefined)) {
    const connection = new BrokerConnection({ host: '127.0.0.1', port: broker.port, connectTimeoutMs: 1000, requestTimeoutMs: 2000 });
    try {
      const found = await connection.request<'findCoordinator'>(Api.FIND_COORDINATOR, { key: transactionalId, keyType: 1 });
      if ((found.errorCode ?? 0) === 0 && found.nodeId >= 0) return found.nodeId;
    } catch {
      // Try the next broker.
    } finally {
      connection.close();
    }
  }
  throw new Error(`no coordinator for ${transactionalId}`);
}

/** The id's state as its coordinator describes it; undefined while it cannot answer. */
async function stateAt(nodeId: number, transactionalId: string): Promise<string | undefined> {
  const connection = new BrokerConnection({ host: '127.0.0.1', port: cluster.broker(nodeId).port, connectTimeoutMs: 1000, requestTimeoutMs: 2000 });
  try {
    const described = await connection.request<'describeTransactions'>(Api.DESCRIBE_TRANSACTIONS, { transactionalIds: [transactionalId] });
    const entry = described.transactions[0];
    return (entry?.errorCode ?? 0) === 0 ? entry?.state : undefined;
  } catch {
    return undefined;
  } finally {
    connection.close();
  }
}

async function readCommitted(kafka: ReturnType<typeof kafkajs>['kafka'], topic: string, groupId: string, expected: number): Promise<string[]> {
  const consumer = kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: 100 });
  const values: string[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => { values.push(message.value?.toString() ?? ''); } });
  try {
    await waitFor(`${expected} committed records of ${topic}`, () => values.length >= expected, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
  } finally {
    await consumer.disconnect();
  }
  return values.sort();
}

beforeAll(async () => {
  cluster = await startCluster({
    brokers: 3, args: ['--group-initial-rebalance-delay-ms', '200', '--transaction-state-log-num-partitions', '3', '--replica-lag-time-max-ms', '1500'],
  });
});

describe('transactions in a cluster', () => {
  it('commits across leaders, and survives the coordinator\'s SIGKILL mid-transaction', async () => {
    const { kafka } = kafkajs(cluster.kafkaBootstrap, { retry: { retries: 10, initialRetryTime: 200 } });
    const admin = kafka.admin();
    await admin.connect();
    await waitFor('__transaction_state to exist', async () => (await admin.listTopics()).includes('__transaction_state'), 30_000);
    await admin.createTopics({ topics: [{ topic: 'tx-cluster', numPartitions: 3, replicationFactor: 3 }], waitForLeaders: true });

    const producer = kafka.producer({ transactionalId: 'cluster-tx', idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const first = await producer.transaction();
    await first.send({ topic: 'tx-cluster', messages: [0, 1, 2].map((partition) => ({ value: `first-${partition}`, partition })) });
    await first.commit();
    const aborted = await producer.transaction();
    await aborted.send({ topic: 'tx-cluster', messages: [0, 1, 2].map((partition) => ({ value: `aborted-${partition}`, partition })) });
    await aborted.abort();

    const open = await producer.transaction();
    await open.send({ topic: 'tx-cluster', messages: [0, 1, 2].map((partition) => ({ value: `second-${partition}`, partition })) });
    const coordinator = await coordinatorOf('cluster-tx');
    await cluster.kill(coordinator);
    try {
      let successor = coordinator;
      await waitFor('a new coordinator', async () => {
        successor = await coordinatorOf('cluster-tx').catch(() => coordinator);
        return successor !== coordinator;
      }, 30_000);
      // KafkaJS does not retry EndTxn, and a coordinator answers COORDINATOR_LOAD_IN_PROGRESS until it
      // has read the id's state from its replica (as Kafka does): commit once the state is loaded.
      await waitFor('the new coordinator to load the open transaction', async () => (await stateAt(successor, 'cluster-tx')) === 'Ongoing', 30_000);
      await open.commit();

      expect(await readCommitted(kafka, 'tx-cluster', 'cluster-tx-readers', 6)).toEqual(['first-0', 'first-1', 'first-2', 'second-0', 'second-1', 'second-2']);
      await producer.disconnect();
    } finally {
      // Back to three brokers with every replica of __transaction_state in sync, for the next test.
      await cluster.start(coordinator);
    }
    await waitFor('__transaction_state fully in sync', async () => {
      const metadata = await admin.fetchTopicMetadata({ topics: ['__transaction_state'] }).catch(() => undefined);
      return metadata?.topics[0]?.partitions.every((partition) => partition.leader >= 0 && partition.isr.length === 3) ?? false;
    }, 60_000);
    await admin.disconnect();
  }, 180_000);

  it('a new coordinator finishes a commit its SIGKILLed predecessor left in PrepareCommit', async () => {
    const { kafka } = kafkajs(cluster.kafkaBootstrap, { retry: { retries: 15, initialRetryTime: 200 } });
    const admin = kafka.admin();
    await admin.connect();
    // Replication factor 1: a partition whose broker is paused has no leader at all, so its marker waits.
    await admin.createTopics({ topics: [{ topic: 'tx-resume', numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
    const transactionalId = 'cluster-resume';
    const producer = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const tx = await producer.transaction();
    await tx.send({ topic: 'tx-resume', messages: [0, 1, 2].map((partition) => ({ value: `resumed-${partition}`, partition })) });
    const coordinator = await coordinatorOf(transactionalId);
    const leaders = (await admin.fetchTopicMetadata({ topics: ['tx-resume'] })).topics[0]!.partitions.map((partition) => partition.leader);
    const paused = leaders.find((leader) => leader !== coordinator)!;
    await admin.disconnect();

    cluster.pause(paused);
    let successor = coordinator;
    try {
      await tx.commit();
      // Answered at PrepareCommit; the paused broker's partition cannot take its marker.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await stateAt(coordinator, transactionalId)).toBe('PrepareCommit');
      await cluster.kill(coordinator);
      await waitFor('a new coordinator', async () => {
        successor = await coordinatorOf(transactionalId).catch(() => coordinator);
        return successor !== coordinator && successor !== paused;
      }, 30_000).catch((error: unknown) => {
        const other = cluster.brokers.find((broker) => broker.nodeId !== coordinator && broker.nodeId !== paused)!;
        console.log(JSON.stringify({ coordinator, paused, other: other.nodeId }), other.logs().slice(-40).join('\n'));
        throw error;
      });
      await waitFor('the new coordinator to load PrepareCommit', async () => (await stateAt(successor, transactionalId)) === 'PrepareCommit', 30_000);
    } finally {
      cluster.resume(paused);
    }
    await cluster.start(coordinator);
    await waitFor('the commit to complete', async () => (await stateAt(successor, transactionalId)) === 'CompleteCommit', 60_000);
    expect(cluster.broker(successor).logs().some((line) => line.includes('resuming a transaction'))).toBe(true);
    expect(await readCommitted(kafka, 'tx-resume', 'cluster-resume-readers', 3)).toEqual(['resumed-0', 'resumed-1', 'resumed-2']);
    await producer.disconnect();
  }, 240_000);
});
