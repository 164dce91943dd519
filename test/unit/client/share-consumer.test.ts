/**
 * The share consumer's acknowledgements: merged into offset ranges (consecutive offsets of one
 * partition with one outcome), piggybacked on the next ShareFetch or sent alone by
 * ShareAcknowledge (linger, close); each ack's promise settles with the coordinator's answer,
 * a refused range of several records is asked again record by record so only the records
 * really refused reject with SLUICE_ERR_INVALID_RECORD_STATE. Also: rejoining after
 * UNKNOWN_MEMBER_ID and following a coordinator that moved. Against FakeCluster's share
 * coordinator (test/helpers/fake-share.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type PendingAck, settle, toRanges } from '../../../client/share/ack-batcher.js';
import type { ShareConsumer, ShareRecord } from '../../../client/share-consumer.js';
import { Sluice } from '../../../client/sluice.js';
import { SluiceError } from '../../../proto/errors.js';
import { Api, ShareAckType, type ShareAckTypeValue, type ShareHeartbeatRequest } from '../../../proto/messages.js';
import { buildRecordBatch } from '../../../proto/record-batch/record-batch.js';
import { waitFor } from '../../helpers/broker-process.js';
import { FakeCluster } from '../../helpers/fake-broker.js';

const noop = () => {};
const ack = (partition: number, offset: number, type: ShareAckTypeValue = ShareAckType.ACCEPT, extra: Partial<PendingAck> = {}): PendingAck => ({
  topic: 'jobs', partition, offset, type, delayMs: 0, reason: '', membership: 1, resolve: noop, reject: noop, ...extra,
});

describe('ack ranges', () => {
  it('merges consecutive offsets of one partition and outcome, and splits on a gap, a partition, an outcome, a delay or a reason', () => {
    const batch = toRanges([
      ack(0, 3), ack(0, 1), ack(0, 2), ack(0, 5), ack(1, 6), ack(1, 7, ShareAckType.RELEASE), ack(1, 8, ShareAckType.RELEASE),
      ack(1, 9, ShareAckType.RELEASE, { delayMs: 500 }), ack(1, 10, ShareAckType.REJECT, { reason: 'bad' }), ack(1, 11, ShareAckType.REJECT, { reason: 'worse' }),
    ]);
    expect(batch.ranges.map((range) => [range.partition, range.firstOffset, range.lastOffset, range.type, range.delayMs ?? 0, range.reason ?? ''])).toEqual([
      [0, 1, 3, 1, 0, ''], [0, 5, 5, 1, 0, ''], [1, 6, 6, 1, 0, ''], [1, 7, 8, 2, 0, ''], [1, 9, 9, 2, 500, ''], [1, 10, 10, 3, 0, 'bad'], [1, 11, 11, 3, 0, 'worse'],
    ]);
    expect(batch.acks.map((acks) => acks.length)).toEqual([3, 1, 1, 2, 1, 1, 1]);
  });

  it('keeps a renew and an accept of one offset apart and in order', () => {
    const batch = toRanges([ack(0, 4, ShareAckType.RENEW), ack(0, 4)]);
    expect(batch.ranges.map((range) => range.type)).toEqual([ShareAckType.RENEW, ShareAckType.ACCEPT]);
  });

  it('resolves answered ranges, hands a refused range of several records back to be asked one by one, and rejects a refused single record', () => {
    const outcomes: string[] = [];
    const tracked = (offset: number) => ack(0, offset, ShareAckType.ACCEPT, { resolve: () => outcomes.push(`${offset} ok`), reject: (error) => outcomes.push(`${offset} ${(error as SluiceError).code}`) });
    const batch = toRanges([tracked(1), tracked(2), tracked(4), tracked(5), tracked(7)]);
    const result = (first: number, last: number, errorCode: number) => ({ topic: 'jobs', partition: 0, firstOffset: first, lastOffset: last, errorCode, errorMessage: '' });
    const again = settle(batch, [result(1, 2, 0), result(4, 5, 121), result(7, 7, 121)]);
    expect(outcomes).toEqual(['1 ok', '2 ok', '7 SLUICE_ERR_INVALID_RECORD_STATE']);
    expect(again.map((entry) => entry.offset)).toEqual([4, 5]);
  });
});

describe('share consumer against a fake coordinator', () => {
  let cluster: FakeCluster | undefined;
  let sluice: Sluice | undefined;
  afterEach(async () => {
    await sluice?.close();
    await cluster?.close();
    sluice = undefined;
    cluster = undefined;
  });

  async function start(brokers = 1, records = 20): Promise<FakeCluster> {
    cluster = await FakeCluster.start({ brokers, topics: { jobs: 1 } });
    cluster.share.heartbeatIntervalMs = 50;
    for (let start = 0; start < records; start += 10) {
      cluster.append('jobs', 0, buildRecordBatch(Array.from({ length: 10 }, (_, index) => ({ key: null, value: Buffer.from(`job-${start + index}`), timestamp: Date.now() }))));
    }
    sluice = new Sluice({ bootstrap: cluster.bootstrap, requestTimeoutMs: 3000, connectTimeoutMs: 2000 });
    return cluster;
  }

  async function take(consumer: ShareConsumer, count: number): Promise<ShareRecord[]> {
    const taken: ShareRecord[] = [];
    const deadline = Date.now() + 5000;
    while (taken.length < count && Date.now() < deadline) taken.push(...await consumer.poll({ timeoutMs: 200 }));
    return taken;
  }

  it('hands out acquired records with their delivery count and sends their acks as one range on the next fetch', async () => {
    const fake = await start(1, 20);
    const consumer = sluice!.consumer({ groupId: 'workers', share: true, maxInFlight: 10, ackLingerMs: 1000 });
    consumer.subscribe(['jobs']);
    const first = await take(consumer, 10);
    expect(first.map((record) => [record.offset, record.deliveryCount, record.value?.toString()])).toEqual(Array.from({ length: 10 }, (_, index) => [index, 1, `job-${index}`]));
    const answered = Promise.all(first.map((record) => record.ack()));
    const second = await take(consumer, 10);
    expect(second.map((record) => record.offset)).toEqual(Array.from({ length: 10 }, (_, index) => 10 + index));
    await answered;
    expect(fake.share.acks.map(({ api, range }) => [api, range.firstOffset, range.lastOffset, range.type])).toEqual([[Api.SHARE_FETCH, 0, 9, ShareAckType.ACCEPT]]);
    // Nothing more is coming: close sends the rest alone, then leaves, which frees what is left.
    void second[0]!.release({ delayMs: 250 });
    void second[1]!.reject('poison');
    await consumer.close();
    expect(fake.share.acks.slice(1).map(({ api, range }) => [api, range.firstOffset, range.lastOffset, range.type, range.delayMs ?? 0, range.reason ?? ''])).toEqual([
      [Api.SHARE_ACKNOWLEDGE, 10, 10, ShareAckType.RELEASE, 250, ''], [Api.SHARE_ACKNOWLEDGE, 11, 11, ShareAckType.REJECT, 0, 'poison'],
    ]);
    const beats = fake.seen(Api.SHARE_HEARTBEAT).map((seen) => seen.body as ShareHeartbeatRequest);
    expect(beats.at(-1)?.leave).toBe(true);
    expect(fake.share.state('jobs', 0, 12)?.state).toBe('available');
  });

  it('sends acks alone after the linger when no fetch is coming, and rejects only the records the coordinator refused', async () => {
    const fake = await start(1, 10);
    const consumer = sluice!.consumer({ groupId: 'workers', share: true, maxInFlight: 100, ackLingerMs: 5 });
    consumer.subscribe(['jobs']);
    const records = await take(consumer, 10);
    // Offset 3's lock was lost (another member has it now): the range 0..9 is refused as a whole and asked again one by one.
    fake.share.records.get('jobs/0')!.set(3, { state: 'acquired', member: 'someone-else', count: 2, lockUntil: Date.now() + 60_000 });
    const outcomes = await Promise.allSettled(records.map((record) => record.ack()));
    expect(outcomes.map((outcome) => outcome.status === 'fulfilled' ? 'ok' : (outcome.reason as SluiceError).code)).toEqual(
      records.map((record) => record.offset === 3 ? 'SLUICE_ERR_INVALID_RECORD_STATE' : 'ok'));
    const applied = fake.share.acks.map(({ api, range, errorCode }) => [api, range.firstOffset, range.lastOffset, errorCode]);
    expect(applied[0]).toEqual([Api.SHARE_ACKNOWLEDGE, 0, 9, 121]);
    expect(applied.slice(1)).toHaveLength(10);
    await expect(records[0]!.ack()).rejects.toMatchObject({ code: 'SLUICE_ERR_INVALID_RECORD_STATE' });
  });

  it('joins again after UNKNOWN_MEMBER_ID: the released records come back with a higher delivery count, and acks of the old ones reject', async () => {
    const fake = await start(1, 10);
    const consumer = sluice!.consumer({ groupId: 'workers', share: true, maxInFlight: 10 });
    consumer.subscribe(['jobs']);
    const records = await take(consumer, 10);
    const firstMember = consumer.memberId;
    fake.share.expire(firstMember);
    await waitFor('a new member id', () => consumer.memberId !== '' && consumer.memberId !== firstMember, 5000);
    await expect(records[0]!.ack()).rejects.toMatchObject({ code: 'SLUICE_ERR_INVALID_RECORD_STATE' });
    const again = await take(consumer, 10);
    expect(again.map((record) => [record.offset, record.deliveryCount])).toEqual(Array.from({ length: 10 }, (_, index) => [index, 2]));
    await Promise.all(again.map((record) => record.ack()));
  });

  it('follows the coordinator when it moves (NOT_COORDINATOR) and when its broker goes away', async () => {
    const fake = await start(2, 30);
    const consumer = sluice!.consumer({ groupId: 'workers', share: true, maxInFlight: 10 });
    consumer.subscribe(['jobs']);
    const first = await take(consumer, 10);
    fake.coordinatorId = 1;
    await Promise.all(first.map((record) => record.ack()));
    const second = await take(consumer, 10);
    expect(second.map((record) => record.offset)).toEqual(Array.from({ length: 10 }, (_, index) => 10 + index));
    fake.coordinatorId = 0;
    await fake.node(1).close();
    await Promise.all(second.map((record) => record.ack()));
    const third = await take(consumer, 10);
    expect(third.map((record) => record.offset)).toEqual(Array.from({ length: 10 }, (_, index) => 20 + index));
    await Promise.all(third.map((record) => record.ack()));
    expect(fake.share.acks.every(({ errorCode }) => errorCode === 0)).toBe(true);
  });

  it('never hands out a buffered record whose lock has run out, and renew() extends the lock', async () => {
    const fake = await start(1, 10);
    // Fetches lock for 300 ms (the consumer's lockMs); a renew extends by the group's duration.
    fake.share.lockMs = 5000;
    const consumer = sluice!.consumer({ groupId: 'workers', share: true, maxInFlight: 10, lockMs: 300 });
    consumer.subscribe(['jobs']);
    const [first] = await consumer.poll({ timeoutMs: 3000, maxRecords: 1 });
    expect(first?.offset).toBe(0);
    const lockedUntil = first!.lockExpiresAt;
    await first!.renew();
    // The coordinator extended it by its lock duration; the record counts from the renew's send, never past that.
    expect((fake.share.state('jobs', 0, 0) as { lockUntil: number }).lockUntil).toBeGreaterThan(lockedUntil + 4000);
    expect(first!.lockExpiresAt).toBeGreaterThanOrEqual(lockedUntil);
    await waitFor('the locks of the buffered records to run out', () => Date.now() > lockedUntil, 2000);
    const later = await take(consumer, 9);
    // Offsets 1..9 come again from a new fetch, as second deliveries; never from the stale buffer.
    expect(later.map((record) => [record.offset, record.deliveryCount])).toEqual(Array.from({ length: 9 }, (_, index) => [index + 1, 2]));
    await first!.ack();
    expect(fake.share.state('jobs', 0, 0)?.state).toBe('acked');
  });
});

it('a share consumer needs a group id', () => {
  const sluice = new Sluice({ bootstrap: '127.0.0.1:1' });
  expect(() => sluice.consumer({ groupId: '', share: true })).toThrow(SluiceError);
});
