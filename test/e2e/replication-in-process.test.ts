/**
 * Leader→follower replication between real brokers in this process (real sockets, real logs in
 * temp directories), with partition states set by hand through an in-memory store that checks
 * ISR changes as Kafka's controller does. A follower's path to its leader goes through a relay
 * the test can hold, which is how a follower is made to lag.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BrokerConnection } from '../../client/connection.js';
import { Api, type FetchPartitionResult, type ProducePartitionResult } from '../../proto/messages.js';
import { testBatch } from '../helpers/batches.js';
import { waitFor } from '../helpers/broker-process.js';
import { ReplicationCluster } from '../helpers/replication-cluster.js';

const settings = { replicaLagTimeMaxMs: 1000, replicaFetchWaitMaxMs: 100, replicaFetchBackoffMs: 50, replicaSocketTimeoutMs: 1500 };

let cluster: ReplicationCluster | undefined;
const connections: BrokerConnection[] = [];

afterEach(async () => {
  for (const connection of connections.splice(0)) connection.close();
  await cluster?.stop();
  cluster = undefined;
});

function connect(nodeId: number): BrokerConnection {
  const connection = new BrokerConnection({ host: '127.0.0.1', port: cluster!.node(nodeId).port, requestTimeoutMs: 15_000 });
  connections.push(connection);
  return connection;
}

async function produce(nodeId: number, acks: number, n: number, timeoutMs = 10_000, topic = 't'): Promise<ProducePartitionResult> {
  const response = await connect(nodeId).request<'produce'>(Api.PRODUCE, { acks, timeoutMs, topics: [{ name: topic, partitions: [{ partition: 0, records: testBatch(n) }] }] });
  return response.topics[0]!.partitions[0]!;
}

async function consumerFetch(nodeId: number, fetchOffset: number, maxWaitMs = 0, topic = 't'): Promise<FetchPartitionResult> {
  const response = await connect(nodeId).request<'fetch'>(Api.FETCH, {
    maxWaitMs, minBytes: 1, maxBytes: 1 << 20, topics: [{ name: topic, partitions: [{ partition: 0, fetchOffset, maxBytes: 1 << 20 }] }],
  });
  return response.topics[0]!.partitions[0]!;
}

async function latestOffset(nodeId: number, replicaId?: number): Promise<number> {
  const response = await connect(nodeId).request<'listOffsets'>(Api.LIST_OFFSETS, { replicaId, topics: [{ name: 't', partitions: [{ partition: 0, timestamp: -1 }] }] });
  return response.topics[0]!.partitions[0]!.offset;
}

const logEnd = (nodeId: number, topic = 't') => cluster!.node(nodeId).broker.topics.partition(topic, 0).log.logEndOffset;

function wholeLog(nodeId: number): Buffer {
  const { log } = cluster!.node(nodeId).broker.topics.partition('t', 0);
  return Buffer.concat(log.read(log.logStartOffset, 1 << 30).slices);
}

describe('replication between in-process brokers', () => {
  it('answers acks=all only once the follower has the batch', async () => {
    cluster = await ReplicationCluster.start(2, settings);
    cluster.createTopic('t', [0, 1]);
    // Both replicas have fetched once, so the new leader's high watermark can move (§B).
    expect((await produce(0, -1, 0)).errorCode).toBe(0);
    cluster.link(1, 0).pause();
    let answered = false;
    const waiting = produce(0, -1, 1).then((result) => {
      answered = true;
      return { result, followerEnd: logEnd(1) };
    });
    await waitFor('the leader to append', () => logEnd(0) === 20, 5000);
    expect(logEnd(1)).toBe(10);
    expect(answered).toBe(false);
    cluster.link(1, 0).resume();
    const { result, followerEnd } = await waiting;
    expect(result.errorCode).toBe(0);
    expect(result.baseOffset).toBe(10);
    expect(followerEnd).toBe(20);
  }, 30_000);

  it('times an acks=all produce out (REQUEST_TIMED_OUT) when the follower does not fetch it', async () => {
    cluster = await ReplicationCluster.start(2, { ...settings, replicaLagTimeMaxMs: 60_000 });
    cluster.createTopic('t', [0, 1]);
    expect((await produce(0, -1, 0)).errorCode).toBe(0);
    cluster.link(1, 0).pause();
    const result = await produce(0, -1, 1, 300);
    expect(result.errorCode).toBe(7);
    expect(logEnd(0)).toBe(20);
  }, 30_000);

  it('never shows consumers records past the high watermark, and wakes their long poll when it moves', async () => {
    cluster = await ReplicationCluster.start(2, settings);
    cluster.createTopic('t', [0, 1]);
    expect((await produce(0, -1, 0)).errorCode).toBe(0);
    cluster.link(1, 0).pause();
    expect((await produce(0, 1, 1)).errorCode).toBe(0);
    const now = await consumerFetch(0, 10);
    expect(now.errorCode).toBe(0);
    expect(now.highWatermark).toBe(10);
    expect(now.records.length).toBe(0);
    expect(await latestOffset(0)).toBe(10);
    expect(await latestOffset(0, 1)).toBe(20);
    const longPoll = consumerFetch(0, 10, 10_000);
    cluster.link(1, 0).resume();
    const woken = await longPoll;
    expect(woken.highWatermark).toBe(20);
    expect(woken.records.length).toBeGreaterThan(0);
    expect(Number(woken.records.readBigInt64BE(0))).toBe(10);
  }, 30_000);

  it('takes a follower behind for longer than the lag time out of the ISR through the store, and back when it catches up', async () => {
    cluster = await ReplicationCluster.start(2, settings);
    cluster.createTopic('t', [0, 1]);
    expect((await produce(0, -1, 0)).errorCode).toBe(0);
    cluster.link(1, 0).pause();
    expect((await produce(0, 1, 1)).errorCode).toBe(0);
    await waitFor('the ISR to shrink to the leader', () => cluster!.store.get('t', 0).isr.join() === '0', 10_000);
    const replicas = cluster.node(0).broker.replicas!;
    expect(replicas.counts()).toMatchObject({ isrShrinks: 1, underReplicatedPartitions: 1, leaderCount: 1 });
    expect(replicas.followerLag()[0]).toMatchObject({ replica: 1, lagRecords: 10 });
    // With the ISR at the leader alone, acks=all completes without the follower.
    expect((await produce(0, -1, 2)).errorCode).toBe(0);
    cluster.link(1, 0).resume();
    await waitFor('the ISR to grow back', () => cluster!.store.get('t', 0).isr.join() === '0,1', 10_000);
    expect(replicas.counts()).toMatchObject({ isrExpands: 1, underReplicatedPartitions: 0 });
    await waitFor('the follower to catch up', () => logEnd(1) === 30, 5000);
  }, 30_000);

  it('refuses acks=all with NOT_ENOUGH_REPLICAS when the ISR is below min.insync.replicas, writing nothing; acks=1 still works', async () => {
    cluster = await ReplicationCluster.start(2, settings);
    cluster.createTopic('t', [0, 1], { 'min.insync.replicas': '2' });
    cluster.link(1, 0).pause();
    const state = cluster.store.get('t', 0);
    cluster.store.set({ ...state, isr: [0], partitionEpoch: state.partitionEpoch + 1 });
    const refused = await produce(0, -1, 0);
    expect(refused.errorCode).toBe(19);
    expect(logEnd(0)).toBe(0);
    expect((await produce(0, 1, 0)).errorCode).toBe(0);
    expect(logEnd(0)).toBe(10);
    cluster.link(1, 0).resume();
    await waitFor('the ISR to grow back', () => cluster!.store.get('t', 0).isr.join() === '0,1', 10_000);
    expect((await produce(0, -1, 1)).errorCode).toBe(0);
  }, 30_000);

  it('answers waiting acks=all produces NOT_LEADER_OR_FOLLOWER when leadership moves, and refuses new ones', async () => {
    cluster = await ReplicationCluster.start(2, settings);
    cluster.createTopic('t', [0, 1]);
    expect((await produce(0, -1, 0)).errorCode).toBe(0);
    cluster.link(1, 0).pause();
    const waiting = produce(0, -1, 1, 20_000);
    await waitFor('the leader to append', () => logEnd(0) === 20, 5000);
    cluster.store.elect('t', 0, 1, [1]);
    expect((await waiting).errorCode).toBe(6);
    expect((await produce(0, 1, 2)).errorCode).toBe(6);
    const fetched = await consumerFetch(0, 0);
    expect(fetched.errorCode).toBe(6);
    expect(fetched.currentLeader).toMatchObject({ leaderId: 1, leaderEpoch: 1 });
  }, 30_000);

  it('truncates a divergent follower (records past the high watermark under an old epoch) and leaves it byte-identical to the leader', async () => {
    cluster = await ReplicationCluster.start(2, settings);
    cluster.createTopic('t', [0, 1]);
    for (let n = 0; n < 3; n += 1) expect((await produce(0, -1, n)).errorCode).toBe(0);
    cluster.link(1, 0).pause();
    // Written on the old leader only, never committed.
    for (let n = 3; n < 5; n += 1) expect((await produce(0, 1, n)).errorCode).toBe(0);
    expect(logEnd(0)).toBe(50);
    cluster.store.elect('t', 0, 1, [1]);
    for (let n = 10; n < 13; n += 1) expect((await produce(1, 1, n)).errorCode).toBe(0);
    expect(logEnd(1)).toBe(60);
    // What the new leader tells a follower that fetched epoch 0 up to offset 50 (§F, §H): at
    // once, not after the long poll's wait.
    const asked = Date.now();
    const asFollower = await connect(1).request<'fetch'>(Api.FETCH, {
      maxWaitMs: 10_000, minBytes: 1, maxBytes: 1 << 20, replicaId: 0, replicaEpoch: 100,
      topics: [{ name: 't', partitions: [{ partition: 0, fetchOffset: 50, maxBytes: 1 << 20, currentLeaderEpoch: 1, lastFetchedEpoch: 0, logStartOffset: 0 }] }],
    });
    expect(asFollower.topics[0]!.partitions[0]!.divergingEpoch).toMatchObject({ epoch: 0, endOffset: 30 });
    expect(Date.now() - asked).toBeLessThan(5000);
    const epochs = await connect(1).request<'offsetsForLeaderEpoch'>(Api.OFFSETS_FOR_LEADER_EPOCH, {
      replicaId: 0, topics: [{ name: 't', partitions: [{ partition: 0, currentLeaderEpoch: 1, leaderEpoch: 0 }] }],
    });
    expect(epochs.topics[0]!.partitions[0]).toMatchObject({ errorCode: 0, leaderEpoch: 0, endOffset: 30 });
    await waitFor('the old leader to follow the new one', () => logEnd(0) === 60 && wholeLog(0).equals(wholeLog(1)), 10_000);
    expect(wholeLog(0).equals(wholeLog(1))).toBe(true);
    const log = cluster.node(0).broker.topics.partition('t', 0).log;
    expect(log.leaderEpochs.entries()).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 1, startOffset: 30 }]);
    expect(cluster.node(0).broker.replicas!.counts().offsetsLost).toBe(0);
  }, 30_000);

  it('counts the offsets lost when a stale replica is elected (unclean) and the old leader truncates below its high watermark', async () => {
    cluster = await ReplicationCluster.start(2, settings);
    cluster.createTopic('t', [0, 1]);
    expect((await produce(0, -1, 0)).errorCode).toBe(0);
    cluster.link(1, 0).pause();
    expect((await produce(0, 1, 1)).errorCode).toBe(0);
    await waitFor('the ISR to shrink to the leader', () => cluster!.store.get('t', 0).isr.join() === '0', 10_000);
    expect((await produce(0, -1, 2)).errorCode).toBe(0);
    expect(cluster.node(0).broker.topics.partition('t', 0).highWatermark).toBe(30);
    expect(logEnd(1)).toBe(10);
    cluster.store.elect('t', 0, 1, [1]);
    await waitFor('the old leader to truncate to the new leader\'s log', () => logEnd(0) === 10, 10_000);
    expect(cluster.node(0).broker.replicas!.counts().offsetsLost).toBe(20);
    expect(wholeLog(0).equals(wholeLog(1))).toBe(true);
  }, 30_000);

  it('with three replicas and min.insync.replicas=2: survives one lagging follower, refuses acks=all with two, and ends with three identical logs', async () => {
    cluster = await ReplicationCluster.start(3, settings);
    cluster.createTopic('t', [0, 1, 2], { 'min.insync.replicas': '2' });
    for (let n = 0; n < 5; n += 1) expect((await produce(0, -1, n)).errorCode).toBe(0);
    cluster.link(2, 0).pause();
    // Waits for follower 2 until it is dropped from the ISR, then commits with 0 and 1.
    expect((await produce(0, -1, 5)).errorCode).toBe(0);
    expect(cluster.store.get('t', 0).isr).toEqual([0, 1]);
    cluster.link(1, 0).pause();
    const stuck = await produce(0, -1, 6, 4000);
    expect(stuck.errorCode).toBe(7);
    await waitFor('the ISR to shrink to the leader', () => cluster!.store.get('t', 0).isr.join() === '0', 10_000);
    expect((await produce(0, -1, 7)).errorCode).toBe(19);
    expect((await produce(0, 1, 7)).errorCode).toBe(0);
    cluster.link(1, 0).resume();
    cluster.link(2, 0).resume();
    await waitFor('the ISR to be whole again', () => cluster!.store.get('t', 0).isr.length === 3, 10_000);
    expect((await produce(0, -1, 8)).errorCode).toBe(0);
    await waitFor('every replica to hold the same log', () => logEnd(1) === 90 && logEnd(2) === 90, 10_000);
    expect(wholeLog(1).equals(wholeLog(0))).toBe(true);
    expect(wholeLog(2).equals(wholeLog(0))).toBe(true);
    // A follower joins the ISR at the high watermark, before it reaches the log end (§A), so the
    // timer may take it out once more before it catches up; it comes back.
    const replicas = cluster.node(0).broker.replicas!;
    await waitFor('no under-replicated partition', () => replicas.counts().underReplicatedPartitions === 0, 10_000);
    const counts = replicas.counts();
    expect(counts.isrShrinks).toBeGreaterThanOrEqual(2);
    expect(counts.isrExpands).toBe(counts.isrShrinks);
    expect(counts.offsetsLost).toBe(0);
  }, 60_000);

  it('checks request epochs and replica ids, and answers OFFSET_NOT_AVAILABLE from a new leader whose high watermark is behind its epoch start', async () => {
    cluster = await ReplicationCluster.start(2, settings);
    cluster.createTopic('t', [0, 1]);
    expect((await produce(0, -1, 0)).errorCode).toBe(0);
    const fetchWithEpoch = async (nodeId: number, currentLeaderEpoch: number, replicaId?: number) => {
      const response = await connect(nodeId).request<'fetch'>(Api.FETCH, {
        maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, replicaId, replicaEpoch: replicaId === undefined ? undefined : 100 + replicaId,
        topics: [{ name: 't', partitions: [{ partition: 0, fetchOffset: 0, maxBytes: 1 << 20, currentLeaderEpoch }] }],
      });
      return response.topics[0]!.partitions[0]!;
    };
    cluster.link(1, 0).pause();
    cluster.link(0, 1).pause();
    // As after a restart from an older high-watermark checkpoint.
    cluster.node(1).broker.topics.partition('t', 0).log.highWatermark = 0;
    cluster.store.elect('t', 0, 1, [1, 0]);
    expect((await fetchWithEpoch(1, 0)).errorCode).toBe(74);
    expect((await fetchWithEpoch(1, 2)).errorCode).toBe(75);
    expect((await fetchWithEpoch(1, 1)).errorCode).toBe(0);
    expect((await fetchWithEpoch(1, 1, 5)).errorCode).toBe(75);
    expect((await fetchWithEpoch(1, -1, 5)).errorCode).toBe(6);
    const listed = await connect(1).request<'listOffsets'>(Api.LIST_OFFSETS, { topics: [{ name: 't', partitions: [{ partition: 0, timestamp: -1 }] }] });
    expect(listed.topics[0]!.partitions[0]!.errorCode).toBe(78);
    expect(await latestOffset(1, 0)).toBe(10);
    const fenced = await connect(1).request<'listOffsets'>(Api.LIST_OFFSETS, { topics: [{ name: 't', partitions: [{ partition: 0, timestamp: -1, currentLeaderEpoch: 0 }] }] });
    expect(fenced.topics[0]!.partitions[0]!.errorCode).toBe(74);
    cluster.link(0, 1).resume();
    await waitFor('the new leader\'s high watermark to reach its epoch start', async () => (await latestOffset(1)) === 10, 10_000);
  }, 30_000);

  it('restarts a follower\'s log at the leader\'s log start when the records it needs next were deleted (OFFSET_OUT_OF_RANGE, §G)', async () => {
    cluster = await ReplicationCluster.start(2, settings);
    cluster.createTopic('t', [0, 1]);
    expect((await produce(0, -1, 0)).errorCode).toBe(0);
    cluster.link(1, 0).pause();
    await waitFor('the ISR to shrink to the leader', async () => {
      if (logEnd(0) === 10) expect((await produce(0, 1, 1)).errorCode).toBe(0);
      return cluster!.store.get('t', 0).isr.join() === '0';
    }, 10_000);
    for (let n = 2; n < 4; n += 1) expect((await produce(0, -1, n)).errorCode).toBe(0);
    const leaderLog = cluster.node(0).broker.topics.partition('t', 0).log;
    leaderLog.deleteRecordsBefore(30);
    cluster.link(1, 0).resume();
    await waitFor('the follower to restart at 30 and catch up', () => logEnd(1) === 40, 10_000);
    const followerLog = cluster.node(1).broker.topics.partition('t', 0).log;
    expect(followerLog.logStartOffset).toBe(30);
    expect(wholeLog(1).equals(wholeLog(0))).toBe(true);
  }, 30_000);
});
