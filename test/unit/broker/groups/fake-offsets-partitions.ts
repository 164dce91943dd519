/**
 * `__consumer_offsets` partitions as a cluster would present them, with leadership the test
 * moves by hand and appends the test releases or fails one by one. The partitions are real
 * logs of a real TopicManager in a temp directory; several fakes over the same TopicManager
 * stand for several brokers sharing (replicating) one set of logs.
 */
import { SluiceError } from '../../../../proto/errors.js';
import type { CoordinatorEndpoint, OffsetsTopicPartitions } from '../../../../broker/groups/offsets-partitions.js';
import { offsetsTopic } from '../../../../broker/groups/offsets-topic.js';
import type { Partition, TopicManager } from '../../../../broker/topics/topic-manager.js';

export interface HeldAppend {
  partition: number;
  /** The append reaches the high watermark. */
  commit(): void;
  /** The append fails with this error (its records stay in the log, as after NOT_ENOUGH_REPLICAS_AFTER_APPEND). */
  fail(error: SluiceError): void;
}

export class FakeOffsetsPartitions implements OffsetsTopicPartitions {
  readonly count: number;
  readonly #topics: TopicManager;
  readonly #leading = new Set<number>();
  readonly #leaders = new Map<number, CoordinatorEndpoint>();
  readonly #listeners = new Set<(partition: number, leading: boolean) => void>();
  /** While true, appends wait in `held` for the test to commit or fail them. */
  holdAppends = false;
  readonly held: HeldAppend[] = [];
  appends = 0;

  constructor(topics: TopicManager, count: number, leading: number[] = []) {
    this.#topics = topics;
    this.count = count;
    if (topics.find(offsetsTopic) === undefined) topics.create(offsetsTopic, count, { 'cleanup.policy': 'compact' }, false, 'broker');
    for (const partition of leading) this.#leading.add(partition);
  }

  leads(partition: number): boolean {
    return this.#leading.has(partition);
  }

  replica(partition: number): Partition | undefined {
    return this.#topics.get(offsetsTopic).partitions[partition];
  }

  leaderOf(partition: number): CoordinatorEndpoint | undefined {
    return this.#leaders.get(partition);
  }

  /** Another broker leads the partition now (undefined: nobody does). */
  setLeader(partition: number, leader: CoordinatorEndpoint | undefined): void {
    if (leader === undefined) this.#leaders.delete(partition);
    else this.#leaders.set(partition, leader);
  }

  /** This broker gains or loses the partition; listeners hear of it once it is in force. */
  move(partition: number, leading: boolean): void {
    if (leading) this.#leading.add(partition);
    else this.#leading.delete(partition);
    for (const listener of this.#listeners) listener(partition, leading);
  }

  onLeadershipChange(listener: (partition: number, leading: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  append(partition: number, batch: Buffer): Promise<void> {
    if (!this.#leading.has(partition)) {
      return Promise.reject(new SluiceError('SLUICE_ERR_NOT_LEADER_OR_FOLLOWER', `not the leader of ${offsetsTopic}/${partition}`));
    }
    this.appends += 1;
    this.replica(partition)!.log.append(batch);
    if (!this.holdAppends) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.held.push({ partition, commit: resolve, fail: reject });
    });
  }
}
