/**
 * Delayed delivery: the timer log `__delayed_records`, its partitions fired where they are led,
 * and the produce path's entry point. A target partition's records go to one timer partition
 * (by hash), so records to one target fire in their produce order when due together.
 *
 * On the embedded single broker the timer log is made by the first delayed record (like the
 * other internal topics) and every partition is fired here. In a cluster it is a replicated
 * internal topic the controller makes with the others; a timer partition runs on its leader
 * (started on gaining leadership, closed on losing it), and a target's leader that does not
 * lead the timer partition sends the held records to its leader as an acks=all Produce.
 */
import type { Logger } from 'pino';
import type client from 'prom-client';
import { errorFromWire, SluiceError } from '../../proto/errors.js';
import { Api } from '../../proto/messages.js';
import { eachBatch } from '../../proto/record-batch/batch-iterator.js';
import { decodeRecords } from '../../proto/record-batch/record-batch.js';
import { groupPartition } from '../groups/group-partition.js';
import type { OffsetsTopicPartitions } from '../groups/offsets-partitions.js';
import type { LeaderLinks } from '../replication/leader-links.js';
import type { Partition, TopicManager } from '../topics/topic-manager.js';
import { type Backlog, DelayedStats } from './delayed-stats.js';
import { delayedPartitions, delayedTopic, delayedTopicConfigs } from './delayed-topic.js';
import type { SplitBatch } from './split-batch.js';
import { targetHeader } from './timer-codec.js';
import type { TimerIo } from './timer-io.js';
import { TimerPartition, timerBatches } from './timer-partition.js';
import { type TimerSettings, timerSettingsDefault } from './timer-settings.js';


/** How long a held batch sent to the timer partition's leader may wait for its in-sync replicas. */
const forwardTimeoutMs = 5000;
/** After a failed recovery, wait this long before recovering again. */
const restartRetryMs = 1000;

export interface DelayedDeliveryOptions {
  topics: TopicManager;
  io: TimerIo;
  logger: Logger;
  settings?: TimerSettings;
  registry?: client.Registry;
  /** In a cluster: the timer log's partitions (who leads them) and the links to their leaders. */
  cluster?: { partitions: OffsetsTopicPartitions; links: LeaderLinks };
}

/** A hold in progress: `local` when this broker appended it already (synchronously). */
export interface Hold {
  local: boolean;
  done: Promise<void>;
}

export class DelayedDelivery {
  readonly stats: DelayedStats;
  readonly #options: DelayedDeliveryOptions;
  readonly #settings: TimerSettings;
  readonly #count: number;
  /** The timer partitions fired here, by index (all of them on a single broker). */
  readonly #running: (TimerPartition | undefined)[];
  #unsubscribe: (() => void) | undefined;
  #closed = false;

  constructor(options: DelayedDeliveryOptions) {
    this.#options = options;
    this.#settings = options.settings ?? timerSettingsDefault;
    this.stats = new DelayedStats(options.registry, () => this.backlog());
    // An existing topic's count is the truth: targets hash by it.
    this.#count = options.cluster?.partitions.count ?? options.topics.find(delayedTopic)?.partitions.length ?? delayedPartitions;
    this.#running = Array.from({ length: this.#count }, () => undefined);
  }

  /** Timer partitions are led by different brokers, which forward held records to each other. */
  get clustered(): boolean {
    return this.#options.cluster !== undefined;
  }

  /**
   * Single broker: recovers every timer partition (resolves once all have; the broker serves meanwhile) and
   * starts firing. Cluster: fires the partitions this broker leads, now and as leadership moves.
   */
  async start(): Promise<void> {
    const cluster = this.#options.cluster;
    if (cluster === undefined) {
      await Promise.all(this.#running.map((_, index) => this.#startAt(index)));
      return;
    }
    this.#unsubscribe = cluster.partitions.onLeadershipChange((index, leading) => {
      if (leading) void this.#startAt(index);
      else this.#stopAt(index);
    });
    for (let index = 0; index < this.#count; index += 1) if (cluster.partitions.leads(index)) void this.#startAt(index);
  }

