/**
 * A Sluice group member in groups shared with Kafka clients, against a scripted coordinator:
 * it announces a ConsumerProtocol subscription under Kafka's (or KafkaJS's) assignor names;
 * follows a Kafka client's leader, whose assignments carry no Sluice userData (KafkaJS's
 * version-1 layout, Java's cooperative-sticky withholding partitions); leads a group with a
 * KafkaJS member, whose short subscription it reads and which can read what it assigns; and
 * refuses subscriptions that are not ConsumerProtocol.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { TopicPartition } from '../../../../client/groups/assignors.js';
import type { GroupCoordinator } from '../../../../client/groups/coordinator.js';
import { GroupMember, type GroupMemberOptions } from '../../../../client/groups/group-member.js';
import { encodeMemberAssignment } from '../../../../client/groups/member-metadata.js';
import type { MetadataCache } from '../../../../client/metadata.js';
import { ConsumerProtocolError, decodeSubscription, encodeAssignment } from '../../../../proto/consumer-protocol.js';
import { SluiceError } from '../../../../proto/errors.js';
import { Api, type JoinGroupRequest, type JoinGroupResponse, type SyncGroupRequest, type SyncGroupResponse } from '../../../../proto/messages.js';
import { waitFor } from '../../../helpers/broker-process.js';
import { kafkajsAssignment, kafkajsSubscription, readAsKafkajsAssignment, readAsKafkajsSubscription } from '../../../helpers/kafkajs-bytes.js';

type Recorded = { api: number; body: unknown };

/**
 * Answers JoinGroup and SyncGroup from queues of scripted answers (a request with none queued
 * waits until the member gives up); heartbeats succeed unless a rebalance was asked for.
 */
class ScriptedCoordinator {
  readonly requests: Recorded[] = [];
  readonly joins: Array<(request: JoinGroupRequest) => JoinGroupResponse> = [];
  readonly syncs: Array<(request: SyncGroupRequest) => SyncGroupResponse> = [];
  rebalance = false;

  request(api: number, body: unknown, options: { signal?: AbortSignal } = {}): Promise<unknown> {
    this.requests.push({ api, body });
    if (api === Api.HEARTBEAT) {
      if (!this.rebalance) return Promise.resolve({});
      this.rebalance = false;
      return Promise.reject(new SluiceError('SLUICE_ERR_REBALANCE_IN_PROGRESS', 'the group is rebalancing'));
    }
    if (api === Api.LEAVE_GROUP) return Promise.resolve({});
    const next = api === Api.JOIN_GROUP ? this.joins.shift() : this.syncs.shift();
    if (next !== undefined) return Promise.resolve((next as (request: unknown) => unknown)(body));
    return new Promise((_, reject) => options.signal?.addEventListener('abort', () => reject(new SluiceError('SLUICE_ERR_ABORTED', 'aborted'))));
  }

  /** The requests of one API, in order. */
  sent<T>(api: number): T[] {
    return this.requests.filter((entry) => entry.api === api).map((entry) => entry.body as T);
  }

  /** The APIs asked for after the n-th request of `api`. */
  after(api: number, nth: number): number[] {
    let seen = 0;
    const index = this.requests.findIndex((entry) => entry.api === api && ++seen === nth);
    return this.requests.slice(index + 1).map((entry) => entry.api);
  }
}

/** Metadata that knows each topic's partition count. */
function fakeMetadata(topics: Record<string, number>): MetadataCache {
  const describe = (name: string) => ({ name, partitions: Array.from({ length: topics[name] ?? 0 }, (_, partition) => ({ partition })) });
  return {
    topic: async (name: string) => describe(name),
    allTopics: async () => Object.keys(topics).map(describe),
  } as unknown as MetadataCache;
}

const orders = (...partitions: number[]): TopicPartition[] => partitions.map((partition) => ({ topic: 'orders', partition }));

interface Events {
  assigned: Array<{ assignment: TopicPartition[]; added: TopicPartition[]; followUp: boolean }>;
  revoked: TopicPartition[][];
  errors: unknown[];
}

const members: GroupMember[] = [];
afterEach(async () => {
  for (const member of members.splice(0)) await member.leave();
});

function startMember(coordinator: ScriptedCoordinator, options: Partial<GroupMemberOptions> = {}): Events {
  const events: Events = { assigned: [], revoked: [], errors: [] };
  const member = new GroupMember(coordinator as unknown as GroupCoordinator, fakeMetadata({ orders: 4 }), {
    groupId: 'mixed', topics: ['orders'], assignor: 'cooperative-sticky', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, heartbeatIntervalMs: 5,
    onRevoked: async (partitions) => { events.revoked.push(partitions); },
    onAssigned: async (assignment, added, followUp) => { events.assigned.push({ assignment, added, followUp }); },
    onError: (error) => { events.errors.push(error); },
    ...options,
  });
  members.push(member);
  member.start();
  return events;
}

