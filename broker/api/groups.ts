/**
 * Consumer-group offsets: OffsetCommit, OffsetFetch and ListGroups, backed by the offset
 * store (`__consumer_offsets`). A commit must come from a member of the group's current
 * generation, or (generation -1, no member id) for a group with no live members, as Kafka
 * accepts from standalone consumers. Only the group's coordinator (the leader of its
 * `__consumer_offsets` partition) answers; a commit is answered once its records are
 * committed, and if that fails each partition of the commit carries the error. A fetch waits
 * for the group's commits still in flight, so it never answers older offsets than a commit
 * sent before it.
 */
import { SluiceError } from '../../proto/errors.js';
import { Api, type OffsetCommitRequest, type OffsetFetchRequest } from '../../proto/messages.js';
import { listGroups } from '../groups/group-listing.js';
import type { ApiHandler, BrokerContext } from './context.js';
import { itemError, itemResult } from './item-result.js';

function checkGroupId(groupId: string): void {
  if (groupId.length === 0 || groupId.length > 255) throw new SluiceError('SLUICE_ERR_INVALID_REQUEST', 'a group id is 1 to 255 characters');
}

export const offsetCommitHandler: ApiHandler = {
  api: Api.OFFSET_COMMIT,
  name: 'OffsetCommit',
  bodyField: 'offsetCommit',
  minVersion: 1,
  maxVersion: 1,
  async handle(request, context: BrokerContext) {
    const body = request.offsetCommit as OffsetCommitRequest;
    checkGroupId(body.groupId);
    context.offsets.checkCoordinator(body.groupId);
    context.groups.checkCommit(body.groupId, body.generationId, body.memberId);
    const accepted: Array<{ topic: string; partition: number; offset: number; metadata: string }> = [];
    const topics = body.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((entry) => itemResult(context, { api: 'OffsetCommit', topic: topic.name, partition: entry.partition }, () => ({ partition: entry.partition, errorCode: 0, errorMessage: '' }), () => {
        context.topics.partition(topic.name, entry.partition);
        if (!Number.isSafeInteger(entry.offset) || entry.offset < 0) {
          throw new SluiceError('SLUICE_ERR_INVALID_REQUEST', `offset ${entry.offset} for ${topic.name}/${entry.partition} is not a non-negative integer`);
        }
        accepted.push({ topic: topic.name, partition: entry.partition, offset: entry.offset, metadata: entry.metadata ?? '' });
        return { partition: entry.partition, errorCode: 0, errorMessage: '' };
      })),
    }));
    try {
      await context.offsets.commit(body.groupId, accepted);
    } catch (error) {
      const failed = itemError(context, { api: 'OffsetCommit' }, error);
      for (const topic of topics) for (const result of topic.partitions) if (result.errorCode === 0) Object.assign(result, failed);
    }
    return { kind: 'body', body: { topics } };
  },
};

export const offsetFetchHandler: ApiHandler = {
  api: Api.OFFSET_FETCH,
  name: 'OffsetFetch',
  bodyField: 'offsetFetch',
  minVersion: 1,
  maxVersion: 1,
  async handle(request, context: BrokerContext) {
    const body = request.offsetFetch as OffsetFetchRequest;
    checkGroupId(body.groupId);
    context.offsets.checkCoordinator(body.groupId);
    const inFlight = context.offsets.settled(body.groupId);
    if (inFlight !== undefined) {
      await inFlight;
      context.offsets.checkCoordinator(body.groupId);
    }
    const wanted = new Set(body.topics ?? []);
    const byTopic = new Map<string, Array<{ partition: number; offset: number; metadata: string; commitTimestamp: number }>>();
    for (const committed of context.offsets.committed(body.groupId)) {
      if (wanted.size > 0 && !wanted.has(committed.topic)) continue;
      const list = byTopic.get(committed.topic) ?? [];
      list.push({ partition: committed.partition, offset: committed.offset, metadata: committed.metadata, commitTimestamp: committed.commitTimestamp });
      byTopic.set(committed.topic, list);
    }
    return { kind: 'body', body: { topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })) } };
  },
};

export const listGroupsHandler: ApiHandler = {
  api: Api.LIST_GROUPS,
  name: 'ListGroups',
  bodyField: 'listGroups',
  minVersion: 1,
  maxVersion: 1,
  handle(_request, context: BrokerContext) {
    return { kind: 'body', body: { groups: listGroups(context.groups, context.offsets) } };
  },
};
