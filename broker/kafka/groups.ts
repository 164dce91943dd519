/**
 * The group APIs on the Kafka listener — FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
 * LeaveGroup, OffsetCommit, OffsetFetch, ListGroups, DescribeGroups, DeleteGroups — over the
 * group services, shared with the native listener, so Kafka consumers and Sluice clients can be
 * members of one group. Kafka consumers assign partitions themselves: their subscription and
 * assignment bytes (ConsumerProtocol) pass through the coordinator untouched.
 *
 * Coordinators are announced at their Kafka listener's address. FindCoordinator also finds
 * transaction coordinators (key type 1, broker/transactions/); share groups are not served.
 */
import { deleteGroupsRequest, deleteGroupsResponse } from '../../proto/kafka/messages/delete-groups.js';
import { describeGroupsRequest, describeGroupsResponse } from '../../proto/kafka/messages/describe-groups.js';
import { findCoordinatorRequest, findCoordinatorResponse } from '../../proto/kafka/messages/find-coordinator.js';
import { heartbeatRequest, heartbeatResponse } from '../../proto/kafka/messages/heartbeat.js';
import { joinGroupRequest, joinGroupResponse } from '../../proto/kafka/messages/join-group.js';
import { leaveGroupRequest, leaveGroupResponse } from '../../proto/kafka/messages/leave-group.js';
import { listGroupsRequest, listGroupsResponse } from '../../proto/kafka/messages/list-groups.js';
import { offsetCommitRequest, offsetCommitResponse } from '../../proto/kafka/messages/offset-commit.js';
import { offsetFetchRequest, offsetFetchResponse } from '../../proto/kafka/messages/offset-fetch.js';
import { syncGroupRequest, syncGroupResponse } from '../../proto/kafka/messages/sync-group.js';
import { SluiceError } from '../../proto/errors.js';
import { kafkaErrorCodes } from '../../proto/kafka/error-codes.js';
import type { BrokerContext } from '../api/context.js';
import {
  commitOffsets, deleteGroups, describeGroup, fetchOffsets, findCoordinator, heartbeat, joinGroup, leaveGroup, listGroups, syncGroup,
} from '../services/groups.js';
import { coordinatorKeyType, findTxnCoordinator } from '../transactions/service.js';
import { type KafkaError, kafkaError, kafkaResultError } from './errors.js';
import { errorMessage, kafkaHandler } from './handler.js';

const groupKeyType = 0;
const noError: KafkaError = { errorCode: 0, errorMessage: '' };

/** The coordinator of a group at its Kafka address, or the error to answer instead. */
function coordinator(broker: BrokerContext, key: string, keyType: number): { nodeId: number; host: string; port: number } & KafkaError {
  try {
    if (keyType !== groupKeyType && keyType !== coordinatorKeyType.transaction) {
      throw new SluiceError('SLUICE_ERR_INVALID_REQUEST', `coordinator key type ${keyType} is not served: Sluice coordinates consumer groups (0) and transactions (1)`);
    }
    const { nodeId } = keyType === groupKeyType ? findCoordinator(broker, key) : findTxnCoordinator(broker, key);
    const address = broker.cluster.kafkaBrokers().find((node) => node.nodeId === nodeId);
    if (address === undefined) {
      throw new SluiceError('SLUICE_ERR_COORDINATOR_NOT_AVAILABLE', `broker ${nodeId} coordinates group ${key} but has no Kafka listener`);
    }
    return { nodeId, host: address.host, port: address.port, ...noError };
  } catch (error) {
    return { nodeId: -1, host: '', port: -1, ...kafkaError(error, 'coordinator') };
  }
}