const follower = (memberId: string, leader: string, protocolName: string, generationId = 1) => (): JoinGroupResponse => ({ generationId, protocolName, leader, memberId, members: [] });

describe('a Sluice member following a Kafka client\'s leader', () => {
  it('announces KafkaJS\'s assignor name with a ConsumerProtocol subscription and takes KafkaJS\'s assignment', async () => {
    const coordinator = new ScriptedCoordinator();
    coordinator.joins.push(follower('sluice-b', 'kafkajs-a', 'RoundRobinAssigner'));
    coordinator.syncs.push(() => ({ assignment: kafkajsAssignment({ orders: [3, 1] }) }));
    const events = startMember(coordinator, { assignor: 'RoundRobinAssigner' });
    await waitFor('the assignment', () => events.assigned.length === 1);

    const [join] = coordinator.sent<JoinGroupRequest>(Api.JOIN_GROUP);
    expect(join!.protocolType).toBe('consumer');
    expect(join!.protocols.map((protocol) => protocol.name)).toEqual(['RoundRobinAssigner']);
    expect(decodeSubscription(join!.protocols[0]!.metadata)).toEqual({ version: 3, topics: ['orders'], userData: null, ownedPartitions: [], generationId: -1, rackId: null });
    // KafkaJS's leader reads version, topics and userData and stops there.
    expect(readAsKafkajsSubscription(join!.protocols[0]!.metadata)).toEqual(['orders']);
    expect(events.assigned[0]).toEqual({ assignment: orders(3, 1), added: orders(3, 1), followUp: false });
    await waitFor('a heartbeat (no follow-up round)', () => coordinator.after(Api.SYNC_GROUP, 1).includes(Api.HEARTBEAT));
    expect(coordinator.after(Api.SYNC_GROUP, 1)).not.toContain(Api.JOIN_GROUP);
    expect(events.errors).toEqual([]);
  });

  it('under a Java cooperative-sticky leader, gives up withheld partitions and rejoins at once for the hand-over round', async () => {
    const coordinator = new ScriptedCoordinator();
    // Java's leader writes assignments with null userData.
    const javaAssignment = (...partitions: number[]) => () => ({ assignment: encodeAssignment({ assignedPartitions: [{ topic: 'orders', partitions }] }) });
    coordinator.joins.push(follower('sluice-b', 'java-a', 'cooperative-sticky', 1), follower('sluice-b', 'java-a', 'cooperative-sticky', 2), follower('sluice-b', 'java-a', 'cooperative-sticky', 3));
    coordinator.syncs.push(javaAssignment(0, 1, 2, 3), javaAssignment(0, 1), javaAssignment(0, 1));
    const events = startMember(coordinator);
    await waitFor('the first assignment', () => events.assigned.length === 1);
    expect(events.assigned[0]!.followUp).toBe(false);

    coordinator.rebalance = true;
    await waitFor('the hand-over round', () => events.assigned.length === 3);
    const joins = coordinator.sent<JoinGroupRequest>(Api.JOIN_GROUP).map((join) => decodeSubscription(join.protocols[0]!.metadata));
    // A cooperative member keeps its partitions through the rejoin and says which it owns, and since which generation.
    expect(joins[1]).toMatchObject({ ownedPartitions: [{ topic: 'orders', partitions: [0, 1, 2, 3] }], generationId: 1 });
    expect(events.revoked).toEqual([orders(2, 3)]);
    expect(events.assigned[1]).toEqual({ assignment: orders(0, 1), added: [], followUp: true });
    // Having lost partitions it rejoins straight away, as Kafka's cooperative protocol has it, not after a heartbeat.
    expect(coordinator.after(Api.SYNC_GROUP, 2)[0]).toBe(Api.JOIN_GROUP);
    expect(joins[2]).toMatchObject({ ownedPartitions: [{ topic: 'orders', partitions: [0, 1] }], generationId: 2 });
    expect(events.assigned[2]).toEqual({ assignment: orders(0, 1), added: [], followUp: false });
    expect(events.errors).toEqual([]);
  });

  it('takes a Sluice leader\'s follow-up flag on an empty assignment and rejoins', async () => {
    const coordinator = new ScriptedCoordinator();
    coordinator.joins.push(follower('sluice-b', 'sluice-a', 'cooperative-sticky'));
    coordinator.syncs.push(() => ({ assignment: encodeMemberAssignment([], true) }));
    const events = startMember(coordinator);
    await waitFor('the empty assignment', () => events.assigned.length === 1);
    expect(events.assigned[0]).toEqual({ assignment: [], added: [], followUp: true });
    await waitFor('the rejoin', () => coordinator.sent(Api.JOIN_GROUP).length === 2);
    expect(coordinator.after(Api.SYNC_GROUP, 1)[0]).toBe(Api.JOIN_GROUP);
  });
});

