/**
 * Share groups on one broker, request by request over the native protocol: join, fetch
 * (acquire with delivery counts), ACCEPT / RELEASE / REJECT / RENEW, INVALID_RECORD_STATE,
 * lock expiry, retry backoff, delivery limit and the DLQ with its x-death-* headers, TTL,
 * prefetch and window limits, group configs, describe, the admin HTTP view, metrics and the
 * classic/share group-id clash. One broker for the whole file; each test has its own topic
 * and group.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCodes } from '../../proto/errors.js';
import { Api } from '../../proto/messages.js';
import { type BrokerProcess, cleanupBrokers, startBroker, waitFor } from '../helpers/broker-process.js';
import { accept, headersOf, reject, release, renew, ShareWire } from '../helpers/share-wire.js';

const wire = (code: keyof typeof errorCodes) => errorCodes[code].wire;

let broker: BrokerProcess;
let client: ShareWire;

beforeAll(async () => {
  broker = await startBroker({ kafkaPort: 'off', args: ['--retention-check-interval-ms', '200'] });
  client = new ShareWire(broker.port);
}, 30_000);

afterAll(async () => {
  client?.close();
  await cleanupBrokers();
});

/** A topic with `count` records and a group reading it from the start, with the configs given. */
async function setup(name: string, count: number, configs: Record<string, string> = {}): Promise<{ topic: string; group: string }> {
  const topic = `${name}-topic`;
  const group = `${name}-group`;
  await client.createTopic(topic);
  if (count > 0) await client.produce(topic, 0, Array.from({ length: count }, (_, index) => `v${index}`));
  const altered = await client.alterConfigs(group, { 'share.auto.offset.reset': 'earliest', ...configs });
  expect(altered.errorCode, altered.errorMessage).toBe(0);
  return { topic, group };
}

