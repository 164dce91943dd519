/**
 * The client in a cluster, against fake brokers that share one cluster view
 * (test/helpers/fake-broker.ts FakeCluster): a bootstrap list whose first broker is down;
 * produce, fetch and ListOffsets sent to each partition's leader with its leader epoch;
 * leadership moving, a leader dying, fenced epochs and too few replicas answered by a metadata
 * refresh (shared by concurrent failures) and a retry that keeps each partition's order; a
 * consumer whose position is past a truncated log resetting (and saying so); group requests
 * following the coordinator; topic changes and elections following the controller.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Sluice } from '../../../client/sluice.js';
import { errorCodes } from '../../../proto/errors.js';
import { Api, ElectionType, type FetchRequest } from '../../../proto/messages.js';
import { decodeRecords } from '../../../proto/record-batch/record-batch.js';
import { waitFor } from '../../helpers/broker-process.js';
import { FakeCluster } from '../../helpers/fake-broker.js';
import { freePort } from '../../../bench/etcd-process.js';

const open: Array<{ close: () => Promise<void> }> = [];
afterEach(async () => {
  for (const resource of open.splice(0).reverse()) await resource.close();
});

async function cluster(brokers: number, topics: Record<string, number>, options: Partial<Parameters<typeof FakeCluster.start>[0]> = {}): Promise<FakeCluster> {
  const started = await FakeCluster.start({ brokers, topics, ...options });
  open.push(started);
  return started;
}

function client(bootstrap: string | string[], options: ConstructorParameters<typeof Sluice>[0] = {}): Sluice {
  const sluice = new Sluice({ bootstrap, connectTimeoutMs: 2000, requestTimeoutMs: 5000, metadataRefreshBackoffMs: 20, ...options });
  open.push(sluice);
  return sluice;
}

/** A port nothing listens on. */
const deadAddress = async (): Promise<string> => `127.0.0.1:${await freePort()}`;

/** The values stored in a fake partition's log, in offset order. */
function stored(fake: FakeCluster, topic: string, partition: number): string[] {
  return fake.partition(topic, partition).batches.flatMap((batch) => decodeRecords(batch.bytes).map((record) => record.value!.toString()));
}

describe('bootstrap list', () => {
  it('starts from the first reachable broker of "h1:p1,h2:p2" and of a string[]', async () => {
    const fake = await cluster(2, { orders: 2 });
    const dead = await deadAddress();
    for (const bootstrap of [`${dead},${fake.node(1).bootstrap}`, [dead, fake.node(1).bootstrap]]) {
      const producer = client(bootstrap).producer({ lingerMs: 0 });
      const [sent] = await producer.send({ topic: 'orders', messages: [{ value: 'v', partition: 1 }] });
      expect(sent).toMatchObject({ topic: 'orders', partition: 1 });
    }
    // Metadata came from broker 1 (the reachable bootstrap), and partition 1 is led by broker 1.
    expect(fake.seen(Api.METADATA).every((request) => request.nodeId === 1)).toBe(true);
  });

  it('refuses a malformed list with a config error', () => {
    expect(() => new Sluice({ bootstrap: '127.0.0.1:9400,nonsense' })).toThrow(/SLUICE_ERR_CONFIG/);
    expect(() => new Sluice({ bootstrap: [] })).toThrow(/at least one HOST:PORT/);
  });
});

