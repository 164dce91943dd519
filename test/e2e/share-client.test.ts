/**
 * Share groups through the client against a real broker process (QUEUES-ON-A-LOG.md §5):
 * eight members over one partition never hold a record at once and accept each once (5, 7);
 * three releases at share.delivery.limit=3 dead-letter as delivery_limit with the x-death
 * headers, a reject as rejected (9, 15, 16, 17); a stalled member's lock expires between lock
 * and lock + 200 ms and its late ack is refused (11, 12); renew keeps it (10); retry backoff
 * is never early (8, 14); TTL by topic config and headers (19); share.member.max.in.flight
 * caps a member (6) and a member that leaves releases its records (13); a classic group's id
 * is refused (1); the CLI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShareRecord } from '../../client/share-consumer.js';
import { Sluice } from '../../client/sluice.js';
import { SluiceError } from '../../proto/errors.js';
import type { DecodedRecord } from '../../proto/record-batch/record-batch.js';
import { type BrokerProcess, cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';
import { runCli } from '../helpers/cli.js';
import { acceptAll, ShareTracker } from '../helpers/share-tracker.js';

/** 100k records take about this long here; the bench (bench/share.ts) measures the rate. */
const manyRecords = 100_000;

let broker: BrokerProcess;
let sluice: Sluice;

beforeAll(async () => {
  broker = await startBroker({ kafkaPort: 'off' });
  sluice = new Sluice({ bootstrap: broker.bootstrap, requestTimeoutMs: 10_000 });
});

afterAll(async () => {
  await sluice?.close();
  await cleanupBrokers();
});

async function produce(topic: string, records: Array<{ key?: string; value: string; headers?: Record<string, string> }>): Promise<void> {
  const producer = sluice.producer({ lingerMs: 5 });
  for (let start = 0; start < records.length; start += 5000) await producer.send({ topic, messages: records.slice(start, start + 5000) });
  await producer.close();
}

/** Every record of partition 0 of `topic`, read by a plain consumer, once `count` are there. */
async function readAll(topic: string, count: number, timeoutMs = 10_000): Promise<DecodedRecord[]> {
  await waitFor(`topic ${topic}`, async () => (await sluice.admin().listTopics()).includes(topic), timeoutMs);
  const consumer = sluice.consumer();
  consumer.assign([{ topic, partition: 0, offset: 0 }]);
  const records: DecodedRecord[] = [];
  try {
    await waitFor(`${count} records in ${topic}`, async () => {
      records.push(...await consumer.poll({ timeoutMs: 100 }));
      return records.length >= count;
    }, timeoutMs);
  } finally {
    await consumer.close();
  }
  return records;
}

const header = (record: DecodedRecord, key: string) => record.headers.find((entry) => entry.key === key)?.value?.toString();

async function group(groupId: string, configs: Record<string, string>): Promise<void> {
  await sluice.admin().alterGroupConfigs(groupId, { 'share.auto.offset.reset': 'earliest', ...configs });
}

/** The next record the consumer gets, with when it arrived. */
async function next(consumer: ReturnType<typeof shareConsumer>, timeoutMs = 10_000): Promise<{ record: ShareRecord; at: number }> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const [record] = await consumer.poll({ timeoutMs: 100, maxRecords: 1 });
    if (record !== undefined) return { record, at: Date.now() };
  }
  throw new Error(`no record within ${timeoutMs} ms`);
}

const shareConsumer = (groupId: string, options: { maxInFlight?: number; lockMs?: number } = {}) => sluice.consumer({ groupId, share: true, sessionTimeoutMs: 3000, ...options });

