/**
 * Groups in a cluster: a broker coordinates the groups of the `__consumer_offsets` partitions
 * it leads. With three partitions over real logs (a TopicManager in a temp dir) and leadership
 * moved by the test, the request handlers show: NOT_COORDINATOR for a partition led elsewhere
 * or lost (live members dropped), COORDINATOR_LOAD_IN_PROGRESS while a gained partition
 * replays, a commit answered only once its append is committed and never visible when the
 * append fails, offsets reloaded from the log when a partition comes back, FindCoordinator
 * pointing at each partition's leader, and ListGroups and expiry limited to led partitions.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BrokerContext } from '../../../../broker/api/context.js';
import { listGroupsHandler, offsetCommitHandler, offsetFetchHandler } from '../../../../broker/api/groups.js';
import {
  describeGroupsHandler, findCoordinatorHandler, heartbeatHandler, joinGroupHandler, leaveGroupHandler, syncGroupHandler,
} from '../../../../broker/api/membership.js';
import { StopSignal } from '../../../../broker/api/stop-signal.js';
import { SingleBroker } from '../../../../broker/topics/single-broker.js';
import { GroupCoordinator } from '../../../../broker/groups/coordinator.js';
import { GroupExpiry } from '../../../../broker/groups/group-expiry.js';
import { groupPartition } from '../../../../broker/groups/group-partition.js';
import { OffsetStore } from '../../../../broker/groups/offset-store.js';
import { TopicManager } from '../../../../broker/topics/topic-manager.js';
import { errorCodes, SluiceError } from '../../../../proto/errors.js';
import type {
  FindCoordinatorResponse, JoinGroupResponse, ListGroupsResponse, OffsetCommitResponse, OffsetFetchResponse, RequestEnvelope,
} from '../../../../proto/messages.js';
import { FakeOffsetsPartitions } from './fake-offsets-partitions.js';

const partitionCount = 3;
const logger = pino({ level: 'silent' });
const self = { nodeId: 1, host: '127.0.0.1', port: 9101 };
let directory: string;
let topics: TopicManager;
let partitions: FakeOffsetsPartitions;
let coordinator: GroupCoordinator;
let offsets: OffsetStore;
let context: BrokerContext;

/** A group id that lands in the partition, found by Kafka's placement. */
function groupIn(partition: number, name = 'group'): string {
  for (let index = 0; ; index += 1) if (groupPartition(`${name}-${index}`, partitionCount) === partition) return `${name}-${index}`;
}

function open(leading: number[]): void {
  partitions = new FakeOffsetsPartitions(topics, partitionCount, leading);
  coordinator = new GroupCoordinator({ initialRebalanceDelayMs: 1 });
  offsets = new OffsetStore(topics, { partitions, coordinator, logger });
  context = {
    cluster: new SingleBroker(topics, () => self), topics, logger, offsets, groups: coordinator, stopping: new StopSignal(), transactions: undefined as never,
    settings: { nodeId: self.nodeId, advertisedHost: self.host, advertisedPort: self.port, autoCreateTopics: false, defaultPartitions: 1, fetchBytesMax: 1 << 20 },
    metrics: undefined as never,
    topicOrAutoCreate: (name) => topics.find(name),
    producerIds: undefined as never,
  };
}

beforeEach(() => {
  directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-coordinator-partitions-'));
  topics = new TopicManager(directory, {}, () => {});
  topics.open();
  topics.create('orders', 2, {});
  open([0, 1, 2]);
});
afterEach(() => {
  offsets.close();
  coordinator.close();
  topics.close();
  fs.rmSync(directory, { recursive: true, force: true });
});

/** What the connection would send: the body, or the error envelope a thrown error becomes. */
async function call<T>(handler: { api: number; bodyField: string; handle: (request: RequestEnvelope, context: BrokerContext) => unknown }, body: unknown): Promise<T | { error: string }> {
  const request: RequestEnvelope = { api: handler.api, version: 1, correlationId: 1, clientId: 'test', body: handler.bodyField as never, [handler.bodyField]: body };
  try {
    const result = await handler.handle(request, context) as { kind: 'body'; body: T };
    return result.body;
  } catch (error) {
    if (!SluiceError.is(error)) throw error;
    return { error: error.code };
  }
}

const commit = (groupId: string, offset: number, partition = 0) => call<OffsetCommitResponse>(offsetCommitHandler, {
  groupId, generationId: -1, memberId: '', topics: [{ name: 'orders', partitions: [{ partition, offset }] }],
});

