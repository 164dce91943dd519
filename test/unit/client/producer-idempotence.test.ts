/**
 * The idempotent producer against fake brokers that check producer ids and sequence numbers
 * as a broker does (test/helpers/fake-broker.ts, `idempotence: true`): batches numbered from 0
 * per partition, up to 5 in flight, the same bytes sent again after a lost answer or a failure
 * (the broker answers a copy with the original offset), order kept across a failure in the
 * middle of the window and across a leader change, a new producer id when the leader lost the
 * producer's state, fencing, and the settings that conflict.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Sluice } from '../../../client/sluice.js';
import type { ClientLogger } from '../../../client/logger.js';
import { errorCodes } from '../../../proto/errors.js';
import { Api, type ProduceRequest } from '../../../proto/messages.js';
import { decodeRecords, readBatchHeader } from '../../../proto/record-batch/record-batch.js';
import { FakeCluster } from '../../helpers/fake-broker.js';

const open: Array<{ close: () => Promise<void> }> = [];
afterEach(async () => {
  for (const resource of open.splice(0).reverse()) await resource.close();
});

async function cluster(brokers: number, topics: Record<string, number>): Promise<FakeCluster> {
  const started = await FakeCluster.start({ brokers, topics, idempotence: true });
  open.push(started);
  return started;
}

function client(fake: FakeCluster, logger?: ClientLogger): Sluice {
  const sluice = new Sluice({ bootstrap: fake.bootstrap, connectTimeoutMs: 2000, requestTimeoutMs: 2000, metadataRefreshBackoffMs: 20, logger });
  open.push(sluice);
  return sluice;
}

function capturingLogger(): ClientLogger & { warnings: Array<{ object: object; message: string }> } {
  const warnings: Array<{ object: object; message: string }> = [];
  return { warnings, warn: (object, message) => warnings.push({ object, message }), info: () => {}, debug: () => {} };
}

/** The values stored in a fake partition's log, in offset order. */
function stored(fake: FakeCluster, topic: string, partition: number): string[] {
  return fake.partition(topic, partition).batches.flatMap((batch) => decodeRecords(batch.bytes).map((record) => record.value!.toString()));
}

/** Every produce batch the fake got for one partition: producer id, epoch, base sequence, records. */
function sentBatches(fake: FakeCluster, partition = 0): Array<{ producerId: number; producerEpoch: number; baseSequence: number; count: number; bytes: Buffer }> {
  return fake.seen(Api.PRODUCE).flatMap((request) => (request.body as ProduceRequest).topics.flatMap((topic) => topic.partitions
    .filter((entry) => entry.partition === partition)
    .map((entry) => {
      const header = readBatchHeader(entry.records);
      return { producerId: header.producerId, producerEpoch: header.producerEpoch, baseSequence: header.baseSequence, count: header.lastOffsetDelta + 1, bytes: Buffer.from(entry.records) };
    })));
}

/** Sends values 0..count-1 to one partition as `count / perSend` concurrent sends; resolves with every record's offset. */
async function sendNumbers(sluice: Sluice, count: number, perSend: number, options: Parameters<Sluice['producer']>[0] = {}): Promise<number[]> {
  const producer = sluice.producer({ lingerMs: 0, batchSize: 200, ...options });
  const sends = [];
  for (let start = 0; start < count; start += perSend) {
    sends.push(producer.send({ topic: 'orders', messages: Array.from({ length: Math.min(perSend, count - start) }, (_, index) => ({ value: String(start + index), partition: 0 })) }));
  }
  return (await Promise.all(sends)).flat().map((record) => record.offset);
}

const numbers = (count: number) => Array.from({ length: count }, (_, index) => String(index));

