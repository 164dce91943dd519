/**
 * KafkaJS 2.2.4 transactions against the Kafka listener of a real broker process: FindCoordinator
 * (key type 1), InitProducerId with a transactional id, AddPartitionsToTxn, AddOffsetsToTxn,
 * TxnOffsetCommit and EndTxn. Committed and aborted transactions leave one commit or abort
 * marker per partition (read back from the logs after the broker stops); offsets sent in a
 * transaction become the group's only when it commits; a second producer with the same
 * transactional id fences the first; a transaction left open past its timeout is aborted by
 * the coordinator; a read_committed consumer sees only committed records, a read_uncommitted
 * one all of them; the coordinator's figures show in /metrics.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TopicManager } from '../../broker/topics/topic-manager.js';
import { readBatchHeader, decodeRecords } from '../../proto/record-batch/record-batch.js';
import { type BrokerProcess, cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';
import { kafkajs } from '../helpers/kafka-clients.js';
import { logBatches } from '../helpers/log-contents.js';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

/** The control batches of a partition log, in order: 'commit' or 'abort' with the producer id. */
function markers(dataDirectory: string, topic: string, partition: number): Array<{ type: string; producerId: number }> {
  const topics = new TopicManager(dataDirectory, {}, () => {});
  topics.open();
  try {
    return logBatches(topics.partition(topic, partition).log).flatMap((batch) => {
      const header = readBatchHeader(batch);
      if (!header.isControl) return [];
      const key = decodeRecords(batch)[0]!.key!;
      return [{ type: key.readInt16BE(2) === 1 ? 'commit' : 'abort', producerId: header.producerId }];
    });
  } finally {
    topics.close();
  }
}

