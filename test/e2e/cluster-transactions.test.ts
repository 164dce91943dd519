/**
 * Transactions in a 3-broker cluster (etcd and three broker processes), through KafkaJS on the
 * Kafka listeners: the controller makes `__transaction_state` (replicated like
 * `__consumer_offsets`), a transactional producer writes to partitions led by every broker and
 * commits (its markers go to the other leaders as native WRITE_TXN_MARKERS), and when the broker
 * coordinating its transactional id is SIGKILLed with a transaction open, the producer finds
 * the new coordinator — which loaded the id's state from its replica — and commits there. A
 * read_committed consumer then sees every committed record once and none of the aborted ones.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { BrokerConnection } from '../../client/connection.js';
import { Api } from '../../proto/messages.js';
import { waitFor } from '../helpers/broker-process.js';
import { cleanupCluster, startCluster } from '../helpers/cluster.js';
import { kafkajs } from '../helpers/kafka-clients.js';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

afterAll(cleanupCluster);

describe('transactions in a cluster', () => {
  it('commits across leaders, and survives the coordinator\'s SIGKILL mid-transaction', async () => {
    const cluster = await startCluster({ brokers: 3, args: ['--group-initial-rebalance-delay-ms', '200', '--transaction-state-log-num-partitions', '3'] });
    const { kafka } = kafkajs(cluster.kafkaBootstrap, { retry: { retries: 10, initialRetryTime: 200 } });
    const admin = kafka.admin();
    await admin.connect();
    await waitFor('__transaction_state to exist', async () => (await admin.listTopics()).includes('__transaction_state'), 30_000);
    await admin.createTopics({ topics: [{ topic: 'tx-cluster', numPartitions: 3, replicationFactor: 3 }], waitForLeaders: true });

    /** The node id coordinating the transactional id, asked over the native protocol. */
    const coordinatorOf = async (transactionalId: string): Promise<number> => {
      for (const broker of cluster.brokers.filter((candidate) => candidate.process !== undefined)) {
        const connection = new BrokerConnection({ host: '127.0.0.1', port: broker.port, connectTimeoutMs: 1000 });
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
    };

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
    await waitFor('a new coordinator', async () => (await coordinatorOf('cluster-tx').catch(() => coordinator)) !== coordinator, 30_000);
    await open.commit();

    const consumer = kafka.consumer({ groupId: 'cluster-tx-readers', readUncommitted: false, maxWaitTimeInMs: 100 });
    const values: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: 'tx-cluster', fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => { values.push(message.value?.toString() ?? ''); } });
    try {
      await waitFor('the committed records', () => values.length >= 6, 60_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      await consumer.disconnect();
    }
    expect(values.sort()).toEqual(['first-0', 'first-1', 'first-2', 'second-0', 'second-1', 'second-2']);
    await producer.disconnect();
    await admin.disconnect();
  }, 180_000);
});
