/**
 * Share groups through the client against a real broker process (QUEUES-ON-A-LOG.md §5):
 * eight members over one partition never hold a record at once and accept each once (5, 7);
 * three releases at share.delivery.limit=3 dead-letter as delivery_limit with the x-death
 * headers, a reject as rejected (9, 15, 16, 17); a stalled member's lock expires between lock
 * and lock + 200 ms and its late ack is refused (11, 12); renew keeps it (10); retry backoff
 * is never early (8, 14); TTL by topic config and headers (19); share.member.max.in.flight
 * caps a member (6) and a member that leaves releases its records (13). The CLI and a classic
 * group's id: share-client-cli.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShareRecord } from '../../client/share-consumer.js';
import { Sluice } from '../../client/sluice.js';
import { cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';
import { header, nextRecord, ShareHarness } from '../helpers/share-e2e.js';
import { acceptAll, ShareTracker } from '../helpers/share-tracker.js';

/** 100k records take about this long here; the bench (bench/share.ts) measures the rate. */
const manyRecords = 100_000;

let sluice: Sluice;
let share: ShareHarness;

beforeAll(async () => {
  const broker = await startBroker({ kafkaPort: 'off' });
  sluice = new Sluice({ bootstrap: broker.bootstrap, requestTimeoutMs: 10_000 });
  share = new ShareHarness(sluice);
});

afterAll(async () => {
  await sluice?.close();
  await cleanupBrokers();
});

