/**
 * OffsetsForLeaderEpoch (Api 17): for each partition, the end offset of the asked leader epoch
 * on this leader: the start of the first later epoch, or the log end for the latest epoch
 * (REPLICATION-FACTS.md §H). A follower uses it to find where its log diverged from the
 * leader's; (−1, −1) when the epoch is unknown here. Leader only, with the epoch check of §E.
 */
import { Api, type EpochResultPartition, type OffsetsForLeaderEpochRequest } from '../../proto/messages.js';
import type { ApiHandler } from './context.js';
import { itemResult } from './item-result.js';

export const offsetsForLeaderEpochHandler: ApiHandler = {
  api: Api.OFFSETS_FOR_LEADER_EPOCH,
  name: 'OffsetsForLeaderEpoch',
  bodyField: 'offsetsForLeaderEpoch',
  minVersion: 1,
  maxVersion: 1,
  handle(request, context) {
    const body = request.offsetsForLeaderEpoch as OffsetsForLeaderEpochRequest;
    const topics = body.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((wanted) => itemResult<EpochResultPartition>(context,
        { api: 'OffsetsForLeaderEpoch', topic: topic.name, partition: wanted.partition },
        () => ({ partition: wanted.partition, errorCode: 0, errorMessage: '', leaderEpoch: -1, endOffset: -1 }), () => {
          const partition = context.topics.partition(topic.name, wanted.partition);
          partition.checkLeader(wanted.currentLeaderEpoch);
          const end = partition.log.endOffsetForEpoch(wanted.leaderEpoch);
          return { partition: wanted.partition, errorCode: 0, errorMessage: '', leaderEpoch: end.epoch, endOffset: end.endOffset };
        })),
    }));
    return { kind: 'body', body: { topics } };
  },
};
