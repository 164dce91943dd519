/**
 * The list-offsets service both listeners call: the log end (-1), the log start (-2), the
 * record with the highest timestamp (-3), or the first offset at or after a time.
 * Only the leader answers (§E). A client's "latest" is the high watermark, and a new leader
 * whose high watermark has not reached the start of its epoch answers OFFSET_NOT_AVAILABLE
 * (retriable) rather than an offset that may still move back; a follower replica (`replica_id`
 * set) gets the log end. Replica id −2 (debugging) may ask any replica. A read_committed
 * client (isolation level 1, on either listener) is bounded by the last stable offset instead:
 * its latest is the LSO, as Kafka answers.
 */
import { SluiceError } from '../../proto/errors.js';
import {
  EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, type ListOffsetsPartition, MAX_TIMESTAMP, type ListOffsetsPartitionResult, type ListOffsetsRequest, type ListOffsetsTopicResult,
} from '../../proto/messages.js';
import type { Partition } from '../topics/partition.js';
import type { BrokerContext } from '../api/context.js';
import { itemResult } from '../api/item-result.js';

const debugReplicaId = -2;

function offsetFor(partition: Partition, wanted: ListOffsetsPartition, replicaId: number, readCommitted: boolean): ListOffsetsPartitionResult {
  if (replicaId !== debugReplicaId) partition.checkLeader(wanted.currentLeaderEpoch);
  else partition.checkLeaderEpoch(wanted.currentLeaderEpoch);
  const { log } = partition;
  const fromReplica = replicaId >= 0 || replicaId === debugReplicaId;
  const fetchable = fromReplica ? log.logEndOffset : readCommitted ? partition.lastStableOffset : partition.highWatermark;
  const epochStart = partition.leaderState?.leaderEpochStartOffset ?? -1;
  const notAvailable = () => new SluiceError('SLUICE_ERR_OFFSET_NOT_AVAILABLE',
    `${partition.topic}-${partition.index}: the new leader's high watermark ${partition.highWatermark} has not reached the start of its epoch ${epochStart} yet`);
  if (wanted.timestamp === LATEST_TIMESTAMP) {
    if (!fromReplica && partition.highWatermark < epochStart) throw notAvailable();
    return { partition: wanted.partition, errorCode: 0, errorMessage: '', offset: fetchable, timestamp: -1 };
  }
  if (wanted.timestamp === EARLIEST_TIMESTAMP) return { partition: wanted.partition, errorCode: 0, errorMessage: '', offset: log.logStartOffset, timestamp: -1 };
  const found = wanted.timestamp === MAX_TIMESTAMP ? log.maxTimestamp() : log.offsetForTimestamp(wanted.timestamp);
  if (found !== undefined && found.offset >= fetchable) {
    if (!fromReplica && partition.highWatermark < epochStart) throw notAvailable();
    return { partition: wanted.partition, errorCode: 0, errorMessage: '', offset: -1, timestamp: -1 };
  }
  return { partition: wanted.partition, errorCode: 0, errorMessage: '', offset: found?.offset ?? -1, timestamp: found?.timestamp ?? -1 };
}

/** Each partition's offset for its timestamp; a partition that fails carries its error. */
export function listOffsets(context: BrokerContext, request: ListOffsetsRequest, isolationLevel = request.isolationLevel ?? 0): ListOffsetsTopicResult[] {
  const readCommitted = isolationLevel === 1;
  const replicaId = request.replicaId ?? -1;
  return request.topics.map((topic) => ({
    name: topic.name,
    partitions: topic.partitions.map((wanted) => itemResult(context, { api: 'ListOffsets', topic: topic.name, partition: wanted.partition },
      () => ({ partition: wanted.partition, errorCode: 0, errorMessage: '', offset: -1, timestamp: -1 }),
      () => offsetFor(context.topics.partition(topic.name, wanted.partition), wanted, replicaId, readCommitted))),
  }));
}