export const findCoordinatorHandler = kafkaHandler({
  name: 'FindCoordinator',
  request: findCoordinatorRequest,
  response: findCoordinatorResponse,
  scope: 'coordinator',
  handle(request, { version, broker }) {
    if (version >= 4) {
      return {
        throttleTimeMs: 0,
        coordinators: request.coordinatorKeys.map((key) => {
          const found = coordinator(broker, key, request.keyType);
          return { key, nodeId: found.nodeId, host: found.host, port: found.port, errorCode: found.errorCode, errorMessage: errorMessage(found) };
        }),
      };
    }
    const found = coordinator(broker, request.key, request.keyType);
    return { throttleTimeMs: 0, errorCode: found.errorCode, errorMessage: errorMessage(found), nodeId: found.nodeId, host: found.host, port: found.port };
  },
  failed: (request, error) => ({
    throttleTimeMs: 0, errorCode: error.errorCode, errorMessage: errorMessage(error), nodeId: -1, host: '', port: -1,
    coordinators: request.coordinatorKeys.map((key) => ({ key, nodeId: -1, host: '', port: -1, errorCode: error.errorCode, errorMessage: errorMessage(error) })),
  }),
});

export const joinGroupHandler = kafkaHandler({
  name: 'JoinGroup',
  request: joinGroupRequest,
  response: joinGroupResponse,
  scope: 'coordinator',
  async handle(request, { broker, clientId }) {
    const joined = await joinGroup(broker, {
      groupId: request.groupId,
      sessionTimeoutMs: request.sessionTimeoutMs,
      // v0 has no rebalance timeout: Kafka uses the session timeout.
      rebalanceTimeoutMs: request.rebalanceTimeoutMs < 0 ? request.sessionTimeoutMs : request.rebalanceTimeoutMs,
      memberId: request.memberId,
      groupInstanceId: request.groupInstanceId ?? '',
      protocolType: request.protocolType,
      protocols: request.protocols,
    }, clientId ?? '');
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      generationId: joined.generationId,
      protocolType: request.protocolType,
      protocolName: joined.protocolName,
      leader: joined.leader,
      memberId: joined.memberId,
      members: joined.members.map((member) => ({ memberId: member.memberId, groupInstanceId: member.groupInstanceId || null, metadata: member.metadata })),
    };
  },
  failed: (request, error) => ({
    throttleTimeMs: 0, errorCode: error.errorCode, generationId: -1, protocolName: '', leader: '', memberId: request.memberId, members: [],
  }),
});

export const syncGroupHandler = kafkaHandler({
  name: 'SyncGroup',
  request: syncGroupRequest,
  response: syncGroupResponse,
  scope: 'coordinator',
  async handle(request, { broker }) {
    const assignment = await syncGroup(broker, {
      groupId: request.groupId, generationId: request.generationId, memberId: request.memberId, assignments: request.assignments,
    });
    const group = broker.groups.describe(request.groupId);
    return {
      throttleTimeMs: 0, errorCode: 0, protocolType: group?.protocolType ?? request.protocolType, protocolName: group?.protocolName ?? request.protocolName, assignment,
    };
  },
  failed: (_request, error) => ({ throttleTimeMs: 0, errorCode: error.errorCode, assignment: Buffer.alloc(0) }),
});

export const heartbeatHandler = kafkaHandler({
  name: 'Heartbeat',
  request: heartbeatRequest,
  response: heartbeatResponse,
  scope: 'coordinator',
  handle(request, { broker }) {
    heartbeat(broker, request.groupId, request.generationId, request.memberId);
    return { throttleTimeMs: 0, errorCode: 0 };
  },
  failed: (_request, error) => ({ throttleTimeMs: 0, errorCode: error.errorCode }),
});

/** v3+ names the members leaving (an admin may remove static members by instance id alone). */
export const leaveGroupHandler = kafkaHandler({
  name: 'LeaveGroup',
  request: leaveGroupRequest,
  response: leaveGroupResponse,
  scope: 'coordinator',
  handle(request, { version, broker }) {
    if (version < 3) {
      leaveGroup(broker, request.groupId, request.memberId);
      return { throttleTimeMs: 0, errorCode: 0, members: [] };
    }
    broker.offsets.checkCoordinator(request.groupId);
    const members = request.members.map((member) => {
      try {
        let memberId = member.memberId;
        if (memberId === '' && member.groupInstanceId !== null) {
          const found = broker.groups.describe(request.groupId)?.members.find((candidate) => candidate.groupInstanceId === member.groupInstanceId);
          if (found === undefined) throw new SluiceError('SLUICE_ERR_UNKNOWN_MEMBER_ID', `group ${request.groupId} has no member with instance id ${member.groupInstanceId}`);
          memberId = found.memberId;
        }
        leaveGroup(broker, request.groupId, memberId);
        return { memberId: member.memberId, groupInstanceId: member.groupInstanceId, errorCode: 0 };
      } catch (error) {
        return { memberId: member.memberId, groupInstanceId: member.groupInstanceId, errorCode: kafkaError(error, 'coordinator').errorCode };
      }
    });
    return { throttleTimeMs: 0, errorCode: 0, members };
  },
  failed: (_request, error) => ({ throttleTimeMs: 0, errorCode: error.errorCode, members: [] }),
});

