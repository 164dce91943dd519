/**
 * Transactions on the native protocol, driven request by request against a real broker
 * process: FindCoordinator (key type 1), InitProducerId, AddPartitionsToTxn, transactional
 * produce, AddOffsetsToTxn, TxnOffsetCommit, EndTxn, ListTransactions, DescribeTransactions.
 * Commit and abort leave one marker per partition; a second InitProducerId fences the first
 * producer (PRODUCER_FENCED on its AddPartitionsToTxn and EndTxn); a transaction open past its
 * timeout is aborted; offsets committed in a transaction are the group's only once it commits
 * (OffsetFetch with requireStable says UNSTABLE_OFFSET_COMMIT meanwhile) and are still there
 * after a restart; a broker SIGKILLed right after answering EndTxn(commit) still ends with the
 * transaction complete and exactly one commit marker per partition once restarted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerConnection } from '../../client/connection.js';
import { TopicManager } from '../../broker/topics/topic-manager.js';
import { errorCodes } from '../../proto/errors.js';
import { Api, type RequestBodies, type ResponseBodies } from '../../proto/messages.js';
import { buildRecordBatch, decodeRecords, readBatchHeader } from '../../proto/record-batch/record-batch.js';
import { type BrokerProcess, cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';
import { logBatches } from '../helpers/log-contents.js';

const wire = (code: keyof typeof errorCodes) => errorCodes[code].wire;
const brokerArgs = ['--transaction-abort-timed-out-transaction-cleanup-interval-ms', '200', '--transaction-state-log-num-partitions', '3'];

let broker: BrokerProcess;
let connection: BrokerConnection;

function connect(): void {
  connection = new BrokerConnection({ host: '127.0.0.1', port: broker.port, clientId: 'txn-native' });
}

function call<F extends keyof RequestBodies>(api: (typeof Api)[keyof typeof Api], body: RequestBodies[F]): Promise<ResponseBodies[F]> {
  return connection.request<F>(api, body);
}

interface Producer { transactionalId: string; producerId: number; producerEpoch: number; sequences: Map<string, number> }

async function initProducer(transactionalId: string, transactionTimeoutMs = 60_000): Promise<Producer> {
  for (;;) {
    let answer: ResponseBodies['initProducerId'];
    try {
      answer = await call<'initProducerId'>(Api.INIT_PRODUCER_ID, { transactionalId, transactionTimeoutMs });
    } catch (error) {
      // The id's previous transaction is still being aborted or completed: retry, as clients do.
      if ((error as { code?: string }).code === 'SLUICE_ERR_CONCURRENT_TRANSACTIONS') continue;
      throw error;
    }
    expect(answer.errorCode ?? 0, answer.errorMessage).toBe(0);
    return { transactionalId, producerId: answer.producerId ?? 0, producerEpoch: answer.producerEpoch ?? 0, sequences: new Map() };
  }
}

async function addPartitions(producer: Producer, topic: string, partitions: number[]): Promise<number[]> {
  const answer = await call<'addPartitionsToTxn'>(Api.ADD_PARTITIONS_TO_TXN, { ...ids(producer), topics: [{ name: topic, partitions }] });
  return answer.topics[0]!.partitions.map((result) => result.errorCode);
}

const ids = (producer: Producer) => ({ transactionalId: producer.transactionalId, producerId: producer.producerId, producerEpoch: producer.producerEpoch });

async function produce(producer: Producer, topic: string, partition: number, values: string[]): Promise<void> {
  const key = `${topic}/${partition}`;
  const baseSequence = producer.sequences.get(key) ?? 0;
  producer.sequences.set(key, baseSequence + values.length);
  const records = buildRecordBatch(values.map((value) => ({ key: null, value: Buffer.from(value) })), {
    producerId: producer.producerId, producerEpoch: producer.producerEpoch, baseSequence, transactional: true,
  });
  const answer = await call<'produce'>(Api.PRODUCE, { acks: -1, timeoutMs: 5000, topics: [{ name: topic, partitions: [{ partition, records }] }] });
  const result = answer.topics[0]!.partitions[0]!;
  expect(result.errorCode, result.errorMessage).toBe(0);
}

async function endTxn(producer: Producer, committed: boolean): Promise<number> {
  return (await call<'endTxn'>(Api.END_TXN, { ...ids(producer), committed })).errorCode;
}

async function describe1(transactionalId: string) {
  return (await call<'describeTransactions'>(Api.DESCRIBE_TRANSACTIONS, { transactionalIds: [transactionalId] })).transactions[0]!;
}

/** Waits until the id's transaction is complete (its markers written). */
async function completed(transactionalId: string, state: 'CompleteCommit' | 'CompleteAbort'): Promise<void> {
  await waitFor(`${transactionalId} to reach ${state}`, async () => (await describe1(transactionalId)).state === state);
}

