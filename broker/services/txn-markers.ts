/**
 * The leader side of transaction markers (WriteTxnMarkers, both listeners; the transaction
 * coordinator calls it directly for partitions this broker leads). For each named partition
 * this broker leads, appends a commit or abort marker (a control batch, stamped with the leader
 * epoch, at the next offset), then waits as acks=all does until the high watermark passes it,
 * so the coordinator only counts a marker written once every in-sync replica has it. The log
 * reacts to the marker itself (ends the producer's transaction, indexes an aborted one, moves
 * the last stable offset). Each partition answers its own error: NOT_LEADER_OR_FOLLOWER,
 * UNKNOWN_TOPIC_OR_PARTITION, INVALID_PRODUCER_EPOCH, TRANSACTION_COORDINATOR_FENCED, ...
 * Internal topics are allowed: __consumer_offsets takes markers for transactional offset commits.
 */
import { SluiceError } from '../../proto/errors.js';
import type { TxnPartitionResult, WritableTxnMarker, WriteTxnMarkersRequest, WriteTxnMarkersResponse } from '../../proto/messages.js';
import type { BrokerContext } from '../api/context.js';
import { itemResultAsync } from '../api/item-result.js';
import { offsetsTopic } from '../groups/offsets-topic.js';

/** How long a marker waits for the in-sync replicas (Kafka uses request.timeout.ms, 30 s). */
export const markerReplicationTimeoutMs = 30_000;

function writeMarker(context: BrokerContext, marker: WritableTxnMarker, topicName: string, partitionIndex: number): Promise<TxnPartitionResult> {
  const failed = (): TxnPartitionResult => ({ partition: partitionIndex, errorCode: 0, errorMessage: '' });
  return itemResultAsync(context, { api: 'WriteTxnMarkers', topic: topicName, partition: partitionIndex }, failed, async () => {
    const partition = context.topics.partition(topicName, partitionIndex);
    partition.checkLeader();
    const appended = partition.log.appendTxnMarker(
      { producerId: marker.producerId, producerEpoch: marker.producerEpoch, committed: marker.committed, coordinatorEpoch: marker.coordinatorEpoch },
      partition.leaderEpoch,
    );
    partition.notifyAppend(appended.bytes);
    const replicated = partition.waitForReplication(appended.lastOffset, markerReplicationTimeoutMs);
    if (replicated !== null) {
      const outcome = await replicated;
      if (outcome !== null) {
        throw new SluiceError(outcome, `${topicName}-${partitionIndex}: the ${marker.committed ? 'commit' : 'abort'} marker for producer ${marker.producerId} was written on the leader but not replicated (${outcome})`);
      }
    }
    // A transactional offset commit's fate is decided by this marker: the group coordinator applies or drops it (H3).
    if (topicName === offsetsTopic) context.offsets.completeTransaction(partitionIndex, marker.producerId, marker.committed);
    return { partition: partitionIndex, errorCode: 0, errorMessage: '' };
  });
}

export async function writeTxnMarkers(context: BrokerContext, request: WriteTxnMarkersRequest): Promise<WriteTxnMarkersResponse> {
  return {
    markers: await Promise.all(request.markers.map(async (marker) => ({
      producerId: marker.producerId,
      topics: await Promise.all(marker.topics.map(async (topic) => ({
        name: topic.name,
        partitions: await Promise.all(topic.partitions.map((partition) => writeMarker(context, marker, topic.name, partition))),
      }))),
    }))),
  };
}
