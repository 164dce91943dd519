/**
 * ListOffsets: latest (−1: the high watermark, or the last stable offset for isolation_level 1,
 * read_committed), earliest (−2; and −4, the earliest local offset, the same without tiered
 * storage), the highest timestamp (−3), or the first offset at or after a timestamp, from the
 * list-offsets service. −5 (latest tiered) has no tiered storage to look at: offset −1.
 */
import { listOffsetsRequest, listOffsetsResponse } from '../../proto/kafka/messages/list-offsets.js';
import { EARLIEST_TIMESTAMP } from '../../proto/messages.js';
import { listOffsets } from '../services/list-offsets.js';
import { kafkaResultError } from './errors.js';
import { kafkaHandler } from './handler.js';

const earliestLocalTimestamp = -4;
const latestTieredTimestamp = -5;
/** Replica id −2 (a debugging tool) may ask any replica; any other Kafka client asks as a consumer. */
const debugReplicaId = -2;

export const listOffsetsHandler = kafkaHandler({
  name: 'ListOffsets',
  request: listOffsetsRequest,
  response: listOffsetsResponse,
  handle(request, { broker }) {
    // Partitions answered here rather than by the service (no tiered storage to ask).
    const special = new Map<string, { errorCode: number; offset: number }>();
    const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;
    const topics = request.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.flatMap((partition) => {
        if (partition.timestamp === latestTieredTimestamp) special.set(key(topic.name, partition.partitionIndex), { errorCode: 0, offset: -1 });
        else return [{ partition: partition.partitionIndex, timestamp: partition.timestamp === earliestLocalTimestamp ? EARLIEST_TIMESTAMP : partition.timestamp, currentLeaderEpoch: partition.currentLeaderEpoch }];
        return [];
      }),
    }));
    const results = listOffsets(broker, { replicaId: request.replicaId === debugReplicaId ? debugReplicaId : -1, topics }, request.isolationLevel);
    return {
      throttleTimeMs: 0,
      topics: request.topics.map((topic, index) => {
        const found = new Map(results[index]!.partitions.map((result) => [result.partition, result]));
        return {
          name: topic.name,
          partitions: topic.partitions.map((partition) => {
            const answer = special.get(key(topic.name, partition.partitionIndex));
            if (answer !== undefined) return { partitionIndex: partition.partitionIndex, errorCode: answer.errorCode, oldStyleOffsets: [], timestamp: -1, offset: answer.offset };
            const result = found.get(partition.partitionIndex)!;
            const { errorCode } = kafkaResultError(result, 'partition');
            return {
              partitionIndex: partition.partitionIndex, errorCode, timestamp: result.timestamp, offset: result.offset,
              oldStyleOffsets: errorCode === 0 && result.offset >= 0 ? [result.offset] : [],
            };
          }),
        };
      }),
    };
  },
  failed: (request, error) => ({
    throttleTimeMs: 0,
    topics: request.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((partition) => ({ partitionIndex: partition.partitionIndex, errorCode: error.errorCode, oldStyleOffsets: [] })),
    })),
  }),
});
