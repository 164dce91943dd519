/**
 * The client's transactions against fake brokers whose coordinator plays Kafka's transaction
 * coordinator (test/helpers/fake-broker.ts): the order of the requests (FindCoordinator key
 * type 1, InitProducerId, AddPartitionsToTxn before a partition's first transactional batch,
 * AddOffsetsToTxn then TxnOffsetCommit with the consumer's generation, every batch acknowledged
 * before EndTxn), commit and abort, "not now" answers retried, a zombie fenced by a newer
 * producer with the same transactional id, the states a transaction refuses calls in, and the
 * epoch bump after a failed transaction.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Sluice } from '../../../client/sluice.js';
import { errorCodes } from '../../../proto/errors.js';
import { Api, type ProduceRequest, type RequestEnvelope } from '../../../proto/messages.js';
import { readBatchHeader } from '../../../proto/record-batch/record-batch.js';
import { FakeCluster } from '../../helpers/fake-broker.js';

const open: Array<{ close: () => Promise<void> }> = [];
afterEach(async () => {
  for (const resource of open.splice(0).reverse()) await resource.close();
});

async function cluster(): Promise<FakeCluster> {
  const started = await FakeCluster.start({ brokers: 3, topics: { out: 3 }, idempotence: true });
  // The coordinator is not the first bootstrap broker: FindCoordinator must be followed.
  started.coordinatorId = 2;
  open.push(started);
  return started;
}

function client(fake: FakeCluster): Sluice {
  const sluice = new Sluice({ bootstrap: fake.bootstrap, connectTimeoutMs: 2000, requestTimeoutMs: 2000, metadataRefreshBackoffMs: 20 });
  open.push(sluice);
  return sluice;
}

const transactionalApis = new Set<number>([Api.FIND_COORDINATOR, Api.INIT_PRODUCER_ID, Api.ADD_PARTITIONS_TO_TXN, Api.PRODUCE, Api.ADD_OFFSETS_TO_TXN, Api.TXN_OFFSET_COMMIT, Api.END_TXN]);
const apiNames = new Map(Object.entries(Api).map(([name, key]) => [key as number, name]));

/** The transaction's requests in the order the fake got them, repeats folded. */
function flow(fake: FakeCluster): string[] {
  const names: string[] = [];
  for (const request of fake.requests) {
    if (!transactionalApis.has(request.api)) continue;
    const name = apiNames.get(request.api)!;
    if (names.at(-1) !== name) names.push(name);
  }
  return names;
}

