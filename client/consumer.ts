/**
 * The consumer: `assign()` exact partitions or `subscribe()` to a group's share of topics;
 * `poll()` and `for await` hand out records in offset order per partition. A record counts
 * as consumed once it is handed out (returned by poll(), or yielded by the iterator), and
 * only consumed records are committed, by commit(), auto-commit, a revocation or close().
 * `seek()` moves a partition to an offset, a time, the beginning or the end.
 *
 * The work is split: consumer/fetcher.ts fetches and buffers, consumer/positions.ts keeps
 * positions and commits, consumer/membership.ts ties the group membership to both.
 */
import { SluiceError } from '../proto/errors.js';
import type { DecodedRecord } from '../proto/record-batch/record-batch.js';
import { Fetcher } from './consumer/fetcher.js';
import { Handout } from './consumer/handout.js';
import { startMembership, type SubscribeOptions } from './consumer/membership.js';
import { type OffsetEntry, Positions, type SeekTarget } from './consumer/positions.js';
import type { AssignorChoice } from './groups/assignors.js';
import { GroupCoordinator } from './groups/coordinator.js';
import type { GroupMember } from './groups/group-member.js';
import { type ClientLogger, defaultLogger } from './logger.js';
import type { MetadataCache } from './metadata.js';

export type ConsumerRecord = DecodedRecord;
export type { SeekTarget } from './consumer/positions.js';
export type { SubscribeOptions } from './consumer/membership.js';

export interface ConsumerOptions {
  /** Longest a fetch waits on the broker for `minBytes` to arrive. */
  maxWaitMs?: number;
  minBytes?: number;
  maxBytes?: number;
  partitionMaxBytes?: number;
  maxPollRecords?: number;
  /** Records fetched ahead and not yet polled; fetching pauses above this. */
  bufferedRecordsMax?: number;
  /** Where a partition with no position (or an out-of-range one) starts; 'none' throws. */
  autoOffsetReset?: 'earliest' | 'latest' | 'none';
  /** A consumer group: partitions start from the group's committed offsets, and commits go there. */
  groupId?: string;
  /** With a groupId: commit the consumed positions every autoCommitIntervalMs and on close (default true). */
  autoCommit?: boolean;
  autoCommitIntervalMs?: number;
  /**
   * subscribe(): how the group's leader splits partitions (default cooperative-sticky), or
   * several assignors in order of preference. Kafka's names; 'RoundRobinAssigner' is round robin
   * under KafkaJS's name, to share a group with KafkaJS consumers.
   */
  assignor?: AssignorChoice;
  /** subscribe(): the coordinator drops a member silent for this long (default 10 s). */
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** subscribe(): how long a rebalance waits for members to rejoin (default the session timeout). */
  rebalanceTimeoutMs?: number;
  /** subscribe(): static membership; a restarted member with the same id keeps its partitions. */
  groupInstanceId?: string;
  /**
   * read_uncommitted (default, as Kafka's): every record up to the high watermark, aborted
   * transactions' too. read_committed: only up to the last stable offset, without the records
   * of aborted transactions. Commit and abort markers are never handed out.
   */
  isolationLevel?: 'read_committed' | 'read_uncommitted';
}

type Settings = Required<Omit<ConsumerOptions, 'groupId' | 'groupInstanceId'>> & { groupId: string | undefined; groupInstanceId: string | undefined };

const fencedCodes = new Set(['SLUICE_ERR_ILLEGAL_GENERATION', 'SLUICE_ERR_UNKNOWN_MEMBER_ID', 'SLUICE_ERR_REBALANCE_IN_PROGRESS']);

