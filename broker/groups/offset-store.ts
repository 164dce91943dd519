/**
 * Committed offsets of consumer groups, stored as records in the compacted internal topic
 * `__consumer_offsets` (key: group, topic, partition; value: offset, metadata, commit time; a
 * null value deletes), so they survive restarts and leader changes like any other data. Keys
 * and values are small JSON documents: compaction keeps the last record per key byte for
 * byte, and a person can read them with `sluice consume`.
 *
 * A group lives in one partition of the topic (group-partition.ts) and this broker holds the
 * offsets of the partitions it leads. Gaining a partition replays its log, in chunks that
 * yield to the event loop; meanwhile its groups get COORDINATOR_LOAD_IN_PROGRESS. Losing it
 * forgets its offsets (and, through the coordinator, its live groups); its groups then get
 * NOT_COORDINATOR. Partitions led when the store is made are replayed before the constructor
 * returns, so a broker starts answering with its offsets already loaded.
 *
 * Commits and deletions are appended to the group's partition and applied in memory only
 * once the append is committed, in the order they were appended: a commit that was answered
 * is what OffsetFetch returns, and one whose append failed is never seen.
 *
 * Transactional commits (TxnOffsetCommit) are appended as a transactional batch of their
 * producer and kept pending per producer id: the COMMIT marker of that producer's transaction,
 * written to the same partition, applies them; an ABORT marker drops them. Loading the
 * partition does the same with the batches and control batches it replays, so pending and
 * applied commits survive a restart or a new leader. Meanwhile OffsetFetch with requireStable
 * answers UNSTABLE_OFFSET_COMMIT for the group.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Logger } from 'pino';
import { SluiceError } from '../../proto/errors.js';
import { buildRecordBatch, decodeRecords, readBatchHeader, type RecordInput } from '../../proto/record-batch/record-batch.js';
import { replayChunk } from '../storage/log-replay.js';
import type { Partition, TopicManager } from '../topics/topic-manager.js';
import type { GroupCoordinator } from './coordinator.js';
import { groupPartition } from './group-partition.js';
import { LocalOffsetsPartitions } from './local-offsets-partitions.js';
import { offsetsAppendError } from './offsets-append-error.js';
import type { OffsetsTopicPartitions } from './offsets-partitions.js';
import { offsetsTopic } from './offsets-topic.js';

export { offsetsTopic, repairOffsetsTopicRecord } from './offsets-topic.js';

export interface CommittedOffset {
  offset: number;
  metadata: string;
  commitTimestamp: number;
}

/** group → "topic\0partition" → committed offset */
type Offsets = Map<string, Map<string, CommittedOffset>>;

/** The offsets of one led `__consumer_offsets` partition. */
interface Shard {
  readonly partition: number;
  loading: boolean;
  readonly offsets: Offsets;
  /** Transactional commits awaiting their marker: producer id → group → "topic\0partition" → offset. */
  readonly pending: Map<number, Offsets>;
  /** Settles after the last append's records were applied (or it failed): the next one waits for it. */
  tail: Promise<void>;
  /** Per group, the tail as of its newest append still in flight. */
  readonly inFlight: Map<string, Promise<void>>;
  /** Resolves when loading finished; rejects if the partition was lost first. */
  readonly ready: Promise<void>;
  settle(error?: SluiceError): void;
}

export interface OffsetStoreOptions {
  /** Which partitions of `__consumer_offsets` this broker leads; default: the single broker's one. */
  partitions?: OffsetsTopicPartitions;
  /** Its groups of a partition this broker stops leading are dropped. */
  coordinator?: GroupCoordinator;
  /** Where failed replays are reported. */
  logger?: Logger;
}

const entryKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/** A control batch's type (Kafka's control record key: int16 version, int16 type 0 = abort, 1 = commit); undefined for other control records. */
function controlType(batch: Buffer): 'commit' | 'abort' | undefined {
  const key = decodeRecords(batch)[0]?.key;
  if (key === null || key === undefined || key.length < 4) return undefined;
  const type = key.readInt16BE(2);
  return type === 1 ? 'commit' : type === 0 ? 'abort' : undefined;
}

function recordKey(group: string, topic: string, partition: number): Buffer {
  return Buffer.from(JSON.stringify({ group, topic, partition }));
}

export class OffsetStore {
  readonly #shards = new Map<number, Shard>();
  readonly #topics: TopicManager;
  readonly #partitions: OffsetsTopicPartitions;
  readonly #coordinator: GroupCoordinator | undefined;
  readonly #logger: Logger | undefined;
  readonly #unsubscribe: () => void;