describe('producer routing', () => {
  it('sends each partition to its leader', async () => {
    const fake = await cluster(3, { orders: 3 });
    const producer = client(fake.node(0).bootstrap).producer({ lingerMs: 0 });
    await Promise.all([0, 1, 2].map((partition) => producer.send({ topic: 'orders', messages: [{ value: `p${partition}`, partition }] })));
    for (const partition of [0, 1, 2]) {
      expect(fake.produces.filter((produce) => produce.partition === partition).map((produce) => produce.nodeId)).toEqual([fake.partition('orders', partition).leader]);
    }
  });

  it('follows a moved leader (NOT_LEADER_OR_FOLLOWER, a dead broker) without losing or reordering a record', async () => {
    // Batches in flight when broker 1 dies may have been written: the brokers drop the copies sent again.
    const fake = await cluster(3, { orders: 1 }, { idempotence: true });
    const producer = client(fake.bootstrap).producer({ lingerMs: 0, batchSize: 64, retryBackoffMs: 10 });
    const send = (from: number, to: number) => Array.from({ length: to - from }, (_, index) => producer.send({ topic: 'orders', messages: [{ value: `r${from + index}`, partition: 0 }] }));
    await Promise.all(send(0, 20));
    // The leader moves while the producer's metadata still names broker 0.
    fake.moveLeader('orders', 0, 1);
    const sends = send(20, 40);
    await waitFor('an append on the new leader', () => fake.produces.some((produce) => produce.nodeId === 1 && produce.partition === 0));
    // Then broker 1 dies with batches in flight, and broker 2 takes over.
    fake.moveLeader('orders', 0, 2);
    await fake.node(1).close();
    sends.push(...send(40, 60));
    await Promise.all(sends);
    expect(stored(fake, 'orders', 0)).toEqual(Array.from({ length: 60 }, (_, index) => `r${index}`));
    const refused = fake.produces.filter((produce) => produce.nodeId !== fake.partition('orders', 0).leader);
    expect(new Set(fake.produces.map((produce) => produce.nodeId))).toEqual(new Set([0, 1, 2]));
    expect(refused.length).toBeGreaterThan(0);
  });

  it('refreshes metadata when the leader broker is gone, instead of waiting out the connect timeout', async () => {
    const fake = await cluster(3, { orders: 3 });
    const producer = client(fake.bootstrap, { connectTimeoutMs: 10_000 }).producer({ lingerMs: 0, retryBackoffMs: 10 });
    await producer.send({ topic: 'orders', messages: [{ value: 'before', partition: 1 }] });
    await fake.node(1).close();
    fake.moveLeader('orders', 1, 2);
    const started = Date.now();
    await producer.send({ topic: 'orders', messages: [{ value: 'after', partition: 1 }] });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(stored(fake, 'orders', 1)).toEqual(['before', 'after']);
    expect(fake.produces.map((produce) => produce.nodeId)).toEqual([1, 2]);
  });

  it('asks another broker for metadata after its leader failed it, so a leader cut off from the cluster (still naming itself) is left for the new one', async () => {
    const fake = await cluster(3, { orders: 3 });
    // Broker 0 leads partition 0 and, first of the bootstrap list, answers the client's metadata.
    const producer = client(fake.bootstrap).producer({ acks: 'all', lingerMs: 0, retryBackoffMs: 10, deliveryTimeoutMs: 5_000 });
    await producer.send({ topic: 'orders', messages: [{ value: 'before', partition: 0 }] });
    fake.isolate(0);
    fake.moveLeader('orders', 0, 1);
    await producer.send({ topic: 'orders', messages: [{ value: 'after', partition: 0 }] });
    expect(stored(fake, 'orders', 0)).toEqual(['before', 'after']);
    expect(fake.produces.at(-1)!.nodeId).toBe(1);
  });

  it('retries FENCED_LEADER_EPOCH and NOT_ENOUGH_REPLICAS in order, later batches waiting behind the retried one', async () => {
    let refusals = 0;
    // The broker checks sequence numbers (the idempotent producer keeps several batches in flight).
    const fake = await cluster(1, { orders: 1 }, {
      idempotence: true,
      produce: (attempt) => {
        if (attempt.attempt === 2 || attempt.attempt === 3) {
          refusals += 1;
          return { errorCode: attempt.attempt === 2 ? errorCodes.SLUICE_ERR_FENCED_LEADER_EPOCH.wire : errorCodes.SLUICE_ERR_NOT_ENOUGH_REPLICAS.wire, errorMessage: 'refused' };
        }
        return undefined;
      },
    });
    const producer = client(fake.bootstrap).producer({ lingerMs: 0, batchSize: 64, retryBackoffMs: 10 });
    await Promise.all(Array.from({ length: 10 }, (_, index) => producer.send({ topic: 'orders', messages: [{ value: `r${index}`, partition: 0 }] })));
    expect(refusals).toBe(2);
    expect(stored(fake, 'orders', 0)).toEqual(Array.from({ length: 10 }, (_, index) => `r${index}`));
  });

  it('tries a partition again within about a second of its leader coming back after a long election', async () => {
    let electedAt = Infinity;
    const fake = await cluster(2, { orders: 1 });
    const producer = client(fake.bootstrap).producer({ lingerMs: 0 });
    await producer.send({ topic: 'orders', messages: [{ value: 'before', partition: 0 }] });
    fake.moveLeader('orders', 0, -1);
    const electing = setTimeout(() => {
      fake.moveLeader('orders', 0, 1);
      electedAt = Date.now();
    }, 6400);
    try {
      await producer.send({ topic: 'orders', messages: [{ value: 'after', partition: 0 }] });
    } finally {
      clearTimeout(electing);
    }
    // Backing off to 5 s would wait until ~11 s; capped at 1 s it retries by ~7.5 s.
    expect(Date.now() - electedAt).toBeLessThan(1500);
    expect(stored(fake, 'orders', 0)).toEqual(['before', 'after']);
  }, 20_000);

  it('closes the connection of a broker that left the metadata', async () => {
    const fake = await cluster(3, { orders: 3 });
    const producer = client(fake.node(0).bootstrap).producer({ lingerMs: 0, retryBackoffMs: 10 });
    await producer.send({ topic: 'orders', messages: [{ value: 'x', partition: 2 }] });
    expect(fake.node(2).openConnections).toBe(1);
    // Broker 2 leaves the cluster; its partition moves to broker 0, and the refresh that follows the refusal retires the connection.
    fake.departed.add(2);
    fake.moveLeader('orders', 2, 0);
    await producer.send({ topic: 'orders', messages: [{ value: 'y', partition: 2 }] });
    await waitFor('the connection to broker 2 to close', () => fake.node(2).openConnections === 0, 5000);
    expect(fake.produces.map((produce) => produce.nodeId)).toEqual([2, 2, 0]);
  });

  it('shares one metadata refresh among partitions that fail together', async () => {
    const fake = await cluster(2, { orders: 8 });
    const producer = client(fake.bootstrap, { metadataRefreshBackoffMs: 200 }).producer({ lingerMs: 0, retryBackoffMs: 10 });
    await producer.send({ topic: 'orders', messages: Array.from({ length: 8 }, (_, partition) => ({ value: 'warm', partition })) });
    const before = fake.seen(Api.METADATA).length;
    for (let partition = 0; partition < 8; partition += 1) fake.moveLeader('orders', partition, 1 - fake.partition('orders', partition).leader);
    await producer.send({ topic: 'orders', messages: Array.from({ length: 8 }, (_, partition) => ({ value: 'moved', partition })) });
    // Eight partitions refused at once: one refresh (maybe a second that started late), not eight.
    expect(fake.seen(Api.METADATA).length - before).toBeLessThanOrEqual(2);
  });
});

