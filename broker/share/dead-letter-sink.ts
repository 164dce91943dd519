/**
 * Where dead letters go: the group's share.dlq.topic, created on first use with as many
 * partitions as the source topic, a record of source partition p landing in DLQ partition
 * p % (DLQ partitions), so one source partition's dead letters keep their order. Appends wait
 * as an acks=all produce does (every in-sync replica, and the sync a flush policy asks for).
 * Only a DLQ partition led by the coordinator is written here.
 */
import { SluiceError } from '../../proto/errors.js';
import { eachBatch } from '../../proto/record-batch/batch-iterator.js';
import { buildRecordBatch, type DecodedRecord, decodeRecords, readBatchHeader, type RecordInput } from '../../proto/record-batch/record-batch.js';
import type { ClusterView } from '../api/context.js';
import type { Partition, TopicManager } from '../topics/topic-manager.js';

const replicationTimeoutMs = 5000;

export interface DeadLetterSink {
  append(dlq: string, sourcePartitions: number, sourcePartition: number, records: RecordInput[]): Promise<void>;
  /** The last `count` records (about) of the DLQ partition the source partition writes to; [] when the topic does not exist. */
  tail(dlq: string, sourcePartition: number, count: number): Promise<DecodedRecord[]>;
}

export class LocalDeadLetterSink implements DeadLetterSink {
  readonly #cluster: () => ClusterView;
  readonly #topics: TopicManager;

  constructor(cluster: () => ClusterView, topics: TopicManager) {
    this.#cluster = cluster;
    this.#topics = topics;
  }

  async #replica(dlq: string, sourcePartitions: number, sourcePartition: number): Promise<Partition> {
    let count = this.#cluster().describeTopic(dlq)?.length;
    if (count === undefined) {
      try {
        await this.#cluster().createTopic({ name: dlq, partitions: Math.max(1, sourcePartitions) }, false);
      } catch (error) {
        if (!SluiceError.is(error) || error.code !== 'SLUICE_ERR_TOPIC_ALREADY_EXISTS') throw error;
      }
      count = this.#cluster().describeTopic(dlq)?.length ?? 0;
    }
    const replica = count === 0 ? undefined : this.#topics.find(dlq)?.partitionAt(sourcePartition % count);
    if (replica === undefined || replica.role === 'follower') {
      throw new SluiceError('SLUICE_ERR_NOT_LEADER_OR_FOLLOWER', `the dead-letter partition of ${dlq} for source partition ${sourcePartition} is not led by the group's coordinator`);
    }
    return replica;
  }

  async append(dlq: string, sourcePartitions: number, sourcePartition: number, records: RecordInput[]): Promise<void> {
    const replica = await this.#replica(dlq, sourcePartitions, sourcePartition);
    replica.checkLeader();
    replica.checkEnoughReplicas();
    const batch = buildRecordBatch(records);
    const appended = replica.log.append(batch, { leaderEpoch: replica.leaderEpoch });
    replica.notifyAppend(batch.length);
    const replicated = replica.waitForReplication(appended.lastOffset, replicationTimeoutMs);
    const outcome = replicated === null ? null : await replicated;
    if (outcome !== null) throw new SluiceError(outcome, `dead letters appended to ${dlq}-${replica.index} were not replicated (${outcome})`);
    if (replica.log.syncsOnItsOwn) await replica.log.waitForSync(appended.lastOffset);
  }

  async tail(dlq: string, sourcePartition: number, count: number): Promise<DecodedRecord[]> {
    const topic = this.#topics.find(dlq);
    if (topic === undefined || topic.partitions.length === 0) return [];
    const replica = topic.partitionAt(sourcePartition % topic.partitions.length);
    if (replica === undefined) return [];
    const { log } = replica;
    const records: DecodedRecord[] = [];
    for (let offset = Math.max(log.logStartOffset, log.logEndOffset - count); offset < log.logEndOffset;) {
      const read = log.read(offset, 4 * 1024 * 1024);
      if (read.slices.length === 0) break;
      for (const slice of read.slices) {
        for (const { position, size } of eachBatch(slice)) {
          const batch = slice.subarray(position, position + size);
          const header = readBatchHeader(batch);
          offset = header.baseOffset + header.lastOffsetDelta + 1;
          if (!header.isControl) records.push(...decodeRecords(batch));
        }
      }
    }
    return records;
  }
}
