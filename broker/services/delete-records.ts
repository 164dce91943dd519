/**
 * The DeleteRecords service: per partition, makes the given offset the log's first readable one
 * (offset −1: the high watermark), dropping whole segments below it, and answers the new log
 * start (Kafka's low watermark). Only the leader takes it, and not past the high watermark, so
 * no consumer ever saw a record that is then "undeleted". Followers adopt the leader's log
 * start from their next fetch (replica-fetcher.ts); the answer does not wait for them.
 */
import { OffsetOutOfRangeError } from '../../proto/errors.js';
import type { BrokerContext } from '../api/context.js';
import { itemResult, type WireError } from '../api/item-result.js';
import { checkNotInternal } from '../topics/topic-name.js';

export interface DeleteRecordsPartitionResult extends WireError {
  partition: number;
  lowWatermark: number;
}

export function deleteRecords(
  context: BrokerContext, topics: ReadonlyArray<{ name: string; partitions: ReadonlyArray<{ partition: number; offset: number }> }>,
): Array<{ name: string; partitions: DeleteRecordsPartitionResult[] }> {
  return topics.map((topic) => ({
    name: topic.name,
    partitions: topic.partitions.map((wanted) => itemResult<DeleteRecordsPartitionResult>(context, { api: 'DeleteRecords', topic: topic.name, partition: wanted.partition },
      () => ({ partition: wanted.partition, errorCode: 0, errorMessage: '', lowWatermark: -1 }), () => {
        checkNotInternal(topic.name, 'delete records of');
        const partition = context.topics.partition(topic.name, wanted.partition);
        partition.checkLeader();
        const { log } = partition;
        const highWatermark = partition.highWatermark;
        const offset = wanted.offset === -1 ? highWatermark : wanted.offset;
        if (!Number.isSafeInteger(offset) || offset < 0 || offset > highWatermark) throw new OffsetOutOfRangeError(offset, log.logStartOffset, highWatermark);
        if (offset > log.logStartOffset) {
          log.deleteRecordsBefore(offset);
          context.logger.info({ topic: topic.name, partition: wanted.partition, logStartOffset: offset }, 'records deleted');
        }
        return { partition: wanted.partition, errorCode: 0, errorMessage: '', lowWatermark: log.logStartOffset };
      })),
  }));
}