describe('consumer routing', () => {
  it('fetches each partition from its leader with the leader epoch, and follows a leader change', async () => {
    const fake = await cluster(2, { orders: 2 });
    const sluice = client(fake.bootstrap);
    const producer = sluice.producer({ lingerMs: 0 });
    for (let index = 0; index < 5; index += 1) await producer.send({ topic: 'orders', messages: [{ value: `a${index}`, partition: 0 }, { value: `b${index}`, partition: 1 }] });
    const consumer = sluice.consumer({ maxWaitMs: 50 });
    consumer.assign([{ topic: 'orders', partition: 0, offset: 0 }, { topic: 'orders', partition: 1, offset: 0 }]);
    const received: string[] = [];
    await waitFor('the first records', async () => {
      received.push(...(await consumer.poll({ timeoutMs: 100 })).map((record) => record.value!.toString()));
      return received.length >= 10;
    });
    for (const fetch of fake.seen(Api.FETCH)) {
      for (const topic of (fetch.body as FetchRequest).topics) {
        for (const partition of topic.partitions) {
          expect(fetch.nodeId).toBe(fake.partition('orders', partition.partition).leader);
          expect(partition.currentLeaderEpoch).toBe(0);
        }
      }
    }
    // Partition 0 moves to broker 1 with epoch 1: the old leader refuses, the new one is asked with epoch 1.
    fake.moveLeader('orders', 0, 1);
    for (let index = 5; index < 10; index += 1) await producer.send({ topic: 'orders', messages: [{ value: `a${index}`, partition: 0 }] });
    await waitFor('records from the new leader', async () => {
      received.push(...(await consumer.poll({ timeoutMs: 100 })).map((record) => record.value!.toString()));
      return received.length >= 15;
    });
    expect(received.filter((value) => value.startsWith('a'))).toEqual(Array.from({ length: 10 }, (_, index) => `a${index}`));
    const latest = fake.seen(Api.FETCH).at(-1)!;
    expect(latest.nodeId).toBe(1);
    expect((latest.body as FetchRequest).topics[0]!.partitions.find((partition) => partition.partition === 0)?.currentLeaderEpoch).toBe(1);
  });

  it('goes on fetching when the connection to a leader drops, and when the leader dies and another takes over', async () => {
    const fake = await cluster(2, { orders: 1 });
    const sluice = client(fake.bootstrap);
    const producer = sluice.producer({ lingerMs: 0 });
    const consumer = sluice.consumer({ maxWaitMs: 50 });
    consumer.assign([{ topic: 'orders', partition: 0, offset: 0 }]);
    const received: string[] = [];
    const receive = (count: number) => waitFor(`${count} records`, async () => {
      received.push(...(await consumer.poll({ timeoutMs: 100 })).map((record) => record.value!.toString()));
      return received.length >= count;
    });
    await producer.send({ topic: 'orders', messages: [{ value: 'r0', partition: 0 }] });
    await receive(1);
    fake.node(0).dropConnections();
    await producer.send({ topic: 'orders', messages: [{ value: 'r1', partition: 0 }] });
    await receive(2);
    await fake.node(0).close();
    fake.moveLeader('orders', 0, 1);
    await producer.send({ topic: 'orders', messages: [{ value: 'r2', partition: 0 }] });
    await receive(3);
    expect(received).toEqual(['r0', 'r1', 'r2']);
    expect(fake.seen(Api.FETCH).at(-1)!.nodeId).toBe(1);
  });

  it('fails a consumer assigned a partition the topic does not have', async () => {
    const fake = await cluster(1, { orders: 1 });
    const consumer = client(fake.bootstrap).consumer({ maxWaitMs: 50 });
    consumer.assign([{ topic: 'orders', partition: 5, offset: 0 }]);
    await expect(consumer.poll({ timeoutMs: 3000 })).rejects.toThrow(/topic orders has no partition 5/);
  });

  it('answers a fenced epoch with a refresh: a client whose metadata is old catches up', async () => {
    const fake = await cluster(1, { orders: 1 });
    const sluice = client(fake.bootstrap);
    await sluice.producer({ lingerMs: 0 }).send({ topic: 'orders', messages: [{ value: 'x', partition: 0 }] });
    const consumer = sluice.consumer({ maxWaitMs: 50 });
    consumer.assign([{ topic: 'orders', partition: 0, offset: 0 }]);
    // The consumer's metadata is fetched with epoch 0; the leader moves on to epoch 1 (same broker).
    await waitFor('the record', async () => (await consumer.poll({ timeoutMs: 100 })).length === 1);
    fake.moveLeader('orders', 0, 0);
    await sluice.producer({ lingerMs: 0 }).send({ topic: 'orders', messages: [{ value: 'y', partition: 0 }] });
    await waitFor('the record after the epoch change', async () => (await consumer.poll({ timeoutMs: 100 })).some((record) => record.value!.toString() === 'y'));
    expect(fake.seen(Api.FETCH).some((fetch) => (fetch.body as FetchRequest).topics[0]!.partitions[0]!.currentLeaderEpoch === 1)).toBe(true);
  });

  it('resets a position past a truncated log as autoOffsetReset says, and logs it', async () => {
    const fake = await cluster(2, { orders: 1 });
    const warnings: Array<{ object: object; message: string }> = [];
    const logger = { warn: (object: object, message: string) => warnings.push({ object, message }), info: () => {}, debug: () => {} };
    const sluice = client(fake.bootstrap, { logger });
    const producer = sluice.producer({ lingerMs: 0 });
    for (let index = 0; index < 10; index += 1) await producer.send({ topic: 'orders', messages: [{ value: `old${index}`, partition: 0 }] });
    const consumer = sluice.consumer({ maxWaitMs: 50, autoOffsetReset: 'earliest' });
    consumer.assign([{ topic: 'orders', partition: 0, offset: 0 }]);
    let received = 0;
    await waitFor('ten records', async () => (received += (await consumer.poll({ timeoutMs: 100 })).length) >= 10);
    // The new leader lacked the last 6 records: the consumer's position (10) is past its log end (4).
    fake.truncate('orders', 0, 4);
    fake.moveLeader('orders', 0, 1);
    const after: string[] = [];
    await waitFor('a reset to the earliest offset', async () => {
      after.push(...(await consumer.poll({ timeoutMs: 100 })).map((record) => record.value!.toString()));
      return after.length >= 4;
    });
    expect(after).toEqual(['old0', 'old1', 'old2', 'old3']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toMatch(/fetch offset 10 of orders\/0 is out of the leader's range .*resetting to earliest/);
    expect(warnings[0]!.object).toMatchObject({ topic: 'orders', partition: 0, fetchOffset: 10, reset: 'earliest' });
  });
});

describe('group coordinator', () => {
  it('sends group requests to the coordinator FindCoordinator names, and finds it again when it moves', async () => {
    const fake = await cluster(3, { orders: 2 });
    fake.coordinatorId = 2;
    const sluice = client(fake.node(0).bootstrap);
    const consumer = sluice.consumer({ groupId: 'workers', heartbeatIntervalMs: 50, autoCommit: false });
    consumer.subscribe(['orders']);
    await waitFor('an assignment', () => consumer.assignment().length === 2);
    const groupApis = new Set<number>([Api.JOIN_GROUP, Api.SYNC_GROUP, Api.HEARTBEAT, Api.OFFSET_COMMIT, Api.OFFSET_FETCH]);
    expect(fake.requests.filter((request) => groupApis.has(request.api)).every((request) => request.nodeId === 2)).toBe(true);
    // The coordinator moves to broker 1: broker 2 answers NOT_COORDINATOR, the member finds broker 1.
    fake.coordinatorId = 1;
    await waitFor('a heartbeat on the new coordinator', () => fake.seen(Api.HEARTBEAT).some((request) => request.nodeId === 1));
    await consumer.commit([{ topic: 'orders', partition: 0, offset: 7 }]);
    expect(fake.seen(Api.OFFSET_COMMIT).at(-1)!.nodeId).toBe(1);
    expect(fake.groups.get('workers')!.offsets.get('orders/0')).toBe(7);
    // The coordinator's broker dies; FindCoordinator names broker 0, and the commit goes there.
    fake.coordinatorId = 0;
    await fake.node(1).close();
    await consumer.commit([{ topic: 'orders', partition: 0, offset: 9 }]);
    expect(fake.seen(Api.OFFSET_COMMIT).at(-1)!.nodeId).toBe(0);
  });
});

describe('a coordinator that died', () => {
  it('costs a commit one short connect attempt per FindCoordinator answer naming it, not the connection\'s 10 s connect timeout', async () => {
    const fake = await cluster(3, { orders: 2 });
    fake.coordinatorId = 1;
    const consumer = client(fake.node(0).bootstrap, { connectTimeoutMs: 10_000 }).consumer({ groupId: 'workers', autoCommit: false });
    await consumer.commit([{ topic: 'orders', partition: 0, offset: 3 }]);
    // The coordinator's broker dies, and for a while FindCoordinator still names it (its lease has not expired).
    await fake.node(1).close();
    fake.ghosts.add(1);
    const started = performance.now();
    const moved = setTimeout(() => { fake.coordinatorId = 0; }, 1500);
    try {
      await consumer.commit([{ topic: 'orders', partition: 0, offset: 5 }]);
    } finally {
      clearTimeout(moved);
    }
    const elapsedMs = performance.now() - started;
    expect(fake.groups.get('workers')!.offsets.get('orders/0')).toBe(5);
    expect(fake.seen(Api.OFFSET_COMMIT).at(-1)!.nodeId).toBe(0);
    expect(elapsedMs).toBeLessThan(5_000);
  });
});

describe('admin and the controller', () => {
  it('says plainly that a broker without elections (a single node) cannot elect leaders', async () => {
    const fake = await cluster(1, { orders: 1 }, {
      intercept: (_nodeId, request) => (request.api === Api.ELECT_LEADERS ? { errorCode: errorCodes.SLUICE_ERR_UNKNOWN_API.wire, errorMessage: 'unknown API 19' } : undefined),
    });
    await expect(client(fake.bootstrap).admin().electLeaders({ type: 'preferred' })).rejects.toThrow(/does not elect leaders: it is not part of a cluster/);
  });

  it('lists the groups of every broker, skipping one that is listed but dead', async () => {
    const fake = await cluster(3, { orders: 1 });
    fake.coordinatorId = 1;
    await client(fake.bootstrap).admin().resetOffsets('billing', 'orders', 'earliest');
    await fake.node(2).close();
    fake.ghosts.add(2);
    const groups = await client(fake.node(0).bootstrap).admin().listGroups();
    expect(groups).toEqual([{ groupId: 'billing', state: 'Stable', members: 0, type: 'classic' }]);
    expect(fake.seen(Api.LIST_GROUPS).map((request) => request.nodeId).sort()).toEqual([0, 1]);
  });

  it('describes a topic whose leader just died without waiting out the connect timeout (its offsets unknown)', async () => {
    const fake = await cluster(3, { orders: 3 });
    const dead = fake.partition('orders', 1).leader;
    await fake.node(dead).close();
    fake.ghosts.add(dead);
    const admin = client(fake.node((dead + 1) % 3).bootstrap, { connectTimeoutMs: 10_000 }).admin();
    const started = performance.now();
    const topic = await admin.describeTopic('orders');
    const elapsedMs = performance.now() - started;
    expect(topic.partitions[1]).toMatchObject({ leader: dead, logEndOffset: -1 });
    expect(topic.partitions.filter((partition) => partition.leader !== dead).every((partition) => partition.logEndOffset === 0)).toBe(true);
    // A dead leader costs one short connect attempt (leaderConnectTimeoutMs, 1 s), not the connection's 10 s.
    expect(elapsedMs).toBeLessThan(5_000);
  });

  it('creates topics with a replication factor and configs on the controller, following NOT_CONTROLLER', async () => {
    const fake = await cluster(3, {});
    fake.controllerId = 1;
    const admin = client(fake.node(0).bootstrap).admin();
    await admin.createTopic('orders', { partitions: 3, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } });
    expect(fake.seen(Api.CREATE_TOPICS).map((request) => request.nodeId)).toEqual([1]);
    expect(fake.created[0]).toEqual({ name: 'orders', partitions: 3, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } });
    // The controller moves; the admin's cached controller (1) refuses and the retry finds 2.
    fake.controllerId = 2;
    await admin.deleteTopic('orders');
    expect(fake.seen(Api.DELETE_TOPICS).map((request) => request.nodeId)).toEqual([1, 2]);
    expect(fake.partitions.has('orders')).toBe(false);
  });

  it('describes topics and the cluster, and elects preferred leaders', async () => {
    const fake = await cluster(3, { orders: 3 });
    fake.controllerId = 2;
    fake.moveLeader('orders', 1, 0);
    fake.partition('orders', 1).isr = [0, 2];
    fake.partition('orders', 1).offlineReplicas = [1];
    const admin = client(fake.node(0).bootstrap).admin();
    const topic = await admin.describeTopic('orders');
    expect(topic.partitions[1]).toMatchObject({ partition: 1, leader: 0, leaderEpoch: 1, replicas: [1, 2, 0], isr: [0, 2], offlineReplicas: [1], logStartOffset: 0, logEndOffset: 0 });
    const described = await admin.describeCluster();
    expect(described.controllerId).toBe(2);
    expect(described.brokers.map((broker) => [broker.nodeId, broker.controller, broker.leaderCount, broker.rack])).toEqual([[0, false, 2, 'rack-0'], [1, false, 0, 'rack-1'], [2, true, 1, 'rack-2']]);
    const results = await admin.electLeaders({ type: 'preferred', partitions: [{ topic: 'orders', partition: 1 }] });
    expect(results).toEqual([{ topic: 'orders', partition: 1, notNeeded: false }]);
    expect(fake.elections).toEqual([{ electionType: ElectionType.PREFERRED, topics: [{ name: 'orders', partitions: [1] }] }]);
    expect(fake.seen(Api.ELECT_LEADERS).map((request) => request.nodeId)).toEqual([2]);
    expect(fake.partition('orders', 1).leader).toBe(1);
    const all = await admin.electLeaders({ type: 'preferred' });
    expect(all.every((result) => result.notNeeded && result.error === undefined)).toBe(true);
  });
});
