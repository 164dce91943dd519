/**
 * The internal topic `__delayed_records`, the timer log: delayed records wait there (record
 * timestamp = due time, batches sorted by due time so a batch header gives its earliest and
 * latest due time) until their firing appends them to their target partition. Delete policy
 * with no time or size retention: only the fired checkpoint (the lowest offset still pending)
 * moves its start. Segments never roll by time: due times of one segment may lie days apart.
 */
export const delayedTopic = '__delayed_records';

/** One partition on a single broker: it fires in one ordered stream. */
export const delayedPartitions = 1;

/** A cluster's timer partitions when the topic is first made: the firing work spreads over their leaders. */
export const delayedClusterPartitionsDefault = 3;

export const delayedTopicConfigs: Readonly<Record<string, string>> = {
  'cleanup.policy': 'delete',
  'retention.ms': '-1',
  'retention.bytes': '-1',
  'segment.ms': String(365 * 24 * 3600 * 1000),
  'segment.bytes': String(64 * 1024 * 1024),
};

/** What a fired record carries: unique per delayed record, "<timer partition>:<timer offset>". */
export const delayedFromHeader = 'x-delayed-from';

export function delayedFrom(timerPartition: number, offset: number): string {
  return `${timerPartition}:${offset}`;
}
