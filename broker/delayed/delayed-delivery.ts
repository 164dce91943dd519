/**
 * Delayed delivery on the embedded single broker: the timer log `__delayed_records` (made by
 * the first delayed record, like the other internal topics), its partitions fired here, and the
 * produce path's entry point. A cluster would need the timer partition's leader to append to
 * target partitions led elsewhere; it is not wired yet, so a cluster broker refuses delayed
 * records (produce.ts) rather than keep them on one replica.
 */
import type { Logger } from 'pino';
import type client from 'prom-client';
import { groupPartition } from '../groups/group-partition.js';
import type { Partition, TopicManager } from '../topics/topic-manager.js';
import { type Backlog, DelayedStats } from './delayed-stats.js';
import { delayedPartitions, delayedTopic, delayedTopicConfigs } from './delayed-topic.js';
import type { SplitBatch } from './split-batch.js';
import { TimerPartition, type TimerSettings } from './timer-partition.js';

export const timerSettingsDefault: TimerSettings = { windowMs: 3600 * 1000, refillEveryMs: 60 * 1000 };

export class DelayedDelivery {
  readonly stats: DelayedStats;
  readonly #topics: TopicManager;
  readonly #partitions: TimerPartition[];

  constructor(topics: TopicManager, logger: Logger, settings: TimerSettings = timerSettingsDefault, registry?: client.Registry) {
    this.#topics = topics;
    this.stats = new DelayedStats(registry, () => this.backlog());
    // An existing topic's count is the truth: targets hash by it.
    const count = topics.find(delayedTopic)?.partitions.length ?? delayedPartitions;
    this.#partitions = Array.from({ length: count }, (_, index) => new TimerPartition(index, topics, settings, this.stats, logger));
  }

  /** Recovers every timer partition (before the broker serves) and starts firing. */
  start(): void {
    for (const partition of this.#partitions) partition.start();
  }

  close(): void {
    for (const partition of this.#partitions) partition.close();
  }

  backlog(): Backlog {
    const backlog: Backlog = { inMemory: 0, onDisk: 0, indexBytes: 0 };
    for (const partition of this.#partitions) {
      backlog.inMemory += partition.inMemory;
      backlog.onDisk += partition.onDisk;
      backlog.indexBytes += partition.indexBytes;
    }
    return backlog;
  }

  /**
   * Holds a split batch's delayed records for `topic`-`partition`: one timer partition per
   * target partition, so records to one target fire in their produce order when due together.
   */
  hold(topic: string, partition: number, split: SplitBatch): Promise<void> {
    const timer = this.#partitions[groupPartition(`${topic}-${partition}`, this.#partitions.length)]!;
    const replica = this.#replica(timer.index);
    return timer.hold(replica, split);
  }

  #replica(index: number): Partition {
    const existing = this.#topics.find(delayedTopic)?.partitionAt(index);
    if (existing !== undefined) return existing;
    return this.#topics.create(delayedTopic, this.#partitions.length, { ...delayedTopicConfigs }, false, 'broker')!.partitionAt(index)!;
  }
}