describe('idempotent producer', () => {
  it('gets a producer id once, numbers each partition from 0 and stamps every batch', async () => {
    const fake = await cluster(1, { orders: 2 });
    const producer = client(fake).producer({ lingerMs: 0 });
    await producer.send({ topic: 'orders', messages: [{ value: 'a', partition: 0 }, { value: 'b', partition: 0 }, { value: 'c', partition: 1 }] });
    await producer.send({ topic: 'orders', messages: [{ value: 'd', partition: 0 }, { value: 'e', partition: 1 }] });
    expect(fake.producerIds).toEqual([1000]);
    expect(sentBatches(fake, 0).map(({ producerId, producerEpoch, baseSequence, count }) => ({ producerId, producerEpoch, baseSequence, count })))
      .toEqual([{ producerId: 1000, producerEpoch: 0, baseSequence: 0, count: 2 }, { producerId: 1000, producerEpoch: 0, baseSequence: 2, count: 1 }]);
    expect(sentBatches(fake, 1).map((batch) => batch.baseSequence)).toEqual([0, 1]);
    // acks=all: idempotence needs every in-sync replica to have the batch.
    expect(fake.seen(Api.PRODUCE).every((request) => (request.body as ProduceRequest).acks === -1)).toBe(true);
  });

  it('keeps up to 5 batches of a partition in flight (maxInFlight), no more', async () => {
    const fake = await cluster(1, { orders: 1 });
    let inFlight = 0;
    let most = 0;
    fake.holdAnswerMs = (_node, request) => {
      if (request.api !== Api.PRODUCE) return 0;
      inFlight += 1;
      most = Math.max(most, inFlight);
      setTimeout(() => { inFlight -= 1; }, 30);
      return 30;
    };
    const offsets = await sendNumbers(client(fake), 200, 10);
    expect(most).toBe(5);
    expect(stored(fake, 'orders', 0)).toEqual(numbers(200));
    expect(offsets).toEqual(Array.from({ length: 200 }, (_, index) => index));
    most = 0;
    await sendNumbers(client(fake), 50, 10, { maxInFlight: 2 });
    expect(most).toBe(2);
  });

  it('a lost answer: the same bytes are sent again, the broker answers with the original offset, the record is stored once', async () => {
    const fake = await cluster(1, { orders: 1 });
    let produces = 0;
    // The 3rd and 7th produce are written, but their answers are lost with the connection.
    fake.dropAnswer = (_node, request) => request.api === Api.PRODUCE && [3, 7].includes(++produces);
    const offsets = await sendNumbers(client(fake), 100, 5);
    expect(stored(fake, 'orders', 0)).toEqual(numbers(100));
    expect(offsets).toEqual(Array.from({ length: 100 }, (_, index) => index));
    // Every sequence number went out with one content only: resends were byte for byte.
    const bySequence = new Map<number, Buffer>();
    for (const batch of sentBatches(fake)) {
      const earlier = bySequence.get(batch.baseSequence);
      if (earlier !== undefined) expect(batch.bytes.subarray(12).equals(earlier.subarray(12))).toBe(true);
      bySequence.set(batch.baseSequence, batch.bytes);
    }
    expect(sentBatches(fake).length).toBeGreaterThan(bySequence.size);
  });

  it('a failure in the middle of the window: the later batches fail too, then all go again in sequence order', async () => {
    const fake = await cluster(1, { orders: 1 });
    fake.holdAnswerMs = (_node, request) => (request.api === Api.PRODUCE ? 5 : 0);
    // One retriable refusal at the 4th produce; the broker then refuses the next batches' gap.
    fake.produce = (attempt) => (attempt.attempt === 3 ? { errorCode: errorCodes.SLUICE_ERR_NOT_ENOUGH_REPLICAS.wire, errorMessage: 'too few in sync' } : undefined);
    await sendNumbers(client(fake), 150, 5);
    expect(stored(fake, 'orders', 0)).toEqual(numbers(150));
    const answers = fake.produces.length;
    expect(answers).toBeGreaterThan(30);
  });

  it('a leader change in the middle: batches follow the new leader in order, none twice', async () => {
    const fake = await cluster(3, { orders: 1 });
    fake.holdAnswerMs = (_node, request) => (request.api === Api.PRODUCE ? 5 : 0);
    // The leadership moves while batches are in flight: the old leader refuses the ones after.
    fake.produce = (attempt) => {
      if (attempt.attempt === 20) fake.moveLeader('orders', 0, 1);
      if (attempt.attempt === 50) fake.moveLeader('orders', 0, 2);
      return undefined;
    };
    await sendNumbers(client(fake), 300, 5);
    expect(stored(fake, 'orders', 0)).toEqual(numbers(300));
    expect(new Set(fake.produces.map((attempt) => attempt.nodeId))).toEqual(new Set([0, 1, 2]));
  });

  it('a leader that lost the producer\'s state: a new producer id, sequences from 0 again, a warning, nothing lost or doubled', async () => {
    const fake = await cluster(1, { orders: 1 });
    const logger = capturingLogger();
    const producer = client(fake, logger).producer({ lingerMs: 0 });
    await producer.send({ topic: 'orders', messages: [{ value: '0', partition: 0 }, { value: '1', partition: 0 }] });
    fake.forgetProducers('orders', 0);
    await producer.send({ topic: 'orders', messages: [{ value: '2', partition: 0 }] });
    await producer.send({ topic: 'orders', messages: [{ value: '3', partition: 0 }] });
    expect(stored(fake, 'orders', 0)).toEqual(numbers(4));
    expect(fake.producerIds).toEqual([1000, 1001]);
    const batches = sentBatches(fake).map(({ producerId, baseSequence }) => [producerId, baseSequence]);
    expect(batches.at(-2)).toEqual([1001, 0]);
    expect(batches.at(-1)).toEqual([1001, 1]);
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]!.message).toMatch(/lost this producer's sequence state/);
  });

  it('fenced (INVALID_PRODUCER_EPOCH): pending sends fail with it, and so does every later send', async () => {
    const fake = await cluster(1, { orders: 1 });
    const producer = client(fake).producer({ lingerMs: 0 });
    await producer.send({ topic: 'orders', messages: [{ value: 'ok', partition: 0 }] });
    fake.produce = () => ({ errorCode: errorCodes.SLUICE_ERR_INVALID_PRODUCER_EPOCH.wire, errorMessage: 'a newer epoch wrote' });
    await expect(producer.send({ topic: 'orders', messages: [{ value: 'no', partition: 0 }] })).rejects.toMatchObject({ code: 'SLUICE_ERR_INVALID_PRODUCER_EPOCH' });
    fake.produce = undefined;
    await expect(producer.send({ topic: 'orders', messages: [{ value: 'later', partition: 0 }] })).rejects.toMatchObject({ code: 'SLUICE_ERR_INVALID_PRODUCER_EPOCH' });
    expect(stored(fake, 'orders', 0)).toEqual(['ok']);
  });

  it('settings: acks 0/1 with idempotent: true is refused naming both; acks 1 alone is the at-least-once producer; maxInFlight is 1..5', async () => {
    const fake = await cluster(1, { orders: 1 });
    const sluice = client(fake);
    expect(() => sluice.producer({ acks: 1, idempotent: true })).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_CONFIG', message: expect.stringMatching(/idempotent: true.*acks/) }));
    expect(() => sluice.producer({ acks: 0, idempotent: true })).toThrow(/SLUICE_ERR_CONFIG/);
    expect(() => sluice.producer({ maxInFlight: 6 })).toThrow(/maxInFlight must be 1\.\.5/);
    expect(() => sluice.producer({ idempotent: false, maxInFlight: 5 })).toThrow(/needs idempotent: true/);
    expect(() => sluice.producer({ transactionalId: 'x', idempotent: false })).toThrow(/SLUICE_ERR_CONFIG/);
    const plain = sluice.producer({ acks: 1, lingerMs: 0 });
    await plain.send({ topic: 'orders', messages: [{ value: 'v', partition: 0 }] });
    const notIdempotent = sluice.producer({ idempotent: false, lingerMs: 0 });
    await notIdempotent.send({ topic: 'orders', messages: [{ value: 'w', partition: 0 }] });
    expect(fake.producerIds).toEqual([]);
    expect(sentBatches(fake).map((batch) => batch.producerId)).toEqual([-1, -1]);
  });

  it('sequence numbers wrap from 2^31-1 to 0 as Kafka\'s do', async () => {
    const { nextSequence } = await import('../../../client/producer.js');
    expect(nextSequence(0, 5)).toBe(5);
    expect(nextSequence(0x7fffffff - 2, 2)).toBe(0x7fffffff);
    expect(nextSequence(0x7fffffff - 2, 3)).toBe(0);
    expect(nextSequence(0x7fffffff, 1)).toBe(0);
  });
});