describe('share groups through the client', () => {
  it(`eight members over one partition: ${manyRecords} records, none held by two members at once, each accepted once`, async () => {
    await sluice.admin().createTopic('many', { partitions: 1 });
    await group('eight', {});
    await produce('many', Array.from({ length: manyRecords }, (_, index) => ({ value: `r-${index}` })));
    const tracker = new ShareTracker();
    await acceptAll(sluice, { groupId: 'eight', topic: 'many', members: 8, tracker, done: () => tracker.accepted.size >= manyRecords, timeoutMs: 40_000 });
    expect(tracker.overlaps()).toEqual([]);
    expect(tracker.acceptedTwice()).toEqual([]);
    expect(tracker.deliveredAfterAccept).toEqual([]);
    expect(tracker.accepted.size).toBe(manyRecords);
  }, 60_000);

  it('three releases at share.delivery.limit=3 dead-letter the record as delivery_limit, never delivered a 4th time; a reject dead-letters as rejected', async () => {
    await sluice.admin().createTopic('limited', { partitions: 1 });
    await group('limit3', { 'share.delivery.limit': '3', 'share.dlq.topic': 'limited-dlq' });
    await produce('limited', [{ key: 'k1', value: 'released', headers: { trace: 'abc' } }, { key: 'k2', value: 'poison' }]);
    const consumer = shareConsumer('limit3');
    consumer.subscribe(['limited']);
    const counts: number[] = [];
    try {
      while (counts.length < 4) {
        const { record } = await next(consumer);
        if (record.value?.toString() === 'poison') {
          await record.reject('cannot parse');
          continue;
        }
        counts.push(record.deliveryCount);
        await record.release();
        if (counts.length === 3) break;
      }
      const dead = await readAll('limited-dlq', 2);
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
    await group('stall', { 'share.record.lock.duration.ms': '1000' });
    const stalled = shareConsumer('stall', { maxInFlight: 1, lockMs: 1000 });
    const other = shareConsumer('stall', { maxInFlight: 1, lockMs: 1000 });
    stalled.subscribe(['stall']);
    try {
      await produce('stall', [{ value: 'slow' }]);
      const held = await next(stalled);
      other.subscribe(['stall']);
      const again = await next(other, 5000);
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
    await group('renew', { 'share.record.lock.duration.ms': '1000' });
    const holder = shareConsumer('renew', { maxInFlight: 1, lockMs: 1000 });
    const other = shareConsumer('renew', { maxInFlight: 1, lockMs: 1000 });
    holder.subscribe(['renew']);
    try {
      await produce('renew', [{ value: 'long job' }]);
      const { record } = await next(holder);
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
    await group('backoff', { 'share.retry.backoff.ms': '300,600' });
    await produce('backoff', [{ value: 'retry me' }]);
    const consumer = shareConsumer('backoff');
    consumer.subscribe(['backoff']);
    try {
      const waits: number[] = [];
      const counts: number[] = [];
      let { record } = await next(consumer);
      for (const delayMs of [0, 0, 0, 800]) {
        counts.push(record.deliveryCount);
        const releasedAt = Date.now();
        await record.release(delayMs > 0 ? { delayMs } : {});
        const redelivered = await next(consumer, 5000);
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
    await group('ttl', { 'share.dlq.topic': 'ttl-dlq' });
    const producedAt = Date.now();
    await produce('ttl-topic', [{ value: 'topic-ttl' }]);
    await produce('ttl-headers', [
      { value: 'header-ttl', headers: { 'x-ttl-ms': '300' } }, { value: 'expires-at', headers: { 'x-expires-at': String(producedAt + 300) } }, { value: 'no-ttl' },
    ]);
    await waitFor('the TTLs to pass', () => Date.now() > producedAt + 400, 2000);
    const consumer = shareConsumer('ttl');
    consumer.subscribe(['ttl-topic', 'ttl-headers']);
    try {
      const { record } = await next(consumer);
      expect(record.value?.toString()).toBe('no-ttl');
      await record.ack();
      const dead = await readAll('ttl-dlq', 3);
      expect(dead.map((entry) => [entry.value?.toString(), header(entry, 'x-death-reason')]).sort()).toEqual([['expires-at', 'expired'], ['header-ttl', 'expired'], ['topic-ttl', 'expired']]);
      expect(await consumer.poll({ timeoutMs: 800 })).toEqual([]);
    } finally {
      await consumer.close();
    }
    expect((await readAll('ttl-headers', 3)).map((entry) => entry.value?.toString())).toEqual(['header-ttl', 'expires-at', 'no-ttl']);
  });

  it('share.member.max.in.flight=3 caps what a member holds whatever it asks; a member that leaves releases its records to another as a failed attempt', async () => {
    await sluice.admin().createTopic('prefetch', { partitions: 1 });
    await group('prefetch', { 'share.member.max.in.flight': '3' });
    await produce('prefetch', Array.from({ length: 10 }, (_, index) => ({ value: `p-${index}` })));
    const greedy = shareConsumer('prefetch', { maxInFlight: 100 });
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
    const next = shareConsumer('prefetch', { maxInFlight: 3 });
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

  it('a classic group\'s id is refused with INCONSISTENT_GROUP_PROTOCOL', async () => {
    await sluice.admin().createTopic('classic', { partitions: 1 });
    const classic = sluice.consumer({ groupId: 'taken', sessionTimeoutMs: 6000 });
    let assigned = false;
    classic.subscribe(['classic'], { onAssigned: () => { assigned = true; } });
    await waitFor('the classic member to join', () => assigned, 10_000);
    const share = shareConsumer('taken');
    share.subscribe(['classic']);
    try {
      const error = await (async () => {
        const deadline = Date.now() + 5000;
        while (Date.now() < deadline) await share.poll({ timeoutMs: 200 });
        return undefined;
      })().catch((thrown: unknown) => thrown);
      expect(SluiceError.is(error) && error.code).toBe('SLUICE_ERR_INCONSISTENT_GROUP_PROTOCOL');
    } finally {
      await Promise.all([share.close(), classic.close()]);
    }
  });

  it('CLI: groups alter and describe show the configs, consume --share-group acknowledges and --reject-pattern dead-letters, share describe counts them', async () => {
    await sluice.admin().createTopic('cli-jobs', { partitions: 1 });
    const bootstrap = ['--bootstrap', broker.bootstrap];
    const altered = await runCli(['groups', 'alter', 'cli-workers', '--config', 'share.delivery.limit=3', '--config', 'share.dlq.topic=cli-dlq', '--config', 'share.auto.offset.reset=earliest', ...bootstrap]);
    expect(altered.code, altered.stderr).toBe(0);
    const described = await runCli(['groups', 'describe', 'cli-workers', ...bootstrap]);
    expect(described.stdout).toMatch(/share\.delivery\.limit\s+3\s+group/);
    expect(described.stdout).toMatch(/share\.record\.lock\.duration\.ms\s+30000\s+default/);
    await produce('cli-jobs', [{ value: 'ok-1' }, { value: 'poison-2' }, { value: 'ok-3' }]);
    const consumed = await runCli(['consume', 'cli-jobs', '--share-group', 'cli-workers', '--reject-pattern', '^poison', '--idle-ms', '1000', ...bootstrap]);
    expect(consumed.code, consumed.stderr).toBe(0);
    expect(consumed.stdout).toBe('ok-1\npoison-2\nok-3\n');
    const share = await runCli(['share', 'describe', 'cli-workers', '--json', ...bootstrap]);
    const partition = (JSON.parse(share.stdout) as { partitions: Array<{ acknowledged: number; deadLettered: number; deadLetteredByReason: Record<string, number>; startOffset: number }> }).partitions[0]!;
    expect([partition.acknowledged, partition.deadLettered, partition.deadLetteredByReason.rejected, partition.startOffset]).toEqual([2, 1, 1, 3]);
    expect((await runCli(['share', 'describe', 'cli-workers', ...bootstrap])).stdout).toMatch(/cli-jobs\s+0\s+3\s+3\s+0\s+0\s+0\s+2\s+1 \(rejected 1, delivery_limit 0, expired 0\)/);
  });
});
