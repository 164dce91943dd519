/**
 * Where the share coordinator reads a data partition's records: here, from the local replica
 * (leader or in-sync follower), up to its high watermark — what every in-sync replica holds,
 * so a record handed out survives a failover of its partition.
 */
import { SluiceError } from '../../proto/errors.js';
import { eachBatch } from '../../proto/record-batch/batch-iterator.js';
import type { TopicManager } from '../topics/topic-manager.js';

export interface PartitionRead {
  /** Whole batches, each its own buffer, in offset order. */
  batches: Buffer[];
  highWatermark: number;
  logStartOffset: number;
  /** The topic's message.ttl.ms (-1: none). */
  ttlMs: number;
}

export interface PartitionSource {
  /** Batches from the one holding `from`, up to about `maxBytes`, below the high watermark. */
  read(topic: string, partition: number, from: number, maxBytes: number): Promise<PartitionRead>;
  /** Whether the topic exists and how many partitions it has (undefined: unknown topic). */
  partitionCount(topic: string): number | undefined;
}

export class LocalPartitionSource implements PartitionSource {
  readonly #topics: TopicManager;

  constructor(topics: TopicManager) {
    this.#topics = topics;
  }

  partitionCount(topic: string): number | undefined {
    return this.#topics.find(topic)?.partitions.length;
  }

  async read(topic: string, partition: number, from: number, maxBytes: number): Promise<PartitionRead> {
    const replica = this.#topics.find(topic)?.partitionAt(partition);
    if (replica === undefined) {
      throw new SluiceError('SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION', `${topic}-${partition} has no replica on the group's coordinator`);
    }
    const { log } = replica;
    const highWatermark = replica.highWatermark;
    const logStartOffset = log.logStartOffset;
    const batches: Buffer[] = [];
    const start = Math.max(from, logStartOffset);
    if (start < highWatermark) {
      for (const slice of log.read(start, maxBytes, highWatermark).slices) {
        for (const { position, size } of eachBatch(slice)) batches.push(slice.subarray(position, position + size));
      }
    }
    return { batches, highWatermark, logStartOffset, ttlMs: log.config.messageTtlMs };
  }
}
