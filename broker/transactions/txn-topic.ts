/**
 * The internal topic `__transaction_state` (Kafka's name): its configs, and which partition
 * holds a transactional id — Kafka's formula, the same one groups use for `__consumer_offsets`
 * (abs(String.hashCode) % partition count), so ids land where a Kafka cluster would put them.
 */
import { groupPartition } from '../groups/group-partition.js';

export const txnStateTopic = '__transaction_state';

/** transaction.state.log.num.partitions when nothing else is set (our __consumer_offsets default too). */
export const txnStatePartitionsDefault = 5;

/** Compacted: the last record per transactional id is its state; segments of Kafka's default size for this topic. */
export const txnStateTopicConfigs: Readonly<Record<string, string>> = { 'cleanup.policy': 'compact', 'segment.bytes': String(100 * 1024 * 1024) };

export function txnPartitionFor(transactionalId: string, partitionCount: number): number {
  return groupPartition(transactionalId, partitionCount);
}
