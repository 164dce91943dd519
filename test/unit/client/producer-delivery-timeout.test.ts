/**
 * The producer's delivery timeout, against a protocol peer that answers produces as a broker
 * that cannot store: every record fails by its own deadline (counted from its send()), all
 * queued batches at once rather than one retry cycle after another, with the partition and
 * the broker's last error; a batch that succeeds on a retry before its deadline resolves.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { errorCodes, SluiceError } from '../../../proto/errors.js';
import { DeliveryError } from '../../../client/producer.js';
import { Sluice } from '../../../client/sluice.js';
import { waitFor } from '../../helpers/broker-process.js';
import { FakeBroker, type FakeBrokerOptions, storageError } from '../../helpers/fake-broker.js';

const open: Array<{ close: () => Promise<void> }> = [];
afterEach(async () => {
  for (const resource of open.splice(0).reverse()) await resource.close();
});

async function setup(produce?: FakeBrokerOptions['produce']) {
  const broker = await FakeBroker.start({ topics: { orders: 2 }, ...(produce === undefined ? {} : { produce }) });
  open.push(broker);
  const sluice = new Sluice({ bootstrap: broker.bootstrap });
  open.push(sluice);
  return { broker, sluice };
}

/** Settles `promise`, noting when it was rejected. */
function settle<T>(promise: Promise<T>): Promise<{ error: unknown; at: number }> {
  return promise.then(() => ({ error: undefined, at: Date.now() }), (error: unknown) => ({ error, at: Date.now() }));
}

const value = 'x'.repeat(100);

describe('producer delivery timeout', () => {
  it('fails every queued batch of a partition at once when the delivery timeout passes', async () => {
    const { broker, sluice } = await setup();
    const producer = sluice.producer({ deliveryTimeoutMs: 1500, batchSize: 300, lingerMs: 0, retryBackoffMs: 50 });
    const started = Date.now();
    // Twenty records of ~120 bytes in batches of ~300 bytes: several batches queue behind the one in flight.
    const sends = Array.from({ length: 4 }, () => settle(producer.send({ topic: 'orders', messages: Array.from({ length: 5 }, () => ({ value, partition: 0 })) })));
    const outcomes = await Promise.all(sends);
    const flushed = Date.now();
    await producer.flush();
    for (const { error, at } of outcomes) {
      expect(SluiceError.is(error)).toBe(true);
      const failure = error as SluiceError;
      expect(failure.code).toBe('SLUICE_ERR_TIMEOUT');
      expect(failure.detail).toMatch(/^delivery to orders\/0 timed out: \d+ records? (still queued|not acknowledged) 1500 ms after send\(\)/);
      expect(failure.detail).toContain('no space left on device');
      expect((failure.cause as SluiceError).code).toBe('SLUICE_ERR_STORAGE');
      // One deadline for all: not one retry cycle per queued batch after another.
      expect(at - started).toBeGreaterThanOrEqual(1450);
      expect(at - started).toBeLessThan(1500 + 1000);
    }
    expect(Date.now() - flushed).toBeLessThan(200);
    expect(broker.produces.length).toBeGreaterThan(3);
    expect(producer.bufferedBytes).toBe(0);
  });

  it('fails records sent at different times each by its own deadline', async () => {
    const { broker, sluice } = await setup();
    const producer = sluice.producer({ deliveryTimeoutMs: 1200, lingerMs: 0, retryBackoffMs: 50 });
    const firstSent = Date.now();
    const first = settle(producer.send({ topic: 'orders', messages: [{ value: 'first', partition: 1 }] }));
    // The second record is sent while the first is being retried, so it queues behind it.
    await waitFor('the first record to be retried twice', () => broker.produces.length >= 3);
    const secondSent = Date.now();
    const second = settle(producer.send({ topic: 'orders', messages: [{ value: 'second', partition: 1 }] }));
    const [one, two] = await Promise.all([first, second]);
    expect((one.error as SluiceError).code).toBe('SLUICE_ERR_TIMEOUT');
    expect((two.error as SluiceError).code).toBe('SLUICE_ERR_TIMEOUT');
    expect(one.at - firstSent).toBeGreaterThanOrEqual(1150);
    expect(one.at - firstSent).toBeLessThan(1200 + 700);
    expect(two.at - secondSent).toBeGreaterThanOrEqual(1150);
    expect(two.at - secondSent).toBeLessThan(1200 + 700);
    // The second was retried on its own after the first gave up, until its own deadline.
    expect(broker.produces.filter((produce) => produce.at > one.at).length).toBeGreaterThan(0);
  });

  it('resolves a batch that succeeds on a retry before its deadline', async () => {
    const { broker, sluice } = await setup((attempt) => (attempt.attempt < 3 ? storageError() : { errorCode: 0 }));
    const producer = sluice.producer({ deliveryTimeoutMs: 5000, lingerMs: 0, retryBackoffMs: 20 });
    const sent = await producer.send({ topic: 'orders', messages: Array.from({ length: 3 }, (_, index) => ({ value: `v${index}`, partition: 0 })) });
    expect(sent).toEqual([0, 1, 2].map((offset) => ({ topic: 'orders', partition: 0, offset })));
    expect(broker.produces).toHaveLength(4);
  });

  it('names the partition and record count when the broker refuses for good', async () => {
    const { sluice } = await setup(() => ({ errorCode: errorCodes.SLUICE_ERR_INVALID_RECORD.wire, errorMessage: 'record 2 has offset delta 7' }));
    const producer = sluice.producer({ lingerMs: 0 });
    const { error } = await settle(producer.send({ topic: 'orders', messages: [{ value: 'a', partition: 1 }, { value: 'b', partition: 1 }] }));
    expect(error).toMatchObject({ code: 'SLUICE_ERR_INVALID_RECORD', detail: 'delivery to orders/1 failed for 2 records: record 2 has offset delta 7' });
  });
});

describe('a send whose partitions fare differently', () => {
  it('rejects with a DeliveryError that says which records were delivered and how many were not', async () => {
    const { sluice } = await setup((attempt) => (attempt.partition === 0 ? storageError() : { errorCode: 0 }));
    const producer = sluice.producer({ deliveryTimeoutMs: 800, lingerMs: 0, retryBackoffMs: 50 });
    const messages = [0, 1, 0, 1, 1].map((partition, index) => ({ value: `m${index}`, partition }));
    const error = await producer.send({ topic: 'orders', messages }).then(() => undefined, (failure: unknown) => failure);
    expect(error).toBeInstanceOf(DeliveryError);
    const delivery = error as DeliveryError;
    expect(delivery.code).toBe('SLUICE_ERR_TIMEOUT');
    expect(delivery.failedRecords).toBe(2);
    expect(delivery.results.map((result) => result?.partition)).toEqual([undefined, 1, undefined, 1, 1]);
    expect(delivery.results.filter((result) => result !== undefined).map((result) => result!.offset)).toEqual([0, 1, 2]);
  });
});