  async #startAt(index: number): Promise<void> {
    this.#stopAt(index);
    const timer = new TimerPartition(index, this.#options.topics, this.#options.io, this.#settings, this.stats, this.#options.logger);
    this.#running[index] = timer;
    try {
      await timer.start();
    } catch (error) {
      if (this.#running[index] !== timer) return;
      this.#stopAt(index);
      this.#options.logger.error({ err: error, timerPartition: index }, 'recovering delayed records failed; trying again in a second');
      setTimeout(() => {
        if (!this.#closed && this.#running[index] === undefined && (this.#options.cluster?.partitions.leads(index) ?? true)) void this.#startAt(index);
      }, restartRetryMs).unref();
    }
  }

  #stopAt(index: number): void {
    this.#running[index]?.close();
    this.#running[index] = undefined;
  }

  close(): void {
    this.#closed = true;
    this.#unsubscribe?.();
    for (let index = 0; index < this.#count; index += 1) this.#stopAt(index);
  }

  backlog(): Backlog {
    const backlog: Backlog = { inMemory: 0, onDisk: 0, indexBytes: 0 };
    for (const partition of this.#running) {
      if (partition === undefined) continue;
      backlog.inMemory += partition.inMemory;
      backlog.onDisk += partition.onDisk;
      backlog.indexBytes += partition.indexBytes;
    }
    return backlog;
  }

  /**
   * Holds a split batch's delayed records for `topic`-`partition` in its timer partition: here
   * when this broker fires it (appended before this returns), else on its leader.
   */
  hold(topic: string, partition: number, split: SplitBatch): Hold {
    const index = groupPartition(`${topic}-${partition}`, this.#count);
    const timer = this.#running[index];
    const cluster = this.#options.cluster;
    if (timer !== undefined) return { local: true, done: timer.hold(this.#replica(index), split) };
    if (cluster === undefined) throw new SluiceError('SLUICE_ERR_UNKNOWN', `timer partition ${index} is not running`);
    return { local: false, done: this.#forward(cluster.links, index, timerBatches(split.held, this.#settings)) };
  }

  async #forward(links: LeaderLinks, index: number, batches: Buffer): Promise<void> {
    const answer = await links.request<'produce'>(links.leaderOf(delayedTopic, index), Api.PRODUCE, {
      acks: -1, timeoutMs: forwardTimeoutMs, topics: [{ name: delayedTopic, partitions: [{ partition: index, records: batches }] }],
    });
    const result = answer.topics[0]?.partitions[0];
    if (result === undefined) throw new SluiceError('SLUICE_ERR_UNKNOWN', `no answer from the leader of ${delayedTopic}-${index}`);
    if (result.errorCode !== 0) throw errorFromWire(result.errorCode, `holding delayed records in ${delayedTopic}-${index}: ${result.errorMessage}`);
  }

  /**
   * Takes timer batches another broker sent (its #forward) for a timer partition led here;
   * resolves once the in-sync replicas have them. Every record must carry its target header.
   */
  async holdForwarded(index: number, batches: Buffer): Promise<void> {
    const timer = this.#running[index];
    if (timer === undefined) throw new SluiceError('SLUICE_ERR_NOT_LEADER_OR_FOLLOWER', `${delayedTopic}-${index} is not led by this broker; refresh metadata and retry`);
    const dues: number[] = [];
    for (const { position, size } of eachBatch(batches)) {
      for (const record of decodeRecords(batches.subarray(position, position + size))) {
        if (record.headers[0]?.key !== targetHeader) throw new SluiceError('SLUICE_ERR_INVALID_RECORD', `a record for ${delayedTopic} has no target header: only brokers write there`);
        dues.push(record.timestamp);
      }
    }
    await timer.holdBatches(this.#replica(index), batches, dues);
  }

  #replica(index: number): Partition {
    const existing = this.#options.topics.find(delayedTopic)?.partitionAt(index);
    if (existing !== undefined) return existing;
    if (this.#options.cluster !== undefined) throw new SluiceError('SLUICE_ERR_LEADER_NOT_AVAILABLE', `${delayedTopic}-${index} has no replica here yet`);
    return this.#options.topics.create(delayedTopic, this.#count, { ...delayedTopicConfigs }, false, 'broker')!.partitionAt(index)!;
  }
}
