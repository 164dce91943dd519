/**
 * The group services both listeners call: membership (FindCoordinator, JoinGroup, SyncGroup,
 * Heartbeat, LeaveGroup, DescribeGroups, ListGroups, DeleteGroups) over the group coordinator
 * (broker/groups/coordinator.ts), and committed offsets (OffsetCommit, OffsetFetch) over the
 * offset store (`__consumer_offsets`).
 *
 * A group is coordinated by the leader of its `__consumer_offsets` partition: every call about
 * a group this broker does not coordinate throws NOT_COORDINATOR (or COORDINATOR_LOAD_IN_PROGRESS
 * while its offsets load), and findCoordinator says who does. A commit must come from a member
 * of the group's current generation, or (generation -1, no member id) for a group with no live
 * members, as Kafka accepts from standalone consumers; it is answered once its records are
 * committed, and if that fails each partition of the commit carries the error. An offset fetch
 * waits for the group's commits still in flight, so it never answers older offsets than a
 * commit sent before it.
 */
import { errorToWire, SluiceError } from '../../proto/errors.js';
import type {
  FindCoordinatorResponse, JoinGroupRequest, JoinGroupResponse, OffsetCommitRequest, OffsetCommitResponse,
  OffsetFetchTopic, SyncGroupRequest,
} from '../../proto/messages.js';
import type { GroupSnapshot } from '../groups/coordinator.js';
import { type GroupListing, listGroups as listCoordinatedGroups } from '../groups/group-listing.js';
import { offsetsTopic } from '../groups/offset-store.js';
import type { BrokerContext } from '../api/context.js';
import { itemError, itemResult, type WireError } from '../api/item-result.js';

export function checkGroupId(groupId: string): void {
  if (groupId.length === 0 || groupId.length > 255) throw new SluiceError('SLUICE_ERR_INVALID_REQUEST', 'a group id is 1 to 255 characters');
}

/**
 * The coordinator of a group (or a transactional id: the same placement): this broker (at its
 * native advertised address) when it leads the key's `__consumer_offsets` partition, else
 * whoever does. Throws COORDINATOR_NOT_AVAILABLE while the partition has no leader. Listeners
 * that announce other addresses look the node id up in their own list.
 */
export function findCoordinator(context: BrokerContext, key: string): Omit<FindCoordinatorResponse, 'errorCode' | 'errorMessage'> {
  const partition = context.offsets.partitionFor(key);
  const partitions = context.offsets.partitions;
  const leader = partitions.leads(partition)
    ? { nodeId: context.settings.nodeId, host: context.settings.advertisedHost, port: context.settings.advertisedPort }
    : partitions.leaderOf(partition);
  if (leader === undefined) {
    throw new SluiceError('SLUICE_ERR_COORDINATOR_NOT_AVAILABLE', `partition ${partition} of ${offsetsTopic}, which holds group ${key}, has no leader now; retry FindCoordinator shortly`);
  }
  return leader;
}

export async function joinGroup(context: BrokerContext, request: JoinGroupRequest, clientId: string): Promise<JoinGroupResponse> {
  context.offsets.checkCoordinator(request.groupId);
  if (context.share?.isShareGroup(request.groupId) === true) {
    throw new SluiceError('SLUICE_ERR_INCONSISTENT_GROUP_PROTOCOL', `group ${request.groupId} is a share group; a classic consumer group needs another id`);
  }
  return await context.groups.join(request, clientId);
}

/** The member's assignment, once the leader has sent every member's. */
export async function syncGroup(context: BrokerContext, request: SyncGroupRequest): Promise<Buffer> {
  context.offsets.checkCoordinator(request.groupId);
  return await context.groups.sync(request);
}

export function heartbeat(context: BrokerContext, groupId: string, generationId: number, memberId: string): void {
  context.offsets.checkCoordinator(groupId);
  context.groups.heartbeat(groupId, generationId, memberId);
}

export function leaveGroup(context: BrokerContext, groupId: string, memberId: string): void {
  context.offsets.checkCoordinator(groupId);
  context.groups.leave(groupId, memberId);
  context.logger.info({ group: groupId, member: memberId }, 'member left group');
}

/** The live group's members, or the state of a group that has only committed offsets (Empty) or none (Dead). */
export function describeGroup(context: BrokerContext, groupId: string): GroupSnapshot {
  context.offsets.checkCoordinator(groupId);
  return context.groups.describe(groupId)
    ?? { groupId, state: context.offsets.committed(groupId).length > 0 ? 'Empty' : 'Dead', generationId: 0, protocolType: '', protocolName: '', leader: '', members: [] };
}

export function listGroups(context: BrokerContext): GroupListing[] {
  return listCoordinatedGroups(context.groups, context.offsets);
}

/**
 * Deletes groups with no live members, with their committed offsets (DeleteGroups): a group
 * with members gets NON_EMPTY_GROUP, one this broker has no trace of GROUP_ID_NOT_FOUND.
 */
