/**
 * `__transaction_state` on the embedded single broker: every partition led here, the topic made
 * (compacted) by the first transactional InitProducerId rather than at start, and an append
 * committed once it is in the log (synced when the topic's flush policy syncs on its own), as
 * the single broker's `__consumer_offsets` does (groups/local-offsets-partitions.ts).
 */
import type { CoordinatorEndpoint, OffsetsTopicPartitions } from '../groups/offsets-partitions.js';
import type { Partition, TopicManager } from '../topics/topic-manager.js';
import { txnStateTopic, txnStateTopicConfigs } from './txn-topic.js';

export class LocalTxnStatePartitions implements OffsetsTopicPartitions {
  readonly count: number;
  readonly #topics: TopicManager;

  constructor(topics: TopicManager, configuredCount: number) {
    this.#topics = topics;
    // An existing topic's count is the truth: ids hash by it, so it can never change.
    this.count = topics.find(txnStateTopic)?.partitions.length ?? configuredCount;
  }

  leads(partition: number): boolean {
    return partition >= 0 && partition < this.count;
  }

  replica(partition: number): Partition | undefined {
    return this.#topics.find(txnStateTopic)?.partitionAt(partition);
  }

  /** Never asked: every partition is led here. */
  leaderOf(): CoordinatorEndpoint | undefined {
    return undefined;
  }

  onLeadershipChange(): () => void {
    return () => {};
  }

  async append(partition: number, batch: Buffer): Promise<void> {
    const replica = this.replica(partition) ?? this.#topics.create(txnStateTopic, this.count, { ...txnStateTopicConfigs }, false, 'broker')!.partitionAt(partition)!;
    const appended = replica.log.append(batch);
    replica.notifyAppend(batch.length);
    if (replica.log.syncsOnItsOwn) await replica.log.waitForSync(appended.lastOffset);
  }
}