  constructor(topics: TopicManager, options: OffsetStoreOptions = {}) {
    this.#topics = topics;
    this.#partitions = options.partitions ?? new LocalOffsetsPartitions(topics);
    this.#coordinator = options.coordinator;
    this.#logger = options.logger;
    for (let partition = 0; partition < this.#partitions.count; partition += 1) {
      if (!this.#partitions.leads(partition)) continue;
      const shard = this.#newShard(partition);
      const replica = this.#partitions.replica(partition);
      if (replica !== undefined) {
        for (let offset = replica.log.logStartOffset; offset < replica.log.logEndOffset;) offset = this.#replayChunk(shard, replica, offset);
      }
      shard.settle();
    }
    this.#unsubscribe = this.#partitions.onLeadershipChange((partition, leading) => {
      if (leading) this.#load(partition);
      else this.#unload(partition);
    });
  }

  /** The `__consumer_offsets` partition that holds the group. */
  partitionFor(groupId: string): number {
    return groupPartition(groupId, this.#partitions.count);
  }

  /** The partitions of `__consumer_offsets` this store answers for. */
  get partitions(): OffsetsTopicPartitions {
    return this.#partitions;
  }

  /**
   * Throws unless this broker coordinates the group now: NOT_COORDINATOR when it does not
   * lead the group's partition, COORDINATOR_LOAD_IN_PROGRESS while it is loading it.
   */
  checkCoordinator(groupId: string): void {
    const partition = this.partitionFor(groupId);
    const shard = this.#shards.get(partition);
    if (shard === undefined) {
      throw new SluiceError('SLUICE_ERR_NOT_COORDINATOR', `this broker does not coordinate group ${groupId} (partition ${partition} of ${offsetsTopic} is led elsewhere); ask FindCoordinator for its coordinator and retry there`);
    }
    if (shard.loading) {
      throw new SluiceError('SLUICE_ERR_COORDINATOR_LOAD_IN_PROGRESS', `group ${groupId}'s offsets (partition ${partition} of ${offsetsTopic}) are still loading; retry shortly`);
    }
  }

  /** Whether this broker coordinates the group now and has its offsets loaded. */
  coordinates(groupId: string): boolean {
    return this.#shards.get(this.partitionFor(groupId))?.loading === false;
  }

  /** Resolves once the partition is loaded (at once when it is); rejects if it is not led or is lost first. */
  loaded(partition: number): Promise<void> {
    return this.#shards.get(partition)?.ready
      ?? Promise.reject(new SluiceError('SLUICE_ERR_NOT_COORDINATOR', `this broker does not lead partition ${partition} of ${offsetsTopic}`));
  }

  /** Stops following leadership changes. */
  close(): void {
    this.#unsubscribe();
  }

  #newShard(partition: number): Shard {
    let settle!: Shard['settle'];
    const ready = new Promise<void>((resolve, reject) => { settle = (error) => (error === undefined ? resolve() : reject(error)); });
    ready.catch(() => {});
    const shard: Shard = {
      partition, loading: true, offsets: new Map(), pending: new Map(), tail: Promise.resolve(), inFlight: new Map(), ready,
      settle(error) {
        shard.loading = false;
        settle(error);
      },
    };
    this.#shards.set(partition, shard);
    return shard;
  }

  /**
   * Replays the partition's log a chunk at a time; stops if leadership moved meanwhile. A
   * partition already held (loaded or loading) is left as it is.
   */
  #load(partition: number): void {
    if (this.#shards.has(partition)) return;
    const shard = this.#newShard(partition);
    const current = () => this.#shards.get(partition) === shard;
    void (async () => {
      try {
        await yieldToEventLoop();
        const replica = this.#partitions.replica(partition);
        for (let offset = replica?.log.logStartOffset ?? 0; current() && replica !== undefined && offset < replica.log.logEndOffset;) {
          offset = this.#replayChunk(shard, replica, offset);
          await yieldToEventLoop();
        }
        if (current()) shard.settle();
      } catch (error) {
        this.#logger?.error({ err: error, topic: offsetsTopic, partition }, 'loading committed offsets failed; this broker will not coordinate the partition\'s groups');
        if (!current()) return;
        shard.settle(new SluiceError('SLUICE_ERR_COORDINATOR_NOT_AVAILABLE', `loading the offsets of partition ${partition} of ${offsetsTopic} failed: ${(error as Error).message}`));
        this.#unload(partition);
      }
    })();
  }

  #unload(partition: number): void {
    const shard = this.#shards.get(partition);
    if (shard === undefined) return;
    this.#shards.delete(partition);
    if (shard.loading) shard.settle(new SluiceError('SLUICE_ERR_NOT_COORDINATOR', `this broker stopped leading partition ${partition} of ${offsetsTopic} before its offsets were loaded`));
    this.#coordinator?.unload((groupId) => this.partitionFor(groupId) === partition);
  }

  /** Applies the records from `offset` on, up to a chunk of them; returns where to go on. */
  #replayChunk(shard: Shard, replica: Partition, offset: number): number {
    return replayChunk(replica.log, offset, (batch) => {
      const header = readBatchHeader(batch);
      if (header.isControl) {
        const marker = controlType(batch);
        if (marker !== undefined) this.#completeTransaction(shard, header.producerId, marker === 'commit');
        return;
      }
      const pending = header.isTransactional ? this.#pendingOf(shard, header.producerId) : undefined;
      for (const record of decodeRecords(batch)) this.#apply(shard, record.key, record.value, pending);
    });
  }

  #apply(shard: Shard, key: Buffer | null, value: Buffer | null, into: Offsets = shard.offsets): void {
    // Share-group records (broker/share/share-records.ts) live in the same partitions; their keys are not JSON.
    if (key === null || key[0] !== 0x7b) return;
    const { group, topic, partition } = JSON.parse(key.toString()) as { group: string; topic: string; partition: number };
    let entries = into.get(group);
    if (value === null) {
      entries?.delete(entryKey(topic, partition));
      if (entries?.size === 0) into.delete(group);
      return;
    }
    if (entries === undefined) {
      entries = new Map();
      into.set(group, entries);
    }
    entries.set(entryKey(topic, partition), JSON.parse(value.toString()) as CommittedOffset);
  }

  /**
   * Appends the commits as one batch (one write, one position in the log) to the group's
   * partition; resolves once it is committed and applied, rejects with the append's error.
   */
  async commit(group: string, commits: Array<{ topic: string; partition: number; offset: number; metadata: string }>): Promise<void> {
    if (commits.length === 0) return;
    const now = Date.now();
    await this.#append(group, commits.map((commit) => ({
      key: recordKey(group, commit.topic, commit.partition),
      value: Buffer.from(JSON.stringify({ offset: commit.offset, metadata: commit.metadata, commitTimestamp: now } satisfies CommittedOffset)),
      timestamp: now,
    })));
  }

  /**
   * TxnOffsetCommit: appends the commits as a transactional batch of the producer; they stay
   * pending (not returned by OffsetFetch) until the producer's transaction marker lands on this
   * partition (completeTransaction).
   */
  async commitTransactional(group: string, producerId: number, producerEpoch: number, commits: Array<{ topic: string; partition: number; offset: number; metadata: string }>): Promise<void> {
    if (commits.length === 0) return;
    const now = Date.now();
    const records = commits.map((commit) => ({
      key: recordKey(group, commit.topic, commit.partition),
      value: Buffer.from(JSON.stringify({ offset: commit.offset, metadata: commit.metadata, commitTimestamp: now } satisfies CommittedOffset)),
      timestamp: now,
    }));
    await this.#append(group, records, { producerId, producerEpoch, transactional: true });
  }

  /**
   * A transaction marker of the producer landed on this `__consumer_offsets` partition (the
   * leader's WriteTxnMarkers calls this after appending it): its pending commits are applied
   * (commit) or dropped (abort).
   */
  completeTransaction(partition: number, producerId: number, committed: boolean): void {
    const shard = this.#shards.get(partition);
    if (shard !== undefined) this.#completeTransaction(shard, producerId, committed);
  }

  #completeTransaction(shard: Shard, producerId: number, committed: boolean): void {
    const pending = shard.pending.get(producerId);
    shard.pending.delete(producerId);
    if (pending === undefined || !committed) return;
    for (const [group, entries] of pending) {
      let target = shard.offsets.get(group);
      if (target === undefined) {
        target = new Map();
        shard.offsets.set(group, target);
      }
      for (const [key, entry] of entries) target.set(key, entry);
    }
  }

  #pendingOf(shard: Shard, producerId: number): Offsets {
    let pending = shard.pending.get(producerId);
    if (pending === undefined) {
      pending = new Map();
      shard.pending.set(producerId, pending);
    }
    return pending;
  }

  /** Partitions ("topic\0partition") of the group with a transactional commit awaiting its marker. */
  pendingTransactional(group: string): Set<string> {
    const found = new Set<string>();
    for (const pending of this.#shards.get(this.partitionFor(group))?.pending.values() ?? []) {
      for (const key of pending.get(group)?.keys() ?? []) found.add(key);
    }
    return found;
  }

  /**
   * Forgets every offset the group committed: a tombstone (null value) per key, so a restart
   * or a new leader does not bring them back and compaction removes them. Resolves to how
   * many were deleted, once the tombstones are committed.
   */
  async deleteGroup(group: string): Promise<number> {
    const now = Date.now();
    const records = this.committed(group).map((entry) => ({ key: recordKey(group, entry.topic, entry.partition), value: null, timestamp: now }));
    if (records.length > 0) await this.#append(group, records);
    return records.length;
  }

  /**
   * The append starts at once, so the log has the records in call order; they are applied in
   * that order too, each after the previous append settled and its own was committed.
   */
  #append(group: string, records: RecordInput[], transaction?: { producerId: number; producerEpoch: number; transactional: true }): Promise<void> {
    this.checkCoordinator(group);
    const shard = this.#shards.get(this.partitionFor(group))!;
    const batch = buildRecordBatch(records, transaction);
    if (transaction !== undefined) this.#checkProducerEpoch(shard.partition, batch);
    const committed = this.#startAppend(shard.partition, batch);
    // Handled through `applied`, but maybe only after an earlier append settles: not unhandled meanwhile.
    committed.catch(() => {});
    const applied = shard.tail.then(() => committed).then(() => {
      const into = transaction === undefined ? shard.offsets : this.#pendingOf(shard, transaction.producerId);
      for (const record of records) this.#apply(shard, record.key, record.value, into);
    });
    const settled = applied.catch(() => {});
    shard.tail = settled;
    shard.inFlight.set(group, settled);
    void settled.then(() => {
      if (shard.inFlight.get(group) === settled) shard.inFlight.delete(group);
    });
    return applied;
  }

  /**
   * Settles once the group's commits and deletions already made are applied or have failed;
   * undefined when none is in flight. OffsetFetch waits for it, so a fetch sent after a commit
   * (even before the commit's answer came back) sees it, as it did when commits were synchronous.
   */
  settled(group: string): Promise<void> | undefined {
    return this.#shards.get(this.partitionFor(group))?.inFlight.get(group);
  }

  /**
   * A transactional commit from an older epoch of its producer than the partition has seen (a
   * zombie fenced since, whose transaction was aborted) is refused with INVALID_PRODUCER_EPOCH:
   * its offsets would otherwise wait for, and be applied by, a later commit of the same producer
   * id. Sequences are not checked: the coordinator writes these batches, as Kafka's does.
   */
  #checkProducerEpoch(partition: number, batch: Buffer): void {
    try {
      this.#partitions.replica(partition)?.log.checkProducerBatch(batch);
    } catch (error) {
      if (SluiceError.is(error) && error.code === 'SLUICE_ERR_INVALID_PRODUCER_EPOCH') throw error;
    }
  }

  /** The append, its failure (also one thrown rather than rejected) in the group's client's terms. */
  async #startAppend(partition: number, batch: Buffer): Promise<void> {
    try {
      await this.#partitions.append(partition, batch);
    } catch (error) {
      throw offsetsAppendError(error, partition);
    }
  }

  /** When the group's newest commit was made; undefined when it has none. */
  newestCommit(group: string): number | undefined {
    let newest: number | undefined;
    for (const entry of this.#entries(group)?.values() ?? []) newest = Math.max(newest ?? entry.commitTimestamp, entry.commitTimestamp);
    return newest;
  }

  #entries(group: string): Map<string, CommittedOffset> | undefined {
    return this.#shards.get(this.partitionFor(group))?.offsets.get(group);
  }

  committed(group: string): Array<{ topic: string; partition: number } & CommittedOffset> {
    return [...(this.#entries(group) ?? new Map<string, CommittedOffset>())].map(([key, committed]) => {
      const [topic, partition] = key.split('\u0000');
      return { topic: topic!, partition: Number(partition), ...committed };
    }).sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  }

  /** Groups with committed offsets in the partitions this broker leads and has loaded. */
  groups(): string[] {
    const groups: string[] = [];
    for (const shard of this.#shards.values()) if (!shard.loading) groups.push(...shard.offsets.keys());
    return groups.sort();
  }

  /** A group's committed offsets with each partition's log end and lag, for people and metrics. */
  lag(group: string): Array<{ topic: string; partition: number; committedOffset: number; logEndOffset: number; lag: number }> {
    return this.committed(group).map((entry) => {
      const log = this.#topics.find(entry.topic)?.partitionAt(entry.partition)?.log;
      const logEndOffset = log?.logEndOffset ?? -1;
      return { topic: entry.topic, partition: entry.partition, committedOffset: entry.offset, logEndOffset, lag: logEndOffset < 0 ? -1 : Math.max(0, logEndOffset - entry.offset) };
    });
  }
}