describe('a Sluice member leading a group with a Kafka client', () => {
  it('reads KafkaJS\'s short subscription and hands out assignments KafkaJS reads', async () => {
    const coordinator = new ScriptedCoordinator();
    coordinator.joins.push((request) => ({
      generationId: 1, protocolName: 'RoundRobinAssigner', leader: 'sluice-a', memberId: 'sluice-a',
      members: [{ memberId: 'sluice-a', groupInstanceId: '', metadata: request.protocols[0]!.metadata }, { memberId: 'kafkajs-b', groupInstanceId: '', metadata: kafkajsSubscription(['orders']) }],
    }));
    coordinator.syncs.push((request) => ({ assignment: request.assignments.find((entry) => entry.memberId === 'sluice-a')!.assignment }));
    const events = startMember(coordinator, { assignor: 'RoundRobinAssigner' });
    await waitFor('the assignment', () => events.assigned.length === 1);

    const [sync] = coordinator.sent<SyncGroupRequest>(Api.SYNC_GROUP);
    const forKafkajs = sync!.assignments.find((entry) => entry.memberId === 'kafkajs-b')!.assignment;
    // Round robin over the sorted member ids: kafkajs-b first.
    expect(readAsKafkajsAssignment(forKafkajs)).toEqual({ orders: [0, 2] });
    expect(events.assigned[0]).toEqual({ assignment: orders(1, 3), added: orders(1, 3), followUp: false });
    expect(events.errors).toEqual([]);
  });

  it('stops with a ConsumerProtocolError naming a member whose subscription is not ConsumerProtocol', async () => {
    const coordinator = new ScriptedCoordinator();
    coordinator.joins.push((request) => ({
      generationId: 1, protocolName: 'cooperative-sticky', leader: 'sluice-a', memberId: 'sluice-a',
      members: [{ memberId: 'sluice-a', groupInstanceId: '', metadata: request.protocols[0]!.metadata }, { memberId: 'old-b', groupInstanceId: '', metadata: Buffer.from('{"topics":["orders"],"owned":[]}') }],
    }));
    const events = startMember(coordinator);
    await waitFor('the error', () => events.errors.length === 1);
    expect(events.errors[0]).toBeInstanceOf(ConsumerProtocolError);
    expect((events.errors[0] as Error).message).toMatch(/member old-b's subscription/);
  });

  it('refuses to assign with an assignor it did not announce', async () => {
    const coordinator = new ScriptedCoordinator();
    coordinator.joins.push(() => ({ generationId: 1, protocolName: 'range', leader: 'sluice-a', memberId: 'sluice-a', members: [] }));
    const events = startMember(coordinator, { assignor: 'roundrobin' });
    await waitFor('the error', () => events.errors.length === 1);
    expect(SluiceError.is(events.errors[0]) && events.errors[0].code).toBe('SLUICE_ERR_INCONSISTENT_GROUP_PROTOCOL');
  });
});

describe('several assignors', () => {
  it('are announced in order of preference, and a member with an eager one among them gives everything up before rejoining', async () => {
    const coordinator = new ScriptedCoordinator();
    coordinator.joins.push(follower('sluice-b', 'kafkajs-a', 'RoundRobinAssigner', 1), follower('sluice-b', 'kafkajs-a', 'RoundRobinAssigner', 2));
    coordinator.syncs.push(() => ({ assignment: kafkajsAssignment({ orders: [0, 1] }) }), () => ({ assignment: kafkajsAssignment({ orders: [0] }) }));
    const events = startMember(coordinator, { assignor: ['cooperative-sticky', 'RoundRobinAssigner'] });
    await waitFor('the first assignment', () => events.assigned.length === 1);
    const [first] = coordinator.sent<JoinGroupRequest>(Api.JOIN_GROUP);
    expect(first!.protocols.map((protocol) => protocol.name)).toEqual(['cooperative-sticky', 'RoundRobinAssigner']);
    expect(first!.protocols[0]!.metadata).toEqual(first!.protocols[1]!.metadata);

    coordinator.rebalance = true;
    await waitFor('the second assignment', () => events.assigned.length === 2);
    expect(events.revoked).toEqual([orders(0, 1)]);
    expect(decodeSubscription(coordinator.sent<JoinGroupRequest>(Api.JOIN_GROUP)[1]!.protocols[0]!.metadata).ownedPartitions).toEqual([]);
    expect(events.assigned[1]).toEqual({ assignment: orders(0), added: orders(0), followUp: false });
  });
});
