/**
 * `__consumer_offsets` on the embedded single broker: one partition, always led here, made
 * (compacted) by the first commit rather than at start, so a broker nobody commits to has no
 * internal topic. An append is committed once it is in the log, and synced when the topic's
 * flush policy syncs on its own, as an acks=all produce waits.
 */
import type { Partition, TopicManager } from '../topics/topic-manager.js';
import type { CoordinatorEndpoint, OffsetsTopicPartitions } from './offsets-partitions.js';
import { offsetsTopic, offsetsTopicConfigs } from './offsets-topic.js';

export class LocalOffsetsPartitions implements OffsetsTopicPartitions {
  readonly count = 1;
  readonly #topics: TopicManager;

  constructor(topics: TopicManager) {
    this.#topics = topics;
  }

  leads(partition: number): boolean {
    return partition === 0;
  }

  replica(partition: number): Partition | undefined {
    return this.#topics.find(offsetsTopic)?.partitionAt(partition);
  }

  /** Never asked: the one partition is always led here. */
  leaderOf(): CoordinatorEndpoint | undefined {
    return undefined;
  }

  /** Leadership never moves on a single broker. */
  onLeadershipChange(): () => void {
    return () => {};
  }

  async append(partition: number, batch: Buffer): Promise<void> {
    const replica = this.replica(partition) ?? this.#topics.create(offsetsTopic, 1, { ...offsetsTopicConfigs }, false, 'broker')!.partitionAt(partition)!;
    const appended = replica.log.append(batch);
    replica.notifyAppend(batch.length);
    if (replica.log.syncsOnItsOwn) await replica.log.waitForSync(appended.lastOffset);
  }
}
