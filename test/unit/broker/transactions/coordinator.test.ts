/**
 * The transaction coordinator over real logs (a TopicManager in a temp dir, `__transaction_state`
 * with 3 partitions) and a marker sender the test controls: ids and epochs, the producer checks
 * (INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED), the two-phase end with markers after the
 * answer and CONCURRENT_TRANSACTIONS meanwhile, retried EndTxn, fencing a zombie's open
 * transaction, the timeout abort, id expiry, and a restarted coordinator finishing a
 * PrepareCommit it finds in the log.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TransactionCoordinator } from '../../../../broker/transactions/coordinator.js';
import { LocalTxnStatePartitions } from '../../../../broker/transactions/local-txn-partitions.js';
import type { Marker } from '../../../../broker/transactions/marker-sender.js';
import type { TxnPartition } from '../../../../broker/transactions/txn-record.js';
import { TxnStateStore } from '../../../../broker/transactions/txn-store.js';
import { TopicManager } from '../../../../broker/topics/topic-manager.js';

const logger = pino({ level: 'silent' });

interface Sent { marker: Marker; partitions: TxnPartition[] }

class FakeMarkers {
  readonly sent: Sent[] = [];
  held = false;
  #release: Array<() => void> = [];
  async send(marker: Marker, partitions: readonly TxnPartition[]): Promise<void> {
    this.sent.push({ marker, partitions: [...partitions] });
    if (this.held) await new Promise<void>((resolve) => this.#release.push(resolve));
  }
  release(): void {
    this.held = false;
    for (const resolve of this.#release.splice(0)) resolve();
  }
  close(): void {}
}

let directory: string;
let topics: TopicManager;
let markers: FakeMarkers;
let coordinator: TransactionCoordinator;
let clock: number;
let nextProducerId: number;

function open(): void {
  topics = new TopicManager(directory, {}, () => {});
  topics.open();
  markers = new FakeMarkers();
  let made: TransactionCoordinator | undefined;
  const store = new TxnStateStore(new LocalTxnStatePartitions(topics, 3), { logger, onLoaded: (shard) => made?.resume(shard) });
  made = new TransactionCoordinator({ store, markers, allocateProducerId: async () => nextProducerId++, maxTimeoutMs: 60_000, logger, now: () => clock });
  coordinator = made;
  store.start();
}

function close(): void {
  coordinator.close();
  coordinator.store.close();
  topics.close();
}

beforeEach(() => {
  directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-txn-coordinator-'));
  clock = 1_000_000;
  nextProducerId = 1000;
  open();
});

afterEach(() => {
  close();
  fs.rmSync(directory, { recursive: true, force: true });
});

const orders = [{ topic: 'orders', partition: 0 }, { topic: 'orders', partition: 1 }];

async function begin(transactionalId: string): Promise<{ producerId: number; producerEpoch: number }> {
  const producer = await coordinator.initProducer({ transactionalId, transactionTimeoutMs: 10_000 });
  await coordinator.addPartitions({ transactionalId, ...producer }, orders);
  return producer;
}

describe('transaction coordinator', () => {
  it('gives a new id epoch 0 and bumps the epoch on each InitProducerId', async () => {
    expect(await coordinator.initProducer({ transactionalId: 'a', transactionTimeoutMs: 1000 })).toEqual({ producerId: 1000, producerEpoch: 0 });
    expect(await coordinator.initProducer({ transactionalId: 'a', transactionTimeoutMs: 1000 })).toEqual({ producerId: 1000, producerEpoch: 1 });
    expect(await coordinator.initProducer({ transactionalId: 'b', transactionTimeoutMs: 1000 })).toEqual({ producerId: 1001, producerEpoch: 0 });
    await expect(coordinator.initProducer({ transactionalId: 'a', transactionTimeoutMs: 60_001 })).rejects.toMatchObject({ code: 'SLUICE_ERR_INVALID_TRANSACTION_TIMEOUT' });
    await expect(coordinator.initProducer({ transactionalId: 'a', transactionTimeoutMs: 0 })).rejects.toMatchObject({ code: 'SLUICE_ERR_INVALID_TRANSACTION_TIMEOUT' });
  });

  it('checks the producer id and epoch of every call', async () => {
    const producer = await coordinator.initProducer({ transactionalId: 'a', transactionTimeoutMs: 1000 });
    await expect(coordinator.addPartitions({ transactionalId: 'nobody', ...producer }, orders)).rejects.toMatchObject({ code: 'SLUICE_ERR_INVALID_PRODUCER_ID_MAPPING' });
    await expect(coordinator.addPartitions({ transactionalId: 'a', producerId: 5, producerEpoch: 0 }, orders)).rejects.toMatchObject({ code: 'SLUICE_ERR_INVALID_PRODUCER_ID_MAPPING' });
    await expect(coordinator.addPartitions({ transactionalId: 'a', producerId: producer.producerId, producerEpoch: 3 }, orders)).rejects.toMatchObject({ code: 'SLUICE_ERR_PRODUCER_FENCED' });
    await expect(coordinator.endTxn({ transactionalId: 'a', ...producer, committed: true })).rejects.toMatchObject({ code: 'SLUICE_ERR_INVALID_TXN_STATE' });
  });

  it('commits in two phases: answered at PrepareCommit, markers, then CompleteCommit; retries answered', async () => {
    const producer = await begin('a');
    expect(coordinator.describe('a')).toMatchObject({ state: 'Ongoing', transactionStartTimeMs: clock, topics: [{ name: 'orders', partitions: [0, 1] }] });
    markers.held = true;
    await coordinator.endTxn({ transactionalId: 'a', ...producer, committed: true });
    expect(coordinator.describe('a').state).toBe('PrepareCommit');
    expect(markers.sent).toEqual([{ marker: { ...producer, committed: true, coordinatorEpoch: 0 }, partitions: orders }]);
    await expect(coordinator.endTxn({ transactionalId: 'a', ...producer, committed: true })).rejects.toMatchObject({ code: 'SLUICE_ERR_CONCURRENT_TRANSACTIONS' });
    await expect(coordinator.addPartitions({ transactionalId: 'a', ...producer }, orders)).rejects.toMatchObject({ code: 'SLUICE_ERR_CONCURRENT_TRANSACTIONS' });
    await expect(coordinator.initProducer({ transactionalId: 'a', transactionTimeoutMs: 1000 })).rejects.toMatchObject({ code: 'SLUICE_ERR_CONCURRENT_TRANSACTIONS' });
    markers.release();
    await coordinator.completion('a');
    expect(coordinator.describe('a')).toMatchObject({ state: 'CompleteCommit', topics: [] });
    expect(coordinator.counters.committed).toBe(1);
    await coordinator.endTxn({ transactionalId: 'a', ...producer, committed: true });
    await expect(coordinator.endTxn({ transactionalId: 'a', ...producer, committed: false })).rejects.toMatchObject({ code: 'SLUICE_ERR_INVALID_TXN_STATE' });
    // The next transaction of the same producer.
    await coordinator.addPartitions({ transactionalId: 'a', ...producer }, [{ topic: 'orders', partition: 1 }]);
    await coordinator.endTxn({ transactionalId: 'a', ...producer, committed: false });
    await coordinator.completion('a');
    expect(coordinator.describe('a').state).toBe('CompleteAbort');
    expect(markers.sent[1]).toEqual({ marker: { ...producer, committed: false, coordinatorEpoch: 0 }, partitions: [{ topic: 'orders', partition: 1 }] });
  });

  it('a new producer fences the old one and aborts its open transaction under the new epoch', async () => {
    const zombie = await begin('a');
    await expect(coordinator.initProducer({ transactionalId: 'a', transactionTimeoutMs: 1000 })).rejects.toMatchObject({ code: 'SLUICE_ERR_CONCURRENT_TRANSACTIONS' });
    await coordinator.completion('a');
    expect(markers.sent).toEqual([{ marker: { producerId: zombie.producerId, producerEpoch: 1, committed: false, coordinatorEpoch: 0 }, partitions: orders }]);
    expect(await coordinator.initProducer({ transactionalId: 'a', transactionTimeoutMs: 1000 })).toEqual({ producerId: zombie.producerId, producerEpoch: 2 });
    await expect(coordinator.addPartitions({ transactionalId: 'a', ...zombie }, orders)).rejects.toMatchObject({ code: 'SLUICE_ERR_PRODUCER_FENCED' });
    await expect(coordinator.endTxn({ transactionalId: 'a', ...zombie, committed: true })).rejects.toMatchObject({ code: 'SLUICE_ERR_PRODUCER_FENCED' });
  });

  it('aborts a transaction open longer than its timeout, fencing its producer', async () => {
    const producer = await begin('a');
    await begin('b');
    clock += 10_000;
    expect(await coordinator.abortTimedOut()).toBe(0);
    await coordinator.addPartitions({ transactionalId: 'b', ...producer, producerId: producer.producerId + 1 }, [{ topic: 'more', partition: 0 }]);
    clock += 1;
    expect(await coordinator.abortTimedOut()).toBe(2);
    await coordinator.completion('a');
    expect(coordinator.describe('a')).toMatchObject({ state: 'CompleteAbort', producerEpoch: 1 });
    expect(coordinator.counters).toMatchObject({ timedOut: 2, aborted: 2 });
    await expect(coordinator.endTxn({ transactionalId: 'a', ...producer, committed: true })).rejects.toMatchObject({ code: 'SLUICE_ERR_PRODUCER_FENCED' });
  });

  it('forgets ids idle past the expiration, not open ones', async () => {
    await coordinator.initProducer({ transactionalId: 'idle', transactionTimeoutMs: 1000 });
    await begin('open');
    clock += 5000;
    expect(await coordinator.expireIds(4000)).toBe(1);
    expect(() => coordinator.describe('idle')).toThrow(/not known/);
    expect(coordinator.list().map((entry) => entry.transactionalId)).toEqual(['open']);
    expect(coordinator.list({ minDurationMs: 5000 }).map((entry) => entry.transactionalId)).toEqual(['open']);
    expect(coordinator.list({ minDurationMs: 5001 })).toEqual([]);
    close();
    open();
    expect(coordinator.list().map((entry) => entry.transactionalId)).toEqual(['open']);
  });

  it('a restarted coordinator loads the ids and finishes a PrepareCommit it finds', async () => {
    const producer = await begin('a');
    markers.held = true;
    await coordinator.endTxn({ transactionalId: 'a', ...producer, committed: true });
    close();
    open();
    expect(markers.sent).toEqual([{ marker: { ...producer, committed: true, coordinatorEpoch: 0 }, partitions: orders }]);
    await coordinator.completion('a');
    expect(coordinator.describe('a').state).toBe('CompleteCommit');
    expect(await coordinator.initProducer({ transactionalId: 'a', transactionTimeoutMs: 1000 })).toEqual({ producerId: producer.producerId, producerEpoch: 1 });
    expect(coordinator.list({ states: ['Empty'] })).toEqual([{ transactionalId: 'a', producerId: producer.producerId, state: 'Empty' }]);
    expect(coordinator.countsByState()).toMatchObject({ Empty: 1, Ongoing: 0 });
  });
});