export const offsetCommitHandler = kafkaHandler({
  name: 'OffsetCommit',
  request: offsetCommitRequest,
  response: offsetCommitResponse,
  scope: 'coordinator',
  async handle(request, { broker }) {
    const topics = await commitOffsets(broker, {
      groupId: request.groupId,
      generationId: request.generationIdOrMemberEpoch,
      memberId: request.memberId,
      topics: request.topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((partition) => ({ partition: partition.partitionIndex, offset: partition.committedOffset, metadata: partition.committedMetadata ?? '' })),
      })),
    });
    return {
      throttleTimeMs: 0,
      topics: topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((result) => ({ partitionIndex: result.partition, errorCode: kafkaResultError(result, 'coordinator').errorCode })),
      })),
    };
  },
  failed: (request, error) => ({
    throttleTimeMs: 0,
    topics: request.topics.map((topic) => ({
      name: topic.name, partitions: topic.partitions.map((partition) => ({ partitionIndex: partition.partitionIndex, errorCode: error.errorCode })),
    })),
  }),
});

type AskedTopics = ReadonlyArray<{ name: string; partitionIndexes: readonly number[] }> | null;

interface FetchedPartition {
  partitionIndex: number;
  committedOffset: number;
  committedLeaderEpoch: number;
  metadata: string | null;
  errorCode: number;
}

/**
 * One group's committed offsets in Kafka's shape: every partition asked for, −1 where nothing
 * is committed (as Kafka answers); all committed ones when no topics are named.
 */
async function groupOffsets(broker: BrokerContext, groupId: string, asked: AskedTopics, requireStable = false): Promise<{ topics: Array<{ name: string; partitions: FetchedPartition[] }> } & KafkaError> {
  try {
    const committed = await fetchOffsets(broker, groupId, asked === null ? undefined : asked.map((topic) => topic.name));
    // requireStable (v7+): a partition with a transactional commit still open answers UNSTABLE_OFFSET_COMMIT, and the consumer retries.
    const unstable = requireStable ? broker.offsets.pendingTransactional(groupId) : new Set<string>();
    const found = new Map(committed.map((topic) => [topic.name, new Map(topic.partitions.map((partition) => [partition.partition, partition]))]));
    const entry = (topic: string, partitionIndex: number, offset: number, metadata: string): FetchedPartition => (unstable.has(`${topic}\u0000${partitionIndex}`)
      ? { partitionIndex, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: kafkaErrorCodes.UNSTABLE_OFFSET_COMMIT }
      : { partitionIndex, committedOffset: offset, committedLeaderEpoch: -1, metadata, errorCode: 0 });
    const topics = asked === null
      ? committed.map((topic) => ({ name: topic.name, partitions: topic.partitions.map((partition) => entry(topic.name, partition.partition, partition.offset, partition.metadata)) }))
      : asked.map((topic) => ({
        name: topic.name,
        partitions: topic.partitionIndexes.map((index) => {
          const partition = found.get(topic.name)?.get(index);
          return partition === undefined ? entry(topic.name, index, -1, '') : entry(topic.name, index, partition.offset, partition.metadata);
        }),
      }));
    return { topics, ...noError };
  } catch (error) {
    const failure = kafkaError(error, 'coordinator');
    return {
      topics: (asked ?? []).map((topic) => ({
        name: topic.name,
        partitions: topic.partitionIndexes.map((partitionIndex) => ({ partitionIndex, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: failure.errorCode })),
      })),
      ...failure,
    };
  }
}