describe('KafkaJS transactions against the Kafka listener', () => {
  let broker: BrokerProcess;
  const logs: string[][] = [];
  const client = () => {
    const made = kafkajs(broker.kafkaBootstrap);
    logs.push(made.logs);
    return made;
  };

  beforeAll(async () => {
    broker = await startBroker({ args: ['--group-initial-rebalance-delay-ms', '200', '--transaction-abort-timed-out-transaction-cleanup-interval-ms', '200'] });
    const admin = client().kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'tx-out', numPartitions: 2 }, { topic: 'tx-in', numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
  });
  afterAll(cleanupBrokers);

  it('commits and aborts transactions with offsets, fences a zombie, aborts a timed-out transaction', async () => {
    const { kafka } = client();
    const admin = kafka.admin();
    await admin.connect();
    const producer = kafka.producer({ transactionalId: 'tx-a', idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();

    const first = await producer.transaction();
    await first.send({ topic: 'tx-out', messages: [{ value: 'c1', partition: 0 }, { value: 'c2', partition: 0 }, { value: 'c3', partition: 1 }] });
    await first.commit();

    const second = await producer.transaction();
    await second.send({ topic: 'tx-out', messages: [{ value: 'a1', partition: 0 }, { value: 'a2', partition: 0 }] });
    await second.sendOffsets({ consumerGroupId: 'tx-group', topics: [{ topic: 'tx-in', partitions: [{ partition: 0, offset: '99' }] }] });
    await second.abort();

    const third = await producer.transaction();
    await third.send({ topic: 'tx-out', messages: [{ value: 'c4', partition: 0 }] });
    await third.sendOffsets({ consumerGroupId: 'tx-group', topics: [{ topic: 'tx-in', partitions: [{ partition: 0, offset: '7' }] }] });
    await third.commit();

    // Each transaction left one marker after its records in each partition it wrote to.
    expect(await admin.fetchTopicOffsets('tx-out')).toEqual([
      { partition: 0, offset: '8', high: '8', low: '0' },
      { partition: 1, offset: '2', high: '2', low: '0' },
    ]);
    // Only the committed transaction's offsets are the group's.
    const committed = await admin.fetchOffsets({ groupId: 'tx-group', topics: ['tx-in'] });
    expect(committed).toEqual([{ topic: 'tx-in', partitions: [{ partition: 0, offset: '7', metadata: null }] }]);

    // A second producer with the same transactional id fences the first (KafkaJS asks for its
    // transactional id and epoch at its first transaction, not at connect).
    const successor = kafka.producer({ transactionalId: 'tx-a', idempotent: true, maxInFlightRequests: 1 });
    await successor.connect();
    const next = await successor.transaction();
    const zombie = await producer.transaction();
    await expect(zombie.send({ topic: 'tx-out', messages: [{ value: 'z', partition: 1 }] })).rejects.toThrow(/epoch|fenced/i);
    await next.send({ topic: 'tx-out', messages: [{ value: 'c5', partition: 1 }] });
    await next.commit();
    await successor.disconnect();
    await producer.disconnect().catch(() => {});

    // A transaction left open longer than its timeout is aborted by the coordinator.
    const slow = kafka.producer({ transactionalId: 'tx-slow', idempotent: true, maxInFlightRequests: 1, transactionTimeout: 500 });
    await slow.connect();
    const abandoned = await slow.transaction();
    await abandoned.send({ topic: 'tx-out', messages: [{ value: 'abandoned', partition: 1 }] });
    const metric = async (name: string) => {
      const text = await (await fetch(`http://127.0.0.1:${broker.httpPort}/metrics`)).text();
      return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
    };
    await waitFor('the timed-out transaction to be aborted', async () => (await metric('sluice_transactions_timed_out_total')) === 1, 15_000);
    await expect(abandoned.commit()).rejects.toThrow(/epoch|fenced/i);
    await slow.disconnect().catch(() => {});
    expect(await metric('sluice_transactions_committed_total')).toBe(3);
    const described = await (await fetch(`http://127.0.0.1:${broker.httpPort}/v1/transactions`)).json() as { transactions: Array<{ transactionalId: string; state: string; producerEpoch: number }> };
    expect(described.transactions.map(({ transactionalId, state, producerEpoch }) => ({ transactionalId, state, producerEpoch }))).toEqual([
      { transactionalId: 'tx-a', state: 'CompleteCommit', producerEpoch: 1 },
      { transactionalId: 'tx-slow', state: 'CompleteAbort', producerEpoch: 1 },
    ]);
    expect(await metric('sluice_transactions_aborted_total')).toBe(2);
    await admin.disconnect();

    // A read_committed consumer sees the committed transactions' records only; a read_uncommitted one all of them.
    const read = async (readUncommitted: boolean, expected: number) => {
      const consumer = kafka.consumer({ groupId: `tx-reader-${readUncommitted}`, readUncommitted, maxWaitTimeInMs: 100 });
      const values: string[] = [];
      await consumer.connect();
      await consumer.subscribe({ topic: 'tx-out', fromBeginning: true });
      await consumer.run({ eachMessage: async ({ partition, message }) => { values.push(`${partition}:${message.value?.toString() ?? ''}`); } });
      try {
        await waitFor(`${expected} records (readUncommitted: ${readUncommitted})`, () => values.length >= expected, 20_000);
        await new Promise((resolve) => setTimeout(resolve, 300));
      } finally {
        await consumer.disconnect();
      }
      return values.sort();
    };
    expect(await read(false, 5)).toEqual(['0:c1', '0:c2', '0:c4', '1:c3', '1:c5']);
    // The zombie's record never got in: its AddPartitionsToTxn was refused before it produced.
    expect(await read(true, 8)).toEqual(['0:a1', '0:a2', '0:c1', '0:c2', '0:c4', '1:abandoned', '1:c3', '1:c5']);

    await broker.stop('SIGTERM');
    expect(markers(broker.dataDirectory, 'tx-out', 0).map((marker) => marker.type)).toEqual(['commit', 'abort', 'commit']);
    expect(markers(broker.dataDirectory, 'tx-out', 1).map((marker) => marker.type)).toEqual(['commit', 'commit', 'abort']);
    expect(path.isAbsolute(broker.dataDirectory)).toBe(true);
  }, 60_000);
});