export async function deleteGroups(context: BrokerContext, groupIds: readonly string[]): Promise<Array<{ groupId: string } & WireError>> {
  return await Promise.all(groupIds.map(async (groupId) => {
    try {
      checkGroupId(groupId);
      context.offsets.checkCoordinator(groupId);
      const live = context.groups.describe(groupId);
      if (live === undefined && context.offsets.committed(groupId).length === 0) {
        throw new SluiceError('SLUICE_ERR_GROUP_ID_NOT_FOUND', `group ${groupId} has no members and no committed offsets here`);
      }
      if (!context.groups.expire(groupId)) {
        throw new SluiceError('SLUICE_ERR_NON_EMPTY_GROUP', `group ${groupId} has ${live?.members.length ?? 0} live members; stop them first`);
      }
      const deleted = await context.offsets.deleteGroup(groupId);
      context.logger.info({ group: groupId, offsetsDeleted: deleted }, 'group deleted');
      return { groupId, errorCode: 0, errorMessage: '' };
    } catch (error) {
      return { groupId, ...itemError(context, { api: 'DeleteGroups' }, error) };
    }
  }));
}

export async function commitOffsets(context: BrokerContext, request: OffsetCommitRequest): Promise<OffsetCommitResponse['topics']> {
  checkGroupId(request.groupId);
  context.offsets.checkCoordinator(request.groupId);
  context.groups.checkCommit(request.groupId, request.generationId, request.memberId);
  return await writeCommits(context, 'OffsetCommit', request.topics, (accepted) => context.offsets.commit(request.groupId, accepted));
}

/** An offset commit a partition accepted: the partition exists and the offset is valid. */
export interface AcceptedCommit { topic: string; partition: number; offset: number; metadata: string }

/**
 * OffsetCommit and TxnOffsetCommit alike: checks each partition's entry (answering it on its
 * own when it fails), writes the accepted ones with `write`, and gives them the write's error
 * when it fails.
 */
export async function writeCommits(
  context: BrokerContext, api: 'OffsetCommit' | 'TxnOffsetCommit', requested: OffsetCommitRequest['topics'],
  write: (accepted: AcceptedCommit[]) => Promise<void>,
): Promise<OffsetCommitResponse['topics']> {
  const accepted: AcceptedCommit[] = [];
  const topics = requested.map((topic) => ({
    name: topic.name,
    partitions: topic.partitions.map((entry) => itemResult(context, { api, topic: topic.name, partition: entry.partition }, () => ({ partition: entry.partition, errorCode: 0, errorMessage: '' }), () => {
      context.topics.partition(topic.name, entry.partition);
      if (!Number.isSafeInteger(entry.offset) || entry.offset < 0) {
        throw new SluiceError('SLUICE_ERR_INVALID_REQUEST', `offset ${entry.offset} for ${topic.name}/${entry.partition} is not a non-negative integer`);
      }
      accepted.push({ topic: topic.name, partition: entry.partition, offset: entry.offset, metadata: entry.metadata ?? '' });
      return { partition: entry.partition, errorCode: 0, errorMessage: '' };
    })),
  }));
  try {
    await write(accepted);
  } catch (error) {
    const failed = itemError(context, { api }, error);
    for (const topic of topics) for (const result of topic.partitions) if (result.errorCode === 0) Object.assign(result, failed);
  }
  return topics;
}

/** The group's committed offsets, of the named topics or (undefined or empty) all; only partitions with a commit. */
export async function fetchOffsets(context: BrokerContext, groupId: string, topics: readonly string[] | undefined, requireStable = false): Promise<OffsetFetchTopic[]> {
  checkGroupId(groupId);
  context.offsets.checkCoordinator(groupId);
  const inFlight = context.offsets.settled(groupId);
  if (inFlight !== undefined) {
    await inFlight;
    context.offsets.checkCoordinator(groupId);
  }
  const wanted = new Set(topics ?? []);
  if (requireStable) {
    // A transaction that commits offsets of these partitions is still open: the answer would change when it ends.
    const unstable = [...context.offsets.pendingTransactional(groupId)].map((key) => key.split('\u0000')).filter(([topic]) => wanted.size === 0 || wanted.has(topic!));
    if (unstable.length > 0) {
      throw new SluiceError('SLUICE_ERR_UNSTABLE_OFFSET_COMMIT', `group ${groupId} has a transactional offset commit still open for ${unstable.slice(0, 5).map(([topic, partition]) => `${topic}-${partition}`).join(', ')}; retry once it ends`);
    }
  }
  const byTopic = new Map<string, OffsetFetchTopic['partitions']>();
  for (const committed of context.offsets.committed(groupId)) {
    if (wanted.size > 0 && !wanted.has(committed.topic)) continue;
    const list = byTopic.get(committed.topic) ?? [];
    list.push({ partition: committed.partition, offset: committed.offset, metadata: committed.metadata, commitTimestamp: committed.commitTimestamp });
    byTopic.set(committed.topic, list);
  }
  return [...byTopic].map(([name, partitions]) => ({ name, partitions }));
}

/** FindCoordinator's answer with the error in its fields, as the native response carries it. */
export function coordinatorOrError(context: BrokerContext, key: string): FindCoordinatorResponse {
  try {
    return findCoordinator(context, key);
  } catch (error) {
    return { nodeId: -1, host: '', port: 0, ...errorToWire(error) };
  }
}