export class Consumer {
  readonly #metadata: MetadataCache;
  readonly #coordinator: GroupCoordinator | undefined;
  readonly #options: Settings;
  readonly #positions: Positions;
  readonly #fetcher: Fetcher;
  #member: GroupMember | undefined;
  #autoCommitTimer: NodeJS.Timeout | undefined;
  readonly #handout = new Handout();
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(metadata: MetadataCache, options: ConsumerOptions = {}, logger: ClientLogger = defaultLogger()) {
    this.#metadata = metadata;
    this.#coordinator = options.groupId === undefined ? undefined : new GroupCoordinator(metadata, options.groupId);
    this.#options = {
      maxWaitMs: 500, minBytes: 1, maxBytes: 50 * 1024 * 1024, partitionMaxBytes: 1024 * 1024,
      maxPollRecords: 500, bufferedRecordsMax: 50_000, autoOffsetReset: 'latest', autoCommit: true, autoCommitIntervalMs: 5000,
      assignor: 'cooperative-sticky', sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1000, rebalanceTimeoutMs: options.sessionTimeoutMs ?? 10_000,
      isolationLevel: 'read_uncommitted',
      ...options, groupId: options.groupId, groupInstanceId: options.groupInstanceId,
    };
    this.#positions = new Positions(metadata, this.#coordinator, {
      groupId: this.#options.groupId,
      autoOffsetReset: this.#options.autoOffsetReset,
      isolationLevel: this.#options.isolationLevel,
      membership: () => ({ generationId: this.#member?.generationId ?? -1, memberId: this.#member?.memberId ?? '' }),
    });
    this.#fetcher = new Fetcher(metadata, logger, this.#positions, this.#options, {
      onRecords: () => this.#handout.wake(),
      onError: (error) => this.#handout.fail(error),
      failed: () => this.#handout.failed,
    });
    if (this.#options.groupId !== undefined && this.#options.autoCommit) {
      this.#autoCommitTimer = setInterval(() => {
        this.commit().catch((error: unknown) => {
          // A commit that races a rebalance is fenced; the revocation commits those offsets anyway.
          if (SluiceError.is(error) && (error.retriable || fencedCodes.has(error.code))) return;
          this.#handout.fail(error);
        });
      }, this.#options.autoCommitIntervalMs);
      this.#autoCommitTimer.unref();
    }
  }

  /** Consumes exactly these partitions, from `offset` when given. */
  assign(partitions: Array<{ topic: string; partition: number; offset?: number }>): void {
    this.#positions.clear();
    this.#fetcher.clear();
    for (const { topic, partition, offset } of partitions) this.#positions.add(topic, partition, offset);
    this.#fetcher.start();
  }

  /**
   * Joins the consumer's group and consumes whatever partitions of `topics` (names, or a
   * pattern matched against topic names) the group assigns to it, following rebalances.
   */
  subscribe(topics: string[] | RegExp, options: SubscribeOptions = {}): void {
    const groupId = this.#options.groupId;
    if (groupId === undefined || this.#coordinator === undefined) throw new SluiceError('SLUICE_ERR_CONFIG', 'subscribe() needs a consumer created with a groupId');
    if (this.#member !== undefined) throw new SluiceError('SLUICE_ERR_CONFIG', 'this consumer is already subscribed');
    this.#member = startMembership(this.#coordinator, this.#metadata, this.#positions, this.#fetcher, { ...this.#options, groupId, topics }, {
      ...options,
      onError: (error) => this.#handout.fail(error),
    });
  }

  assignment(): Array<{ topic: string; partition: number }> {
    return [...this.#positions.values()].map(({ topic, partition }) => ({ topic, partition }));
  }

  /** Moves a partition; resolves with its new position. Records buffered for the old one are never handed out. */
  async seek(topic: string, partition: number, target: SeekTarget): Promise<number> {
    const state = this.#positions.get(topic, partition);
    if (state === undefined) throw new SluiceError('SLUICE_ERR_INVALID_REQUEST', `${topic}/${partition} is not assigned to this consumer`);
    const offset = typeof target === 'number' ? target : await this.#positions.offsetFor(topic, partition, target);
    this.#positions.moveTo(state, offset);
    this.#fetcher.drop(state);
    this.#handout.clearError();
    this.#fetcher.start();
    return offset;
  }

  /** The next offset this consumer will hand out for a partition. */
  position(topic: string, partition: number): number | undefined {
    return this.#positions.get(topic, partition)?.position;
  }

  /** Resolves 'earliest', 'latest' or a time to an offset with ListOffsets (-1: no record that late). */
  offsetFor(topic: string, partition: number, target: Exclude<SeekTarget, number>): Promise<number> {
    return this.#positions.offsetFor(topic, partition, target);
  }

  /** Up to maxPollRecords records, waiting up to `timeoutMs` for the first; they count as consumed. */
  async poll(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<ConsumerRecord[]> {
    const deadline = Date.now() + (options.timeoutMs ?? 1000);
    for (;;) {
      this.#handout.throwPending();
      const records = this.#fetcher.take(this.#options.maxPollRecords);
      if (records.length > 0 || this.#closed || Date.now() >= deadline || options.signal?.aborted) return records;
      await this.#handout.wait(deadline, options.signal);
    }
  }

  /** Yields records one at a time; each counts as consumed when it is yielded. */
  async *[Symbol.asyncIterator](): AsyncGenerator<ConsumerRecord> {
    while (!this.#closed) {
      this.#handout.throwPending();
      const record = this.#fetcher.takeOne();
      if (record !== undefined) yield record;
      else await this.#handout.wait(Date.now() + 1000);
    }
  }


  /**
   * Commits offsets to the group: the given ones, or every partition's consumed position (the
   * offset after the last record handed out). Resolves once the broker stored them.
   */
  commit(offsets?: OffsetEntry[]): Promise<void> {
    return this.#positions.commit(offsets);
  }

  /** The group's committed offsets for the given topics, keyed `${topic}\u0000${partition}`. */
  committed(topics: string[]): Promise<Map<string, number>> {
    return this.#positions.committedOffsets(topics);
  }

  /**
   * The group, generation and member id (Kafka's groupMetadata()): what a transaction's
   * sendOffsets passes so the coordinator refuses offsets of a member that was fenced.
   */
  groupMetadata(): { groupId: string | undefined; generationId: number; memberId: string } {
    return { groupId: this.#options.groupId, generationId: this.#member?.generationId ?? -1, memberId: this.#member?.memberId ?? '' };
  }

  /** Commits what was consumed (with autoCommit), leaves the group and stops fetching; once. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    clearInterval(this.#autoCommitTimer);
    if (this.#options.groupId !== undefined && this.#options.autoCommit) await this.commit().catch(() => {});
    this.#closed = true;
    const stopped = this.#fetcher.stop();
    await this.#member?.leave();
    this.#handout.wake();
    await stopped;
  }
}
