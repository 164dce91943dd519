/**
 * The native client's transactions (H2's `producer.transaction()`) against this broker's
 * coordinator: a consume-transform-produce step committed with its offsets, one aborted, and a
 * read_committed consumer seeing only the committed output while the group's committed offset
 * is the committed transaction's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sluice } from '../../client/sluice.js';
import { type BrokerProcess, cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';

const quiet = { warn: () => {}, error: () => {}, info: () => {}, debug: () => {} } as never;
let broker: BrokerProcess;
let sluice: Sluice;

beforeAll(async () => {
  broker = await startBroker({ args: ['--group-initial-rebalance-delay-ms', '100'] });
  sluice = new Sluice({ bootstrap: broker.bootstrap, logger: quiet });
  await sluice.admin().createTopic('client-tx-out', { partitions: 2 });
  await sluice.admin().createTopic('client-tx-in', { partitions: 1 });
});

afterAll(async () => {
  await sluice.close();
  await cleanupBrokers();
});

describe('native client transactions', () => {
  it('commits output with offsets, aborts another, and read_committed sees only the committed output', async () => {
    const producer = sluice.producer({ transactionalId: 'client-tx' });
    const committed = await producer.transaction();
    await committed.send({ topic: 'client-tx-out', messages: [{ value: 'kept-0', partition: 0 }, { value: 'kept-1', partition: 1 }] });
    await committed.sendOffsets({ consumerGroupId: 'client-tx-group', topics: [{ topic: 'client-tx-in', partitions: [{ partition: 0, offset: 3 }] }] });
    await committed.commit();
    const aborted = await producer.transaction();
    await aborted.send({ topic: 'client-tx-out', messages: [{ value: 'dropped', partition: 0 }] });
    await aborted.sendOffsets({ consumerGroupId: 'client-tx-group', topics: [{ topic: 'client-tx-in', partitions: [{ partition: 0, offset: 9 }] }] });
    await aborted.abort();
    await producer.close();

    const consumer = sluice.consumer({ groupId: 'client-tx-reader', isolationLevel: 'read_committed', autoOffsetReset: 'earliest', maxWaitMs: 100 });
    consumer.subscribe(['client-tx-out']);
    const values: string[] = [];
    try {
      await waitFor('the committed records', async () => {
        for (const record of await consumer.poll({ timeoutMs: 200 })) values.push(record.value?.toString() ?? '');
        return values.length >= 2;
      }, 20_000);
      for (const record of await consumer.poll({ timeoutMs: 300 })) values.push(record.value?.toString() ?? '');
    } finally {
      await consumer.close();
    }
    expect(values.sort()).toEqual(['kept-0', 'kept-1']);
    // The admin's view (H2's listTransactions / describeTransactions) of the coordinator's state.
    expect((await sluice.admin().listTransactions()).map(({ transactionalId, state }) => ({ transactionalId, state }))).toEqual([
      { transactionalId: 'client-tx', state: 'CompleteAbort' },
    ]);
    const [described] = await sluice.admin().describeTransactions(['client-tx']);
    expect(described).toMatchObject({ transactionalId: 'client-tx', state: 'CompleteAbort', coordinatorId: 0 });
    const group = await sluice.admin().describeGroup('client-tx-group');
    expect(group.partitions.map((entry) => ({ topic: entry.topic, partition: entry.partition, committedOffset: entry.committedOffset }))).toEqual([
      { topic: 'client-tx-in', partition: 0, committedOffset: 3 },
    ]);
  }, 60_000);

  it('close() aborts a transaction left open, so read_committed readers are not held until its timeout', async () => {
    await sluice.admin().createTopic('client-tx-left', { partitions: 1 });
    const producer = sluice.producer({ transactionalId: 'client-tx-left', transactionTimeoutMs: 600_000 });
    const open = await producer.transaction();
    await open.send({ topic: 'client-tx-left', messages: [{ value: 'never committed' }] });
    await producer.close();
    const [described] = await sluice.admin().describeTransactions(['client-tx-left']);
    expect(described?.state).toMatch(/Abort/);
    // The marker lands right after the abort is answered: the last stable offset passes the abandoned record.
    await waitFor('the abort marker', async () => (await sluice.admin().describeTopic('client-tx-left')).partitions[0]?.lastStableOffset === 2, 10_000);
  }, 30_000);
});