describe('share groups through the client', () => {
  it(`eight members over one partition: ${manyRecords} records, none held by two members at once, each accepted once`, async () => {
    await sluice.admin().createTopic('many', { partitions: 1 });
    await share.group('eight', {});
    await share.produce('many', Array.from({ length: manyRecords }, (_, index) => ({ value: `r-${index}` })));
    const tracker = new ShareTracker();
    await acceptAll(sluice, { groupId: 'eight', topic: 'many', members: 8, tracker, done: () => tracker.accepted.size >= manyRecords, timeoutMs: 40_000 });
    expect(tracker.overlaps()).toEqual([]);
    expect(tracker.acceptedTwice()).toEqual([]);
    expect(tracker.deliveredAfterAccept).toEqual([]);
    expect(tracker.accepted.size).toBe(manyRecords);
  }, 60_000);

  it('three releases at share.delivery.limit=3 dead-letter the record as delivery_limit, never delivered a 4th time; a reject dead-letters as rejected', async () => {
    await sluice.admin().createTopic('limited', { partitions: 1 });
    await share.group('limit3', { 'share.delivery.limit': '3', 'share.dlq.topic': 'limited-dlq' });
    await share.produce('limited', [{ key: 'k1', value: 'released', headers: { trace: 'abc' } }, { key: 'k2', value: 'poison' }]);
    const consumer = share.consumer('limit3');
    consumer.subscribe(['limited']);
    const counts: number[] = [];
    try {
      while (counts.length < 4) {
        const { record } = await nextRecord(consumer);
        if (record.value?.toString() === 'poison') {
          await record.reject('cannot parse');
          continue;
        }
        counts.push(record.deliveryCount);
        await record.release();
        if (counts.length === 3) break;
      }
      const dead = await share.readAll('limited-dlq', 2);
      const byValue = new Map(dead.map((record) => [record.value?.toString(), record]));
      const limited = byValue.get('released')!;
      expect(limited.key?.toString()).toBe('k1');
      expect(header(limited, 'trace')).toBe('abc');
      expect([header(limited, 'x-death-reason'), header(limited, 'x-death-count'), header(limited, 'x-death-group'), header(limited, 'x-death-topic'),
        header(limited, 'x-death-partition'), header(limited, 'x-death-offset')]).toEqual(['delivery_limit', '3', 'limit3', 'limited', '0', '0']);
      expect(header(limited, 'x-death-time')).toMatch(/^\d{13}$/);
      expect(header(limited, 'x-death-original-timestamp')).toMatch(/^\d{13}$/);
      expect(header(limited, 'x-first-death-reason')).toBe('delivery_limit');
      const rejected = byValue.get('poison')!;
      expect([header(rejected, 'x-death-reason'), header(rejected, 'x-death-message'), header(rejected, 'x-death-offset')]).toEqual(['rejected', 'cannot parse', '1']);
      // Nothing comes again (a 4th delivery would arrive at once: no backoff is configured).
      expect(await consumer.poll({ timeoutMs: 1500 })).toEqual([]);
      expect(counts).toEqual([1, 2, 3]);
    } finally {
      await consumer.close();
    }
  });

  it('a stalled member\'s lock expires between lock and lock + 200 ms: another member gets the record, the stalled member\'s ack is refused', async () => {
    await sluice.admin().createTopic('stall', { partitions: 1 });
    await share.group('stall', { 'share.record.lock.duration.ms': '1000' });
    const stalled = share.consumer('stall', { maxInFlight: 1, lockMs: 1000 });
    const other = share.consumer('stall', { maxInFlight: 1, lockMs: 1000 });
    stalled.subscribe(['stall']);
    try {
      await share.produce('stall', [{ value: 'slow' }]);
      const held = await nextRecord(stalled);
      other.subscribe(['stall']);
      const again = await nextRecord(other, 5000);
      expect(again.record.offset).toBe(held.record.offset);
      expect(again.record.deliveryCount).toBe(2);
      // lockExpiresAt is counted from when the stalled member's fetch was sent: the lock cannot have begun earlier.
      expect(again.at).toBeGreaterThanOrEqual(held.record.lockExpiresAt);
      // 200 ms for the expiry to fire, plus 100 ms for the answer to reach this process on a loaded machine.
      expect(again.at - held.record.lockExpiresAt).toBeLessThanOrEqual(300);
      await expect(held.record.ack()).rejects.toMatchObject({ code: 'SLUICE_ERR_INVALID_RECORD_STATE' });
      await again.record.ack();
    } finally {
      await Promise.all([stalled.close(), other.close()]);
    }
  });

  it('renew() keeps a record with its member past the first lock, with its delivery count', async () => {
    await sluice.admin().createTopic('renew', { partitions: 1 });
    await share.group('renew', { 'share.record.lock.duration.ms': '1000' });
    const holder = share.consumer('renew', { maxInFlight: 1, lockMs: 1000 });
    const other = share.consumer('renew', { maxInFlight: 1, lockMs: 1000 });
    holder.subscribe(['renew']);
    try {
      await share.produce('renew', [{ value: 'long job' }]);
      const { record } = await nextRecord(holder);
      other.subscribe(['renew']);
      const firstLock = record.lockExpiresAt;
      await waitFor('most of the first lock to pass', () => Date.now() > firstLock - 300, 2000);
      await record.renew();
      // The other member polls through the first lock's end and beyond: the record stays where it is.
      expect(await other.poll({ timeoutMs: Math.max(0, record.lockExpiresAt - Date.now() - 100) })).toEqual([]);
      expect(Date.now()).toBeGreaterThan(firstLock + 200);
      await record.ack();
      expect(record.deliveryCount).toBe(1);
      expect(await other.poll({ timeoutMs: 300 })).toEqual([]);
    } finally {
      await Promise.all([holder.close(), other.close()]);
    }
  });

  it('share.retry.backoff.ms "300,600": the first failed attempt waits 300 ms, later ones 600 ms, release({ delayMs }) its own delay; never early', async () => {
    await sluice.admin().createTopic('backoff', { partitions: 1 });
    await share.group('backoff', { 'share.retry.backoff.ms': '300,600' });
    await share.produce('backoff', [{ value: 'retry me' }]);
    const consumer = share.consumer('backoff');
    consumer.subscribe(['backoff']);
    try {
      const waits: number[] = [];
      const counts: number[] = [];
      let { record } = await nextRecord(consumer);
      for (const delayMs of [0, 0, 0, 800]) {
        counts.push(record.deliveryCount);
        const releasedAt = Date.now();
        await record.release(delayMs > 0 ? { delayMs } : {});
        const redelivered = await nextRecord(consumer, 5000);
        waits.push(redelivered.at - releasedAt);
        record = redelivered.record;
      }
      await record.ack();
      expect(counts).toEqual([1, 2, 3, 4]);
      const wanted = [300, 600, 600, 800];
      for (const [index, waited] of waits.entries()) expect(waited, `wait ${index + 1}: ${waits.join(', ')} ms`).toBeGreaterThanOrEqual(wanted[index]!);
    } finally {
      await consumer.close();
    }
  });

  it('TTL: records past message.ttl.ms, x-ttl-ms or x-expires-at are never delivered and dead-letter as expired; a plain consumer still reads them', async () => {
    await sluice.admin().createTopic('ttl-topic', { partitions: 1, configs: { 'message.ttl.ms': '300' } });
    await sluice.admin().createTopic('ttl-headers', { partitions: 1 });
    await share.group('ttl', { 'share.dlq.topic': 'ttl-dlq' });
    const producedAt = Date.now();
    await share.produce('ttl-topic', [{ value: 'topic-ttl' }]);
    await share.produce('ttl-headers', [
      { value: 'header-ttl', headers: { 'x-ttl-ms': '300' } }, { value: 'expires-at', headers: { 'x-expires-at': String(producedAt + 300) } }, { value: 'no-ttl' },
    ]);
    await waitFor('the TTLs to pass', () => Date.now() > producedAt + 400, 2000);
    const consumer = share.consumer('ttl');
    consumer.subscribe(['ttl-topic', 'ttl-headers']);
    try {
      const { record } = await nextRecord(consumer);
      expect(record.value?.toString()).toBe('no-ttl');
      await record.ack();
      const dead = await share.readAll('ttl-dlq', 3);
      expect(dead.map((entry) => [entry.value?.toString(), header(entry, 'x-death-reason')]).sort()).toEqual([['expires-at', 'expired'], ['header-ttl', 'expired'], ['topic-ttl', 'expired']]);
      expect(await consumer.poll({ timeoutMs: 800 })).toEqual([]);
    } finally {
      await consumer.close();
    }
    expect((await share.readAll('ttl-headers', 3)).map((entry) => entry.value?.toString())).toEqual(['header-ttl', 'expires-at', 'no-ttl']);
  });

  it('share.member.max.in.flight=3 caps what a member holds whatever it asks; a member that leaves releases its records to another as a failed attempt', async () => {
    await sluice.admin().createTopic('prefetch', { partitions: 1 });
    await share.group('prefetch', { 'share.member.max.in.flight': '3' });
    await share.produce('prefetch', Array.from({ length: 10 }, (_, index) => ({ value: `p-${index}` })));
    const greedy = share.consumer('prefetch', { maxInFlight: 100 });
    greedy.subscribe(['prefetch']);
    const held: ShareRecord[] = [];
    try {
      await waitFor('three records', async () => {
        held.push(...await greedy.poll({ timeoutMs: 100 }));
        return held.length >= 3;
      });
      // More would come at once if the cap did not hold: give it a few fetches' time.
      held.push(...await greedy.poll({ timeoutMs: 800 }));
      expect(held.map((record) => record.offset)).toEqual([0, 1, 2]);
      const described = await sluice.admin().describeShareGroup('prefetch');
      expect(described.members.map((member) => member.inFlight)).toEqual([3]);
    } finally {
      await greedy.close();
    }
    const [window] = (await sluice.admin().describeShareGroup('prefetch')).partitions;
    // Leaving released the three: none is held, all three are available again.
    expect([window?.acquired, window?.available, window?.startOffset]).toEqual([0, 3, 0]);
    const next = share.consumer('prefetch', { maxInFlight: 3 });
    next.subscribe(['prefetch']);
    try {
      const again: ShareRecord[] = [];
      await waitFor('the released records', async () => {
        again.push(...await next.poll({ timeoutMs: 100 }));
        return again.length >= 3;
      });
      expect(again.slice(0, 3).map((record) => [record.offset, record.deliveryCount])).toEqual([[0, 2], [1, 2], [2, 2]]);
      await Promise.all(again.map((record) => record.ack()));
    } finally {
      await next.close();
    }
  });
});
