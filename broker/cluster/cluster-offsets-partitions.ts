/**
 * `__consumer_offsets` (and, with the same rules, `__transaction_state`) in a cluster: a group's
 * (a transactional id's) coordinator is the leader of its partition.
 * Leadership comes from the partition states the cluster node applies; commits are appended
 * as the leader with the leader epoch stamped and answered once the in-sync replicas have
 * them (the high watermark covers the batch), as an acks=all produce is.
 */
import { SluiceError } from '../../proto/errors.js';
import type { CoordinatorEndpoint, OffsetsTopicPartitions } from '../groups/offsets-partitions.js';
import { offsetsTopic } from '../groups/offsets-topic.js';
import { commitReplicated } from '../replication/commit-replicated.js';
import type { Partition, TopicManager } from '../topics/topic-manager.js';
import type { ClusterMetadata } from './cluster-metadata.js';

/** How long a commit may wait for the in-sync replicas (Kafka's offsets.commit.timeout.ms). */
const commitTimeoutMs = 5000;

export class ClusterOffsetsPartitions implements OffsetsTopicPartitions {
  readonly count: number;
  readonly #topics: TopicManager;
  readonly #metadata: ClusterMetadata;
  readonly #listeners = new Set<(partition: number, leading: boolean) => void>();
  readonly #leading = new Set<number>();
  readonly #topic: string;

  constructor(topics: TopicManager, metadata: ClusterMetadata, configuredCount: number, topic = offsetsTopic) {
    this.#topics = topics;
    this.#metadata = metadata;
    this.#topic = topic;
    // An existing topic's count is the truth: groups hash by it, so it can never change.
    this.count = metadata.topic(topic)?.partitions ?? configuredCount;
  }

  /** The internal topic these partitions are of. */
  get topic(): string {
    return this.#topic;
  }

  leads(partition: number): boolean {
    return this.#leading.has(partition);
  }

  replica(partition: number): Partition | undefined {
    return this.#topics.find(this.#topic)?.partitionAt(partition);
  }

  leaderOf(partition: number): CoordinatorEndpoint | undefined {
    const leader = this.#metadata.partitionState(this.#topic, partition)?.leader;
    const broker = leader === undefined ? undefined : this.#metadata.brokers.get(leader);
    return broker === undefined ? undefined : { nodeId: broker.nodeId, host: broker.host, port: broker.port };
  }

  onLeadershipChange(listener: (partition: number, leading: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Called after a partition state was applied: tells the offset store when its role changed. */
  roleMaybeChanged(partition: number): void {
    const leading = this.replica(partition)?.role === 'leader';
    if (leading === this.#leading.has(partition)) return;
    if (leading) this.#leading.add(partition);
    else this.#leading.delete(partition);
    for (const listener of this.#listeners) listener(partition, leading);
  }

  async append(partition: number, batch: Buffer): Promise<void> {
    const replica = this.replica(partition);
    if (replica === undefined || !this.#leading.has(partition)) {
      throw new SluiceError('SLUICE_ERR_NOT_LEADER_OR_FOLLOWER', `this broker does not lead partition ${partition} of ${this.#topic}`);
    }
    replica.checkLeader();
    replica.checkEnoughReplicas();
    const appended = replica.log.append(batch, { leaderEpoch: replica.leaderEpoch });
    replica.notifyAppend(batch.length);
    await commitReplicated(replica, appended.lastOffset, commitTimeoutMs);
  }
}