async function fetched(groupId: string): Promise<number[] | { error: string }> {
  const response = await call<OffsetFetchResponse>(offsetFetchHandler, { groupId });
  if ('error' in response) return response;
  return response.topics.flatMap((topic) => topic.partitions.map((entry) => entry.offset));
}

const commitErrors = (response: OffsetCommitResponse | { error: string }) =>
  ('error' in response ? [response.error] : response.topics.flatMap((topic) => topic.partitions.map((entry) => entry.errorCode)));

const joinBody = (groupId: string, memberId = '') => ({
  groupId, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
});

/** 'pending', or how the promise settled, once everything queued has run. */
async function outcome(promise: Promise<unknown>): Promise<string> {
  let result = 'pending';
  promise.then(() => { result = 'resolved'; }, (error: { code?: string }) => { result = error.code ?? 'rejected'; });
  await new Promise((resolve) => setImmediate(resolve));
  return result;
}

describe('groups coordinated per __consumer_offsets partition', () => {
  it('answers every group request for a partition it does not lead with NOT_COORDINATOR', async () => {
    partitions.move(2, false);
    const elsewhere = groupIn(2);
    const member = { groupId: elsewhere, generationId: 1, memberId: 'm' };
    expect(await call(joinGroupHandler, joinBody(elsewhere))).toEqual({ error: 'SLUICE_ERR_NOT_COORDINATOR' });
    expect(await call(syncGroupHandler, { ...member, assignments: [] })).toEqual({ error: 'SLUICE_ERR_NOT_COORDINATOR' });
    expect(await call(heartbeatHandler, member)).toEqual({ error: 'SLUICE_ERR_NOT_COORDINATOR' });
    expect(await call(leaveGroupHandler, { groupId: elsewhere, memberId: 'm' })).toEqual({ error: 'SLUICE_ERR_NOT_COORDINATOR' });
    expect(await commit(elsewhere, 5)).toEqual({ error: 'SLUICE_ERR_NOT_COORDINATOR' });
    expect(await fetched(elsewhere)).toEqual({ error: 'SLUICE_ERR_NOT_COORDINATOR' });
    expect(await call(describeGroupsHandler, { groupIds: [groupIn(0), elsewhere] })).toEqual({ error: 'SLUICE_ERR_NOT_COORDINATOR' });
    expect(partitions.appends).toBe(0);
    // A group of a partition it leads is served as before.
    expect(commitErrors(await commit(groupIn(0), 5))).toEqual([0]);
    expect(await fetched(groupIn(0))).toEqual([5]);
  });

  it('drops the groups of a lost partition: waiting joins and later requests get NOT_COORDINATOR, offsets are forgotten', async () => {
    const lost = groupIn(1);
    const kept = groupIn(0);
    const joined = await call<JoinGroupResponse>(joinGroupHandler, joinBody(lost)) as JoinGroupResponse;
    await call(syncGroupHandler, { groupId: lost, generationId: joined.generationId, memberId: joined.memberId, assignments: [] });
    expect(commitErrors(await call<OffsetCommitResponse>(offsetCommitHandler, {
      groupId: lost, generationId: joined.generationId, memberId: joined.memberId, topics: [{ name: 'orders', partitions: [{ partition: 0, offset: 9 }] }],
    }))).toEqual([0]);
    await commit(kept, 4);
    // A second member's join waits for the first to rejoin: it is answered NOT_COORDINATOR when the partition goes.
    const waiting = call(joinGroupHandler, joinBody(lost));
    expect(await outcome(waiting)).toBe('pending');

    partitions.move(1, false);
    expect(await waiting).toEqual({ error: 'SLUICE_ERR_NOT_COORDINATOR' });
    expect(await call(heartbeatHandler, { groupId: lost, generationId: joined.generationId, memberId: joined.memberId })).toEqual({ error: 'SLUICE_ERR_NOT_COORDINATOR' });
    expect(coordinator.describe(lost)).toBeUndefined();
    expect(offsets.committed(lost)).toEqual([]);
    const listed = await call<ListGroupsResponse>(listGroupsHandler, {}) as ListGroupsResponse;
    expect(listed.groups.map((group) => group.groupId)).toEqual([kept]);
    expect(await fetched(kept)).toEqual([4]);
  });

  it('reloads a regained partition from its log, with what another leader committed meanwhile', async () => {
    const group = groupIn(1);
    const deleted = groupIn(1, 'deleted');
    await commit(group, 10);
    await commit(deleted, 10);
    partitions.move(1, false);

    // Another broker leads partition 1 (its log is the same one, as a replica would be) and takes more commits.
    const other = new OffsetStore(topics, { partitions: new FakeOffsetsPartitions(topics, partitionCount, [1]) });
    await other.commit(group, [{ topic: 'orders', partition: 0, offset: 11, metadata: '' }, { topic: 'orders', partition: 1, offset: 3, metadata: '' }]);
    expect(await other.deleteGroup(deleted)).toBe(1);
    other.close();

    partitions.move(1, true);
    expect(await fetched(group)).toEqual({ error: 'SLUICE_ERR_COORDINATOR_LOAD_IN_PROGRESS' });
    await offsets.loaded(1);
    expect(await fetched(group)).toEqual([11, 3]);
    expect(offsets.groups()).toEqual([group]);
  });

  it('answers COORDINATOR_LOAD_IN_PROGRESS while a gained partition replays, for its groups only', async () => {
    const group = groupIn(2);
    // Enough commits that the replay takes several steps (it reads 4 MiB at a time).
    const metadata = 'm'.repeat(60_000);
    for (let round = 0; round < 100; round += 1) {
      expect(commitErrors(await call<OffsetCommitResponse>(offsetCommitHandler, {
        groupId: group, generationId: -1, memberId: '', topics: [{ name: 'orders', partitions: [{ partition: 0, offset: round, metadata }, { partition: 1, offset: round, metadata }] }],
      }))).toEqual([0, 0]);
    }
    partitions.move(2, false);
    partitions.move(2, true);
    const loaded = offsets.loaded(2);
    let checksWhileLoading = 0;
    while (await outcome(loaded) === 'pending') {
      checksWhileLoading += 1;
      expect(await fetched(group)).toEqual({ error: 'SLUICE_ERR_COORDINATOR_LOAD_IN_PROGRESS' });
      expect(commitErrors(await commit(group, 500))).toEqual(['SLUICE_ERR_COORDINATOR_LOAD_IN_PROGRESS']);
      expect(await call(joinGroupHandler, joinBody(group))).toEqual({ error: 'SLUICE_ERR_COORDINATOR_LOAD_IN_PROGRESS' });
      expect(commitErrors(await commit(groupIn(0), 1))).toEqual([0]);
    }
    expect(checksWhileLoading).toBeGreaterThan(1);
    expect(await fetched(group)).toEqual([99, 99]);
  });

  it('stops loading a partition lost meanwhile: loaded() fails and nothing of it stays', async () => {
    await commit(groupIn(2), 7);
    partitions.move(2, false);
    partitions.move(2, true);
    const loaded = offsets.loaded(2);
    partitions.move(2, false);
    await expect(loaded).rejects.toMatchObject({ code: 'SLUICE_ERR_NOT_COORDINATOR' });
    expect(await fetched(groupIn(2))).toEqual({ error: 'SLUICE_ERR_NOT_COORDINATOR' });
    expect(offsets.groups()).toEqual([]);
  });

  it('answers a commit only once its append is committed, and OffsetFetch shows it only then', async () => {
    const group = groupIn(0);
    await commit(group, 1);
    partitions.holdAppends = true;
    const answered = commit(group, 2);
    expect(await outcome(answered)).toBe('pending');
    expect(partitions.held).toHaveLength(1);
    expect(offsets.committed(group).map((entry) => entry.offset)).toEqual([1]);
    // A fetch sent after the commit waits for it rather than answer the older offset.
    const fetchedMeanwhile = fetched(group);
    expect(await outcome(fetchedMeanwhile)).toBe('pending');
    expect(await fetched(groupIn(0, 'other'))).toEqual([]);
    partitions.held[0]!.commit();
    expect(commitErrors(await answered)).toEqual([0]);
    expect(await fetchedMeanwhile).toEqual([2]);
    expect(await fetched(group)).toEqual([2]);
  });

  it('never shows a commit whose append failed, and answers the error in Kafka\'s coordinator terms', async () => {
    const group = groupIn(0);
    await commit(group, 1);
    partitions.holdAppends = true;
    const tooFewReplicas = commit(group, 2);
    await outcome(tooFewReplicas);
    const fetchedMeanwhile = fetched(group);
    partitions.held[0]!.fail(new SluiceError('SLUICE_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND', 'the ISR shrank below min.insync.replicas'));
    expect(commitErrors(await tooFewReplicas)).toEqual([errorCodes.SLUICE_ERR_COORDINATOR_NOT_AVAILABLE.wire]);
    expect(await fetchedMeanwhile).toEqual([1]);
    expect(await fetched(group)).toEqual([1]);

    const leadershipLost = commit(group, 3);
    await outcome(leadershipLost);
    partitions.held[1]!.fail(new SluiceError('SLUICE_ERR_NOT_LEADER_OR_FOLLOWER', 'no longer the leader'));
    const response = await leadershipLost as OffsetCommitResponse;
    expect(commitErrors(response)).toEqual([errorCodes.SLUICE_ERR_NOT_COORDINATOR.wire]);
    expect(response.topics[0]!.partitions[0]!.errorMessage).toMatch(/partition 0 of __consumer_offsets/);
    expect(await fetched(group)).toEqual([1]);
  });

  it('applies commits in the order they were appended, whatever order their appends settle in', async () => {
    const group = groupIn(0);
    partitions.holdAppends = true;
    const first = commit(group, 1);
    const second = commit(group, 2);
    await outcome(second);
    partitions.held[1]!.commit();
    expect(await outcome(second)).toBe('pending');
    expect(offsets.committed(group)).toEqual([]);
    partitions.held[0]!.commit();
    expect(commitErrors(await first)).toEqual([0]);
    expect(commitErrors(await second)).toEqual([0]);
    expect(await fetched(group)).toEqual([2]);
  });

  it('FindCoordinator answers the leader of the group\'s partition: itself, another broker, or COORDINATOR_NOT_AVAILABLE', async () => {
    partitions.move(1, false);
    partitions.setLeader(1, { nodeId: 2, host: '127.0.0.2', port: 9102 });
    partitions.move(2, false);
    expect(await call<FindCoordinatorResponse>(findCoordinatorHandler, { key: groupIn(0), keyType: 0 })).toEqual(self);
    expect(await call<FindCoordinatorResponse>(findCoordinatorHandler, { key: groupIn(1), keyType: 0 })).toEqual({ nodeId: 2, host: '127.0.0.2', port: 9102 });
    const none = await call<FindCoordinatorResponse>(findCoordinatorHandler, { key: groupIn(2), keyType: 0 }) as FindCoordinatorResponse;
    expect(none).toMatchObject({ nodeId: -1, errorCode: errorCodes.SLUICE_ERR_COORDINATOR_NOT_AVAILABLE.wire, errorMessage: expect.stringMatching(/partition 2 of __consumer_offsets/) });
  });

  it('expires idle groups only in the partitions it leads and has loaded', async () => {
    await commit(groupIn(0), 1);
    await commit(groupIn(1), 1);
    partitions.move(1, false);
    partitions.move(1, true);
    const expiry = new GroupExpiry(coordinator, () => offsets, { retentionMs: 1, checkIntervalMs: 1000, logger });
    expect(await expiry.expire(Date.now() + 60_000)).toEqual([groupIn(0)]);
    await offsets.loaded(1);
    expect(await expiry.expire(Date.now() + 60_000)).toEqual([groupIn(1)]);
  });
});

describe('the single broker\'s __consumer_offsets', () => {
  it('keeps offsets committed in a one-partition topic, whatever the group id hashes to', async () => {
    offsets.close();
    coordinator.close();
    topics.close();
    fs.rmSync(directory, { recursive: true, force: true });
    directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-coordinator-partitions-'));
    topics = new TopicManager(directory, {}, () => {});
    topics.open();
    topics.create('orders', 2, {});
    coordinator = new GroupCoordinator({ initialRebalanceDelayMs: 1 });
    offsets = new OffsetStore(topics);
    const groups = ['my-group', 'polygenelubricants', 'console-consumer-1', '消费者组'];
    for (const [index, group] of groups.entries()) await offsets.commit(group, [{ topic: 'orders', partition: 0, offset: index, metadata: '' }]);
    topics.close();
    topics = new TopicManager(directory, {}, () => {});
    topics.open();
    offsets = new OffsetStore(topics);
    expect(offsets.partitions.count).toBe(1);
    for (const [index, group] of groups.entries()) {
      offsets.checkCoordinator(group);
      expect(offsets.committed(group).map((entry) => entry.offset)).toEqual([index]);
    }
  });
});