/** Up to v7 one group (its error per request from v2, per partition before); from v8 several, each with its error. */
export const offsetFetchHandler = kafkaHandler({
  name: 'OffsetFetch',
  request: offsetFetchRequest,
  response: offsetFetchResponse,
  scope: 'coordinator',
  async handle(request, { version, broker }) {
    if (version >= 8) {
      const groups = await Promise.all(request.groups.map(async (group) => {
        const fetched = await groupOffsets(broker, group.groupId, group.topics, request.requireStable);
        return { groupId: group.groupId, topics: fetched.topics, errorCode: fetched.errorCode };
      }));
      return { throttleTimeMs: 0, groups };
    }
    const fetched = await groupOffsets(broker, request.groupId, version < 2 ? request.topics ?? [] : request.topics, request.requireStable);
    return { throttleTimeMs: 0, topics: fetched.topics, errorCode: fetched.errorCode };
  },
  failed: (request, error) => ({
    throttleTimeMs: 0, topics: [], errorCode: error.errorCode,
    groups: request.groups.map((group) => ({ groupId: group.groupId, topics: [], errorCode: error.errorCode })),
  }),
});

/** Classic and share groups; statesFilter (v4+) and typesFilter (v5+) apply. */
export const listGroupsHandler = kafkaHandler({
  name: 'ListGroups',
  request: listGroupsRequest,
  response: listGroupsResponse,
  scope: 'coordinator',
  handle(request, { broker }) {
    const states = request.statesFilter.map((state) => state.toLowerCase());
    const types = request.typesFilter.map((type) => type.toLowerCase());
    const groups = listGroups(broker)
      .filter((group) => states.length === 0 || states.includes(group.state.toLowerCase()))
      .filter((group) => types.length === 0 || types.includes(group.type))
      .map((group) => ({
        groupId: group.groupId, protocolType: group.type === 'share' ? 'share' : broker.groups.describe(group.groupId)?.protocolType ?? '', groupState: group.state, groupType: group.type,
      }));
    return { throttleTimeMs: 0, errorCode: 0, groups };
  },
  failed: (_request, error) => ({ throttleTimeMs: 0, errorCode: error.errorCode, groups: [] }),
});

export const describeGroupsHandler = kafkaHandler({
  name: 'DescribeGroups',
  request: describeGroupsRequest,
  response: describeGroupsResponse,
  scope: 'coordinator',
  handle(request, { broker }) {
    return {
      throttleTimeMs: 0,
      groups: request.groups.map((groupId) => {
        try {
          const group = describeGroup(broker, groupId);
          return {
            errorCode: 0, errorMessage: null, groupId, groupState: group.state, protocolType: group.protocolType, protocolData: group.protocolName,
            members: group.members.map((member) => ({
              memberId: member.memberId, groupInstanceId: member.groupInstanceId || null, clientId: member.clientId, clientHost: '',
              memberMetadata: member.metadata, memberAssignment: member.assignment,
            })),
          };
        } catch (error) {
          const failure = kafkaError(error, 'coordinator');
          return { errorCode: failure.errorCode, errorMessage: errorMessage(failure), groupId, groupState: '', protocolType: '', protocolData: '', members: [] };
        }
      }),
    };
  },
  failed: (request, error) => ({
    throttleTimeMs: 0,
    groups: request.groups.map((groupId) => ({ errorCode: error.errorCode, errorMessage: errorMessage(error), groupId, groupState: '', protocolType: '', protocolData: '', members: [] })),
  }),
});

export const deleteGroupsHandler = kafkaHandler({
  name: 'DeleteGroups',
  request: deleteGroupsRequest,
  response: deleteGroupsResponse,
  scope: 'coordinator',
  async handle(request, { broker }) {
    const results = await deleteGroups(broker, request.groupsNames);
    return { throttleTimeMs: 0, results: results.map((result) => ({ groupId: result.groupId, errorCode: kafkaResultError(result, 'coordinator').errorCode })) };
  },
  failed: (request, error) => ({ throttleTimeMs: 0, results: request.groupsNames.map((groupId) => ({ groupId, errorCode: error.errorCode })) }),
});