/** The control batches of a partition log (read with the broker stopped). */
function markers(dataDirectory: string, topic: string, partition: number): string[] {
  const topics = new TopicManager(dataDirectory, {}, () => {});
  topics.open();
  try {
    return logBatches(topics.partition(topic, partition).log).flatMap((batch) => {
      const header = readBatchHeader(batch);
      return header.isControl ? [decodeRecords(batch)[0]!.key!.readInt16BE(2) === 1 ? 'commit' : 'abort'] : [];
    });
  } finally {
    topics.close();
  }
}

async function committedOffset(groupId: string, requireStable = false): Promise<number | string> {
  try {
    const answer = await call<'offsetFetch'>(Api.OFFSET_FETCH, { groupId, topics: ['in'], requireStable });
    return answer.topics[0]?.partitions[0]?.offset ?? -1;
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

async function restart(signal: NodeJS.Signals): Promise<void> {
  connection.close();
  await broker.stop(signal);
  broker = await startBroker({ dataDirectory: broker.dataDirectory, args: brokerArgs });
  connect();
}

beforeAll(async () => {
  broker = await startBroker({ args: brokerArgs });
  connect();
  const created = await call<'createTopics'>(Api.CREATE_TOPICS, { topics: [{ name: 'out', partitions: 2 }, { name: 'in', partitions: 1 }] } as RequestBodies['createTopics']);
  expect(JSON.stringify(created)).not.toMatch(/"errorCode":[1-9]/);
});

afterAll(async () => {
  connection.close();
  await cleanupBrokers();
});

describe('transactions over the native protocol', () => {
  it('finds the coordinator, commits and aborts, and lists and describes the id', async () => {
    const found = await call<'findCoordinator'>(Api.FIND_COORDINATOR, { key: 'native-a', keyType: 1 });
    expect(found).toMatchObject({ nodeId: 0, port: broker.port });
    const producer = await initProducer('native-a');
    expect(producer.producerEpoch).toBe(0);
    expect(await addPartitions(producer, 'out', [0, 1])).toEqual([0, 0]);
    expect(await addPartitions(producer, 'missing', [0])).toEqual([wire('SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION')]);
    await produce(producer, 'out', 0, ['c1', 'c2']);
    await produce(producer, 'out', 1, ['c3']);
    expect(await describe1('native-a')).toMatchObject({ state: 'Ongoing', producerId: producer.producerId, topics: [{ name: 'out', partitions: [0, 1] }] });
    expect(await endTxn(producer, true)).toBe(0);
    await completed('native-a', 'CompleteCommit');
    expect(await endTxn(producer, true)).toBe(0);
    expect(await endTxn(producer, false)).toBe(wire('SLUICE_ERR_INVALID_TXN_STATE'));

    expect(await addPartitions(producer, 'out', [0])).toEqual([0]);
    await produce(producer, 'out', 0, ['a1']);
    expect(await endTxn(producer, false)).toBe(0);
    await completed('native-a', 'CompleteAbort');
    // read_committed: up to the last stable offset, with the aborted transaction listed for the consumer to drop.
    const fetched = await call<'fetch'>(Api.FETCH, {
      maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 1, topics: [{ name: 'out', partitions: [{ partition: 0, fetchOffset: 0, maxBytes: 1 << 20 }] }],
    });
    const result = fetched.topics[0]!.partitions[0]!;
    expect({ highWatermark: result.highWatermark, lastStableOffset: result.lastStableOffset }).toEqual({ highWatermark: 5, lastStableOffset: 5 });
    expect(result.abortedTransactions?.map((aborted) => ({ producerId: aborted.producerId ?? 0, firstOffset: aborted.firstOffset }))).toEqual([{ producerId: producer.producerId, firstOffset: 3 }]);
    const listed = await call<'listTransactions'>(Api.LIST_TRANSACTIONS, { stateFilters: ['CompleteAbort'] });
    const listing = listed.transactions.find((entry) => entry.transactionalId === 'native-a');
    expect({ producerId: listing?.producerId ?? 0, state: listing?.state }).toEqual({ producerId: producer.producerId, state: 'CompleteAbort' });
    const unknown = await describe1('nobody');
    expect(unknown.errorCode).toBe(wire('SLUICE_ERR_TRANSACTIONAL_ID_NOT_FOUND'));
  });

  it('fences the first producer when the id is initialised again, aborting its open transaction', async () => {
    const zombie = await initProducer('native-fence');
    expect(await addPartitions(zombie, 'out', [1])).toEqual([0]);
    await produce(zombie, 'out', 1, ['z1']);
    const successor = await initProducer('native-fence');
    expect(successor).toMatchObject({ producerId: zombie.producerId, producerEpoch: 2 });
    expect(await addPartitions(zombie, 'out', [1])).toEqual([wire('SLUICE_ERR_PRODUCER_FENCED')]);
    expect(await endTxn(zombie, true)).toBe(wire('SLUICE_ERR_PRODUCER_FENCED'));
    expect((await describe1('native-fence')).state).toBe('Empty');
  });

  it('aborts a transaction left open past its timeout', async () => {
    const slow = await initProducer('native-slow', 300);
    expect(await addPartitions(slow, 'out', [0])).toEqual([0]);
    await produce(slow, 'out', 0, ['left open']);
    await completed('native-slow', 'CompleteAbort');
    expect(await describe1('native-slow')).toMatchObject({ producerEpoch: 1 });
    expect(await endTxn(slow, true)).toBe(wire('SLUICE_ERR_PRODUCER_FENCED'));
  });

  it('applies offsets committed in a transaction only when it commits, also after a restart', async () => {
    const producer = await initProducer('native-offsets');
    const offsets = async (offset: number) => {
      expect((await call<'addOffsetsToTxn'>(Api.ADD_OFFSETS_TO_TXN, { ...ids(producer), groupId: 'native-group' })).errorCode).toBe(0);
      const answer = await call<'txnOffsetCommit'>(Api.TXN_OFFSET_COMMIT, {
        ...ids(producer), groupId: 'native-group', generationId: -1, memberId: '', topics: [{ name: 'in', partitions: [{ partition: 0, offset }] }],
      });
      expect(answer.topics[0]!.partitions[0]!.errorCode).toBe(0);
    };
    await offsets(5);
    expect(await committedOffset('native-group')).toBe(-1);
    expect(await committedOffset('native-group', true)).toBe('SLUICE_ERR_UNSTABLE_OFFSET_COMMIT');
    expect(await endTxn(producer, true)).toBe(0);
    await completed('native-offsets', 'CompleteCommit');
    expect(await committedOffset('native-group', true)).toBe(5);

    await offsets(9);
    expect(await endTxn(producer, false)).toBe(0);
    await completed('native-offsets', 'CompleteAbort');
    expect(await committedOffset('native-group', true)).toBe(5);

    await offsets(12);
    await restart('SIGTERM');
    // Loaded from the log: the committed transaction's offset, the aborted one dropped, the open one pending.
    await waitFor('the group to load', async () => (await committedOffset('native-group')) === 5);
    expect(await committedOffset('native-group', true)).toBe('SLUICE_ERR_UNSTABLE_OFFSET_COMMIT');
    expect(await endTxn(producer, true)).toBe(0);
    await completed('native-offsets', 'CompleteCommit');
    expect(await committedOffset('native-group', true)).toBe(12);
  });

  it('ends a transaction committed just before a SIGKILL once the broker is back', async () => {
    const producer = await initProducer('native-kill');
    expect(await addPartitions(producer, 'in', [0])).toEqual([0]);
    await produce(producer, 'in', 0, ['k1', 'k2']);
    expect(await endTxn(producer, true)).toBe(0);
    await restart('SIGKILL');
    await completed('native-kill', 'CompleteCommit');
    connection.close();
    await broker.stop('SIGTERM');
    expect(markers(broker.dataDirectory, 'in', 0)).toEqual(['commit']);
    expect(markers(broker.dataDirectory, 'out', 0)).toEqual(['commit', 'abort', 'abort']);
    expect(markers(broker.dataDirectory, 'out', 1)).toEqual(['commit', 'abort']);
    broker = await startBroker({ dataDirectory: broker.dataDirectory, args: brokerArgs });
    connect();
  }, 60_000);
});