describe('transactions', () => {
  it('commits: coordinator found by key type 1, partitions added before their batches, offsets with the consumer\'s generation, batches acknowledged before EndTxn', async () => {
    const fake = await cluster();
    const producer = client(fake).producer({ transactionalId: 'enricher', lingerMs: 0 });
    const tx = await producer.transaction();
    await tx.send({ topic: 'out', messages: [{ value: 'a', partition: 0 }, { value: 'b', partition: 1 }] });
    await tx.send({ topic: 'out', messages: [{ value: 'c', partition: 0 }] });
    const consumer = { groupMetadata: () => ({ groupId: 'g', generationId: 7, memberId: 'member-1' }) };
    await tx.sendOffsets({ consumer, topics: [{ topic: 'in', partitions: [{ partition: 0, offset: 42 }] }] });
    await tx.commit();
    expect(tx.isActive()).toBe(false);

    expect(flow(fake)).toEqual(['FIND_COORDINATOR', 'INIT_PRODUCER_ID', 'ADD_PARTITIONS_TO_TXN', 'PRODUCE', 'ADD_OFFSETS_TO_TXN', 'FIND_COORDINATOR', 'TXN_OFFSET_COMMIT', 'END_TXN']);
    expect((fake.seen(Api.FIND_COORDINATOR)[0]!.body as { key: string; keyType: number })).toEqual({ key: 'enricher', keyType: 1 });
    for (const api of [Api.INIT_PRODUCER_ID, Api.ADD_PARTITIONS_TO_TXN, Api.END_TXN]) expect(fake.seen(api).every((request) => request.nodeId === 2)).toBe(true);
    // Both partitions joined with one request.
    expect(fake.seen(Api.ADD_PARTITIONS_TO_TXN)).toHaveLength(1);
    const batches = fake.seen(Api.PRODUCE).flatMap((request) => (request.body as ProduceRequest).topics[0]!.partitions.map((entry) => readBatchHeader(entry.records)));
    expect(batches.every((header) => header.isTransactional && header.producerId === 1000 && header.producerEpoch === 0)).toBe(true);
    expect(fake.transactions).toEqual([{
      transactionalId: 'enricher', producerEpoch: 0, committed: true, partitions: ['out/0', 'out/1'], groups: ['g'],
      offsets: [{ groupId: 'g', topic: 'in', partition: 0, offset: 42, generationId: 7, memberId: 'member-1' }],
    }]);
    expect(fake.groups.get('g')!.offsets.get('in/0')).toBe(42);

    // The next transaction reuses the producer id, and adds its partitions again.
    const second = await producer.transaction();
    await second.send({ topic: 'out', messages: [{ value: 'd', partition: 2 }] });
    await second.abort();
    expect(fake.seen(Api.INIT_PRODUCER_ID)).toHaveLength(1);
    expect(fake.transactions.at(-1)).toMatchObject({ committed: false, partitions: ['out/2'] });
  });

  it('retries CONCURRENT_TRANSACTIONS and NOT_COORDINATOR from the coordinator', async () => {
    const fake = await cluster();
    const refusals = new Map<number, number>([[Api.INIT_PRODUCER_ID, 2], [Api.ADD_PARTITIONS_TO_TXN, 2], [Api.END_TXN, 1]]);
    fake.intercept = (_node, request: RequestEnvelope) => {
      const left = refusals.get(request.api) ?? 0;
      if (left === 0) return undefined;
      refusals.set(request.api, left - 1);
      return request.api === Api.END_TXN
        ? { errorCode: errorCodes.SLUICE_ERR_NOT_COORDINATOR.wire, errorMessage: 'moved' }
        : { errorCode: errorCodes.SLUICE_ERR_CONCURRENT_TRANSACTIONS.wire, errorMessage: 'markers still being written' };
    };
    const producer = client(fake).producer({ transactionalId: 'retrying', lingerMs: 0, retryBackoffMs: 5 });
    const tx = await producer.transaction();
    await tx.send({ topic: 'out', messages: [{ value: 'x', partition: 1 }] });
    await tx.commit();
    expect([...refusals.values()]).toEqual([0, 0, 0]);
    expect(fake.transactions).toMatchObject([{ transactionalId: 'retrying', committed: true, partitions: ['out/1'] }]);
  });

  it('a newer producer with the same transactional id fences the old one: its open transaction is aborted and it can do nothing more', async () => {
    const fake = await cluster();
    const zombie = client(fake).producer({ transactionalId: 'shared', lingerMs: 0 });
    const old = await zombie.transaction();
    await old.send({ topic: 'out', messages: [{ value: 'zombie', partition: 0 }] });

    const successor = client(fake).producer({ transactionalId: 'shared', lingerMs: 0 });
    const fresh = await successor.transaction();
    expect(fake.transactions).toMatchObject([{ producerEpoch: 0, committed: false, partitions: ['out/0'] }]);

    await expect(old.send({ topic: 'out', messages: [{ value: 'late', partition: 1 }] })).rejects.toMatchObject({ code: 'SLUICE_ERR_PRODUCER_FENCED' });
    await expect(old.commit()).rejects.toMatchObject({ code: 'SLUICE_ERR_PRODUCER_FENCED' });
    await expect(zombie.transaction()).rejects.toMatchObject({ code: 'SLUICE_ERR_PRODUCER_FENCED' });

    await fresh.send({ topic: 'out', messages: [{ value: 'fresh', partition: 1 }] });
    await fresh.commit();
    expect(fake.transactions.at(-1)).toMatchObject({ producerEpoch: 1, committed: true, partitions: ['out/1'] });
  });

  it('a batch that fails for good leaves only abort; calls outside a transaction, a second transaction at once and settings that conflict are refused', async () => {
    const fake = await cluster();
    const sluice = client(fake);
    expect(() => sluice.producer({ transactionalId: 't', acks: 1 })).toThrow(/SLUICE_ERR_CONFIG/);
    const producer = sluice.producer({ transactionalId: 't', lingerMs: 0 });
    await expect(producer.send({ topic: 'out', messages: [{ value: 'v' }] })).rejects.toMatchObject({ code: 'SLUICE_ERR_INVALID_TXN_STATE' });
    await expect(sluice.producer().transaction()).rejects.toMatchObject({ code: 'SLUICE_ERR_CONFIG' });

    const tx = await producer.transaction();
    await expect(producer.transaction()).rejects.toMatchObject({ code: 'SLUICE_ERR_INVALID_TXN_STATE' });
    fake.produce = () => ({ errorCode: errorCodes.SLUICE_ERR_MESSAGE_TOO_LARGE.wire, errorMessage: 'too large' });
    await expect(tx.send({ topic: 'out', messages: [{ value: 'big', partition: 0 }] })).rejects.toMatchObject({ code: 'SLUICE_ERR_MESSAGE_TOO_LARGE' });
    await expect(tx.commit()).rejects.toMatchObject({ code: 'SLUICE_ERR_INVALID_TXN_STATE', message: expect.stringMatching(/abort it/) });
    fake.produce = undefined;
    await tx.abort();
    expect(fake.transactions).toMatchObject([{ committed: false, partitions: ['out/0'] }]);
    await expect(tx.send({ topic: 'out', messages: [{ value: 'after', partition: 0 }] })).rejects.toMatchObject({ code: 'SLUICE_ERR_INVALID_TXN_STATE' });

    // The producer goes on with a new transaction, under a bumped epoch: the failed batch left a
    // gap in out/0's sequence, so sequences start at 0 again (KIP-360).
    const next = await producer.transaction();
    expect(fake.seen(Api.INIT_PRODUCER_ID).at(-1)!.body).toMatchObject({ transactionalId: 't', producerId: 1000, producerEpoch: 0 });
    await next.send({ topic: 'out', messages: [{ value: 'ok', partition: 0 }] });
    await next.commit();
    expect(fake.transactions.at(-1)).toMatchObject({ committed: true, producerEpoch: 1 });
  });

  it('admin: listTransactions asks every broker and merges, describeTransactions asks each id\'s coordinator', async () => {
    const fake = await cluster();
    const sluice = client(fake);
    const open = await sluice.producer({ transactionalId: 'open-one', lingerMs: 0 }).transaction();
    await open.send({ topic: 'out', messages: [{ value: 'x', partition: 2 }, { value: 'y', partition: 0 }] });
    await sluice.producer({ transactionalId: 'idle-one' }).transaction();
    const admin = sluice.admin();
    expect(await admin.listTransactions()).toEqual([
      { transactionalId: 'idle-one', producerId: 1001, state: 'Empty', coordinatorId: 2 },
      { transactionalId: 'open-one', producerId: 1000, state: 'Ongoing', coordinatorId: 2 },
    ]);
    expect(new Set(fake.seen(Api.LIST_TRANSACTIONS).map((request) => request.nodeId))).toEqual(new Set([0, 1, 2]));
    const [described, unknown] = await admin.describeTransactions(['open-one', 'nobody']);
    expect({ ...described, partitions: [...described!.partitions].sort((a, b) => a.partition - b.partition) }).toEqual({
      transactionalId: 'open-one', coordinatorId: 2, state: 'Ongoing', transactionTimeoutMs: 60_000, transactionStartTimeMs: 1_700_000_000_000,
      producerId: 1000, producerEpoch: 0, partitions: [{ topic: 'out', partition: 0 }, { topic: 'out', partition: 2 }],
    });
    expect(unknown).toMatchObject({ transactionalId: 'nobody', error: { code: 'SLUICE_ERR_TRANSACTIONAL_ID_NOT_FOUND' } });
    expect(fake.seen(Api.DESCRIBE_TRANSACTIONS).every((request) => request.nodeId === 2)).toBe(true);
  });
});