describe('share groups on one broker', () => {
  it('acquires lowest offsets first with delivery count 1, and accepted records are never delivered again', async () => {
    const { topic, group } = await setup('basic', 10);
    const member = await client.join(group, [topic]);
    const first = await client.fetch(group, member, { maxRecords: 4 });
    expect(first.records.map((record) => [record.offset, record.deliveryCount, record.value])).toEqual([[0, 1, 'v0'], [1, 1, 'v1'], [2, 1, 'v2'], [3, 1, 'v3']]);
    const rest = await client.fetch(group, member, { acks: first.records.map(accept) });
    expect(rest.ackResults.map((result) => result.errorCode)).toEqual([0, 0, 0, 0]);
    expect(rest.records.map((record) => record.offset)).toEqual([4, 5, 6, 7, 8, 9]);
    const results = await client.ack(group, member, rest.records.map(accept));
    expect(results.every((result) => result.errorCode === 0)).toBe(true);
    const started = Date.now();
    const none = await client.fetch(group, member, { maxWaitMs: 300 });
    expect(none.records).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    const described = await client.describe(group);
    expect(described.state).toBe('Stable');
    expect(described.partitions).toMatchObject([{ topic, partition: 0, startOffset: 10, endOffset: 10, acknowledged: 10, acquired: 0 }]);
  });

  it('a long-polling fetch is answered when a record is produced', async () => {
    const { topic, group } = await setup('longpoll', 0);
    const member = await client.join(group, [topic]);
    const fetching = client.fetch(group, member, { maxWaitMs: 5000 });
    await waitFor('the fetch to park', async () => (await parkedRequests()) > 0, 2000);
    const started = Date.now();
    await client.produce(topic, 0, ['late']);
    const { records } = await fetching;
    expect(records.map((record) => record.value)).toEqual(['late']);
    expect(Date.now() - started).toBeLessThan(2000);
    // Parked fetches leave nothing behind: woken or timed out, each unsubscribes.
    await Promise.all(Array.from({ length: 20 }, () => client.fetch(group, member, { maxWaitMs: 50 })));
    expect(await parkedRequests()).toBe(0);
  });

  it('a new share-partition starts at the log end by default (share.auto.offset.reset=latest)', async () => {
    const topic = 'latest-topic';
    const group = 'latest-group';
    await client.createTopic(topic);
    await client.produce(topic, 0, ['old']);
    const member = await client.join(group, [topic]);
    await client.produce(topic, 0, ['new']);
    const { records } = await client.fetch(group, member, { maxWaitMs: 2000 });
    expect(records.map((record) => record.value)).toEqual(['new']);
  });

  it('members of one partition never hold the same record; acking a record one does not hold is INVALID_RECORD_STATE for that range only', async () => {
    const { topic, group } = await setup('two', 6);
    const a = await client.join(group, [topic]);
    const b = await client.join(group, [topic]);
    const fromA = await client.fetch(group, a, { maxRecords: 3 });
    const fromB = await client.fetch(group, b, { maxRecords: 10 });
    expect(fromA.records.map((record) => record.offset)).toEqual([0, 1, 2]);
    expect(fromB.records.map((record) => record.offset)).toEqual([3, 4, 5]);
    const results = await client.ack(group, b, [accept(fromA.records[0]!), accept(fromB.records[0]!)]);
    expect(results.map((result) => result.errorCode)).toEqual([wire('SLUICE_ERR_INVALID_RECORD_STATE'), 0]);
    // A's record was left as it was: A can still accept it.
    expect((await client.ack(group, a, [accept(fromA.records[0]!)]))[0]!.errorCode).toBe(0);
  });

  it('8 members over one partition: no record is held by two members at once, each is accepted once', async () => {
    const total = 4000;
    const { topic, group } = await setup('eight', 0);
    for (let offset = 0; offset < total; offset += 1000) await client.produce(topic, 0, Array.from({ length: 1000 }, (_, index) => `e${offset + index}`));
    const holders = new Map<number, number>();
    const accepted = new Set<number>();
    const overlaps: string[] = [];
    const deadline = Date.now() + 15_000;
    await Promise.all(Array.from({ length: 8 }, async (_, index) => {
      const member = new ShareWire(broker.port, `eight-${index}`);
      const id = await member.join(group, [topic], { maxInFlight: 40 });
      while (accepted.size < total && Date.now() < deadline) {
        const { records } = await member.fetch(group, id, { maxWaitMs: 100 });
        for (const record of records) {
          if (holders.has(record.offset)) overlaps.push(`${record.offset}: ${index} and ${holders.get(record.offset)}`);
          holders.set(record.offset, index);
        }
        // Release a few so records move between members.
        const acks = records.map((record) => (record.offset % 50 === 0 && record.deliveryCount === 1 ? release(record) : accept(record)));
        for (const record of records) holders.delete(record.offset);
        const results = await member.ack(group, id, acks);
        results.forEach((result, position) => {
          if (result.errorCode !== 0 || acks[position]!.type !== 1) return;
          if (accepted.has(records[position]!.offset)) overlaps.push(`${records[position]!.offset} accepted twice`);
          accepted.add(records[position]!.offset);
        });
      }
      member.close();
    }));
    expect(overlaps).toEqual([]);
    expect(accepted.size).toBe(total);
  });

  it('RELEASE makes a record available again with its count up; RENEW keeps the lock past its first expiry', async () => {
    const { topic, group } = await setup('release', 2);
    const member = await client.join(group, [topic]);
    const { records } = await client.fetch(group, member, { lockMs: 1000 });
    await client.ack(group, member, [release(records[0]!)]);
    const again = await client.fetch(group, member, { maxRecords: 1 });
    expect(again.records.map((record) => [record.offset, record.deliveryCount])).toEqual([[0, 2]]);
    // Offset 1 is renewed twice across its 1 s lock; it is still held, so another member gets nothing.
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect((await client.ack(group, member, [renew(records[1]!)]))[0]!.errorCode).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 600));
    const other = await client.join(group, [topic]);
    expect((await client.fetch(group, other, { maxWaitMs: 0 })).records).toEqual([]);
    expect((await client.ack(group, member, [accept(records[1]!)]))[0]!.errorCode).toBe(0);
  });

  it('an expired lock is a failed attempt: the record is redelivered between its expiry and expiry + 200 ms', async () => {
    const { topic, group } = await setup('lock', 1);
    const stalled = await client.join(group, [topic]);
    const worker = await client.join(group, [topic]);
    const { records } = await client.fetch(group, stalled, { lockMs: 1000 });
    expect(records).toHaveLength(1);
    const lockExpiresAt = records[0]!.lockExpiresAtMs;
    const redelivered = await client.fetch(group, worker, { maxWaitMs: 3000 });
    const at = Date.now();
    expect(redelivered.records.map((record) => [record.offset, record.deliveryCount])).toEqual([[0, 2]]);
    expect(at).toBeGreaterThanOrEqual(lockExpiresAt);
    expect(at - lockExpiresAt).toBeLessThan(200);
    // The stalled member's late ack is refused.
    expect((await client.ack(group, stalled, [accept(records[0]!)]))[0]!.errorCode).toBe(wire('SLUICE_ERR_INVALID_RECORD_STATE'));
  });

  it('share.retry.backoff.ms: the n-th failed attempt waits the n-th delay, never less', async () => {
    const { topic, group } = await setup('backoff', 1, { 'share.retry.backoff.ms': '300,700' });
    const member = await client.join(group, [topic]);
    for (const delay of [300, 700]) {
      const { records } = await client.fetch(group, member, { maxWaitMs: 3000 });
      expect(records).toHaveLength(1);
      const released = Date.now();
      await client.ack(group, member, [release(records[0]!)]);
      const again = await client.fetch(group, member, { maxWaitMs: 3000 });
      expect(again.records).toHaveLength(1);
      expect(Date.now() - released).toBeGreaterThanOrEqual(delay);
      await client.ack(group, member, [release(again.records[0]!, 1)]);
    }
  });

  it('a record released 3 times with limit 3 is in the DLQ with x-death-reason=delivery_limit and x-death-count=3, and is not delivered again', async () => {
    const { topic, group } = await setup('limit', 1, { 'share.delivery.limit': '3', 'share.dlq.topic': 'limit-dlq' });
    const member = await client.join(group, [topic]);
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      const { records } = await client.fetch(group, member, { maxWaitMs: 2000 });
      expect(records.map((record) => record.deliveryCount)).toEqual([attempt]);
      await client.ack(group, member, [release(records[0]!)]);
    }
    expect((await client.fetch(group, member, { maxWaitMs: 300 })).records).toEqual([]);
    const dead = await waitForRecords('limit-dlq', 1);
    expect(dead[0]!.value?.toString()).toBe('v0');
    expect(headersOf(dead[0]!)).toMatchObject({
      'x-death-reason': 'delivery_limit', 'x-death-count': '3', 'x-death-group': group, 'x-death-topic': topic, 'x-death-partition': '0', 'x-death-offset': '0',
      'x-first-death-reason': 'delivery_limit',
    });
    const described = await client.describe(group);
    expect(described.partitions[0]).toMatchObject({ startOffset: 1, deadLettered: 1, deadLetteredByReason: { delivery_limit: 1 } });
  });

  it('REJECT dead-letters at once as rejected, keeping key, value and headers and the reason as x-death-message', async () => {
    const { topic, group } = await setup('reject', 0, { 'share.dlq.topic': 'reject-dlq' });
    await client.produce(topic, 0, [{ key: Buffer.from('k'), value: Buffer.from('poison'), headers: [{ key: 'trace', value: Buffer.from('t1') }] }]);
    const member = await client.join(group, [topic]);
    const { records } = await client.fetch(group, member);
    await client.ack(group, member, [reject(records[0]!, 'cannot parse')]);
    const dead = await waitForRecords('reject-dlq', 1);
    expect(dead[0]!.key?.toString()).toBe('k');
    expect(headersOf(dead[0]!)).toMatchObject({ trace: 't1', 'x-death-reason': 'rejected', 'x-death-count': '1', 'x-death-message': 'cannot parse' });
    expect(Number(headersOf(dead[0]!)['x-death-original-timestamp'])).toBeGreaterThan(0);
  });

  it('without a DLQ topic dead records are dropped and counted', async () => {
    const { topic, group } = await setup('drop', 1);
    const member = await client.join(group, [topic]);
    const { records } = await client.fetch(group, member);
    await client.ack(group, member, [reject(records[0]!)]);
    expect((await client.describe(group)).partitions[0]).toMatchObject({ startOffset: 1, deadLettered: 1, deadLetteredByReason: { rejected: 1 } });
  });

  it('TTL: expired records (x-ttl-ms, x-expires-at, message.ttl.ms) are never handed out and dead-letter as expired; classic consumers still read them', async () => {
    const topic = 'ttl-topic';
    const group = 'ttl-group';
    await client.createTopic(topic, 1, { 'message.ttl.ms': '60000' });
    const now = Date.now();
    await client.produce(topic, 0, [
      { key: null, value: Buffer.from('short'), headers: [{ key: 'x-ttl-ms', value: Buffer.from('1') }], timestamp: now - 10 },
      { key: null, value: Buffer.from('at'), headers: [{ key: 'x-expires-at', value: Buffer.from(String(now - 5)) }], timestamp: now },
      { key: null, value: Buffer.from('old'), timestamp: now - 120_000 },
      { key: null, value: Buffer.from('fresh'), timestamp: now },
    ]);
    await client.alterConfigs(group, { 'share.auto.offset.reset': 'earliest', 'share.dlq.topic': 'ttl-dlq' });
    const member = await client.join(group, [topic]);
    const { records } = await client.fetch(group, member);
    expect(records.map((record) => record.value)).toEqual(['fresh']);
    const dead = await waitForRecords('ttl-dlq', 3);
    expect(dead.map((record) => [record.value?.toString(), headersOf(record)['x-death-reason']])).toEqual([['short', 'expired'], ['at', 'expired'], ['old', 'expired']]);
    expect((await client.read(topic, 0)).map((record) => record.value?.toString())).toEqual(['short', 'at', 'old', 'fresh']);
  });

  it('prefetch: a member holds at most its maxInFlight; the window stops at share.partition.max.window', async () => {
    const { topic, group } = await setup('window', 150, { 'share.partition.max.window': '100' });
    const small = await client.join(group, [topic], { maxInFlight: 5 });
    expect((await client.fetch(group, small)).records).toHaveLength(5);
    expect((await client.fetch(group, small)).records).toHaveLength(0);
    const big = await client.join(group, [topic]);
    const { records } = await client.fetch(group, big);
    expect(records.map((record) => record.offset)).toEqual(Array.from({ length: 95 }, (_, index) => index + 5));
  });

  it('group configs are validated with the allowed range in the message, and described with their source', async () => {
    const bad = await client.alterConfigs('configs-group', { 'share.delivery.limit': '11' });
    expect(bad.errorCode).toBe(wire('SLUICE_ERR_CONFIG'));
    expect(bad.errorMessage).toContain('from 2 to 10');
    expect((await client.alterConfigs('configs-group', { 'share.nope': '1' })).errorMessage).toContain('unknown group config');
    expect((await client.alterConfigs('configs-group', { 'share.record.lock.duration.ms': '2000' })).errorCode).toBe(0);
    const configs = await client.describeConfigs('configs-group');
    expect(configs).toContainEqual({ name: 'share.record.lock.duration.ms', value: '2000', source: 'group' });
    expect(configs).toContainEqual({ name: 'share.delivery.limit', value: '5', source: 'default' });
  });

  it('a classic group id used for a share heartbeat is INCONSISTENT_GROUP_PROTOCOL, and a share group id in JoinGroup too', async () => {
    const commit = await client.connection.request<'offsetCommit'>(Api.OFFSET_COMMIT, {
      groupId: 'classic-group', generationId: -1, memberId: '', topics: [{ name: 'basic-topic', partitions: [{ partition: 0, offset: 1, metadata: '' }] }],
    });
    expect(commit.topics[0]!.partitions[0]!.errorCode).toBe(0);
    const share = await client.heartbeat('classic-group', '', ['basic-topic']);
    expect(share.errorCode).toBe(wire('SLUICE_ERR_INCONSISTENT_GROUP_PROTOCOL'));
    await expect(client.connection.request<'joinGroup'>(Api.JOIN_GROUP, {
      groupId: 'basic-group', memberId: '', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
    })).rejects.toMatchObject({ code: 'SLUICE_ERR_INCONSISTENT_GROUP_PROTOCOL' });
  });

  it('a member that leaves releases its records; an unknown member is told to join again', async () => {
    const { topic, group } = await setup('leave', 2);
    const leaving = await client.join(group, [topic]);
    expect((await client.fetch(group, leaving)).records).toHaveLength(2);
    await client.heartbeat(group, leaving, [topic], { leave: true });
    const other = await client.join(group, [topic]);
    expect((await client.fetch(group, other)).records.map((record) => record.deliveryCount)).toEqual([2, 2]);
    expect((await client.fetchRaw(group, leaving)).errorCode).toBe(wire('SLUICE_ERR_UNKNOWN_MEMBER_ID'));
  });

  it('a member silent past its session timeout is removed and its records released', async () => {
    const { topic, group } = await setup('session', 1);
    const silent = await client.join(group, [topic], { sessionTimeoutMs: 1000 });
    expect((await client.fetch(group, silent)).records).toHaveLength(1);
    const other = await client.join(group, [topic]);
    const { records } = await client.fetch(group, other, { maxWaitMs: 4000 });
    expect(records.map((record) => record.deliveryCount)).toEqual([2]);
  });

  it('retention removing unfinished offsets moves SPSO and counts them skipped', async () => {
    const topic = 'retention-topic';
    const group = 'retention-group';
    // Records expire 1.5 s after they are written: time enough to acquire and ack before retention removes them.
    await client.createTopic(topic, 1, { 'retention.ms': '1500', 'segment.bytes': '100' });
    const written = Date.now();
    for (let index = 0; index < 6; index += 1) await client.produce(topic, 0, [{ key: null, value: Buffer.from(`old${index}`), timestamp: written }]);
    await client.alterConfigs(group, { 'share.auto.offset.reset': 'earliest' });
    const member = await client.join(group, [topic]);
    const { records } = await client.fetch(group, member, { maxRecords: 2 });
    await client.ack(group, member, [accept(records[0]!)]);
    expect(records.map((record) => record.offset)).toEqual([0, 1]);
    const deadline = Date.now() + 6000;
    let logStart = 0;
    while (logStart < 3 && Date.now() < deadline) {
      const answer = await client.connection.request<'listOffsets'>(Api.LIST_OFFSETS, { topics: [{ name: topic, partitions: [{ partition: 0, timestamp: -2 }] }] });
      logStart = answer.topics[0]!.partitions[0]!.offset;
      if (logStart < 3) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(logStart).toBeGreaterThanOrEqual(3);
    await client.produce(topic, 0, ['new']);
    const after = await client.fetch(group, member, { maxWaitMs: 1000 });
    expect(after.records.every((record) => record.offset >= logStart)).toBe(true);
    const described = (await client.describe(group)).partitions[0]!;
    expect(described.startOffset).toBeGreaterThanOrEqual(logStart);
    // Offset 0 was acknowledged; 1 (held) up to the log start were removed unfinished.
    expect(described.skipped).toBe(logStart - 1);
  });

  it('GET /v1/share-groups/:id and the share metrics', async () => {
    const body = await (await fetch(`http://127.0.0.1:${broker.httpPort}/v1/share-groups/basic-group`)).json() as { state: string; partitions: Array<{ acknowledged: number }>; configs: unknown[] };
    expect(body.partitions[0]!.acknowledged).toBe(10);
    expect(body.configs.length).toBeGreaterThan(5);
    const metrics = await (await fetch(`http://127.0.0.1:${broker.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/sluice_share_dead_letters_total\{reason="delivery_limit"\} [1-9]/);
    expect(metrics).toMatch(/sluice_share_redeliveries_total [1-9]/);
    expect(metrics).toContain('sluice_share_in_flight_records');
  });
});

/** Requests parked in long polls on the broker now. */
async function parkedRequests(): Promise<number> {
  return ((await (await fetch(`http://127.0.0.1:${broker.httpPort}/v1/debug/memory`)).json()) as { parkedRequests: number }).parkedRequests;
}

/** The DLQ's records, once it has `count` (dead-lettering runs after the ack is answered). */
async function waitForRecords(topic: string, count: number) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const records = await client.read(topic, 0).catch(() => []);
    if (records.length >= count || Date.now() > deadline) return records;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
