/**
 * The OffsetsForLeaderEpoch service both listeners call: for each partition, the end offset of the asked leader epoch
 * on this leader: the start of the first later epoch, or the log end for the latest epoch
 * (REPLICATION-FACTS.md §H). A follower uses it to find where its log diverged from the
 * leader's; (−1, −1) when the epoch is unknown here. Leader only, with the epoch check of §E.
 */
import type { EpochResultPartition, OffsetsForLeaderEpochRequest, OffsetsForLeaderEpochResponse } from '../../proto/messages.js';
import type { BrokerContext } from '../api/context.js';
import { itemResult } from '../api/item-result.js';

export function offsetsForLeaderEpoch(context: BrokerContext, request: OffsetsForLeaderEpochRequest): OffsetsForLeaderEpochResponse['topics'] {
  return request.topics.map((topic) => ({
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
}
