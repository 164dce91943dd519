/**
 * Where dead letters go: the group's share.dlq.topic, created on first use with the partition
 * count and replication factor of the source topic (through the controller), a record of source
 * partition p landing in DLQ partition p % (DLQ partitions), so one source partition's dead
 * letters keep their order. An append
 * waits as an acks=all produce does: on the local replica when this broker leads the DLQ
 * partition, else as an acks=all Produce to its leader. The tail (for the exactly-once check
 * after a restart) is read from the leader too, so it holds every committed append.
 */
import { errorCodes, errorFromWire, SluiceError } from '../../proto/errors.js';
import { Api } from '../../proto/messages.js';
import { buildRecordBatch, type DecodedRecord, decodeRecords, readBatchHeader, type RecordInput } from '../../proto/record-batch/record-batch.js';
import type { BrokerContext } from '../api/context.js';
import { commitReplicated } from '../replication/commit-replicated.js';
import type { LeaderLinks } from '../replication/leader-links.js';
import type { PartitionSource } from '../replication/partition-source.js';

const replicationTimeoutMs = 5000;

export interface DeadLetterSink {
  append(dlq: string, sourceTopic: string, sourcePartition: number, records: RecordInput[]): Promise<void>;
  /** About the last `count` records of the DLQ partition the source partition writes to; [] when the topic does not exist. */
  tail(dlq: string, sourcePartition: number, count: number): Promise<DecodedRecord[]>;
}

export class BrokerDeadLetterSink implements DeadLetterSink {
  readonly #context: () => BrokerContext;
  readonly #links: LeaderLinks;
  readonly #source: PartitionSource;

  constructor(context: () => BrokerContext, links: LeaderLinks, source: PartitionSource) {
    this.#context = context;
    this.#links = links;
    this.#source = source;
  }

  async #partition(dlq: string, sourceTopic: string, sourcePartition: number): Promise<number> {
    const cluster = this.#context().cluster;
    let count = cluster.describeTopic(dlq)?.length;
    if (count === undefined) {
      await this.#create(dlq, sourceTopic);
      count = cluster.describeTopic(dlq)?.length;
      if (count === undefined) throw new SluiceError('SLUICE_ERR_LEADER_NOT_AVAILABLE', `dead-letter topic ${dlq} was created but is not in the metadata yet`);
    }
    return sourcePartition % count;
  }

  /**
   * Creates the DLQ like the source topic (its replication factor capped by the live brokers),
   * through the controller when this broker is not it.
   */
  async #create(dlq: string, sourceTopic: string): Promise<void> {
    const cluster = this.#context().cluster;
    const source = cluster.describeTopic(sourceTopic) ?? [];
    const topic = {
      name: dlq, partitions: Math.max(1, source.length),
      replicationFactor: Math.min(Math.max(1, ...source.map((partition) => partition.replicas.length)), Math.max(1, cluster.brokers().length)),
    };
    try {
      await cluster.createTopic(topic, false);
      return;
    } catch (error) {
      if (SluiceError.is(error) && error.code === 'SLUICE_ERR_TOPIC_ALREADY_EXISTS') return;
      if (!SluiceError.is(error) || error.code !== 'SLUICE_ERR_NOT_CONTROLLER' || cluster.controllerId() < 0) throw error;
    }
    const answer = await this.#links.request<'createTopics'>(cluster.controllerId(), Api.CREATE_TOPICS, { topics: [topic] });
    const result = answer.topics[0];
    if (result !== undefined && result.errorCode !== 0 && result.errorCode !== errorCodes.SLUICE_ERR_TOPIC_ALREADY_EXISTS.wire) throw errorFromWire(result.errorCode, result.errorMessage);
  }

  async append(dlq: string, sourceTopic: string, sourcePartition: number, records: RecordInput[]): Promise<void> {
    const partition = await this.#partition(dlq, sourceTopic, sourcePartition);
    const batch = buildRecordBatch(records);
    const replica = this.#source.ledHere(dlq, partition);
    if (replica === undefined) {
      const answer = await this.#links.request<'produce'>(this.#links.leaderOf(dlq, partition), Api.PRODUCE, {
        acks: -1, timeoutMs: replicationTimeoutMs, topics: [{ name: dlq, partitions: [{ partition, records: batch }] }],
      });
      const result = answer.topics[0]?.partitions[0];
      if (result === undefined || result.errorCode !== 0) throw new SluiceError('SLUICE_ERR_NOT_ENOUGH_REPLICAS', `dead letters to ${dlq}-${partition} failed: ${result?.errorMessage ?? 'no answer'}`);
      return;
    }
    replica.checkLeader();
    replica.checkEnoughReplicas();
    const appended = replica.log.append(batch, { leaderEpoch: replica.leaderEpoch });
    replica.notifyAppend(batch.length);
    await commitReplicated(replica, appended.lastOffset, replicationTimeoutMs);
  }

  async tail(dlq: string, sourcePartition: number, count: number): Promise<DecodedRecord[]> {
    const partitions = this.#source.partitionCount(dlq);
    if (partitions === undefined || partitions === 0) return [];
    const partition = sourcePartition % partitions;
    const bounds = await this.#source.bounds(dlq, partition, true);
    const records: DecodedRecord[] = [];
    for (let offset = Math.max(bounds.logStartOffset, bounds.highWatermark - count); offset < bounds.highWatermark;) {
      const read = await this.#source.read(dlq, partition, offset, 4 * 1024 * 1024, true);
      if (read.batches.length === 0) break;
      for (const batch of read.batches) {
        const header = readBatchHeader(batch);
        offset = header.baseOffset + header.lastOffsetDelta + 1;
        if (!header.isControl) records.push(...decodeRecords(batch));
      }
    }
    return records;
  }
}
