/**
 * A partition log: an ordered list of segments, the last one active. It assigns offsets,
 * rolls segments, serves reads as zero-copy slices, finds offsets by time, truncates (for
 * replication), moves its start (retention, DeleteRecords) and syncs by the flush policy.
 *
 * Offsets: `logStartOffset` is the first readable offset, `logEndOffset` the offset the next
 * record gets. Both persist: the start in a checkpoint file, the end in the segments. For
 * replication the log also keeps the high watermark (set by the replication layer, checkpointed
 * to `high-watermark`) and where each leader epoch began (`leaderEpochs`,
 * `leader-epoch-checkpoint`), and truncation never changes bytes that reads handed out.
 * All methods run on the broker's single JavaScript thread; `append` is synchronous so the
 * order of appends is the order of calls.
 *
 * Failure atomicity: every change of state (roll, truncate, restart, retention, DeleteRecords,
 * close, delete) first does what needs new descriptors or memory (creating or reopening a
 * segment, writing a checkpoint), so that running out of them (EMFILE, ENOMEM, ENOSPC) leaves
 * the log as it was; the steps after that only unlink and close. An I/O error in those later
 * steps, or any failed sync, takes the log offline (see `#fail`): it then refuses all work with
 * a storage error until the broker restarts and recovers it from disk, as Kafka takes a failed
 * log directory offline.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CorruptRecordError, OffsetOutOfRangeError, SluiceError } from '../../proto/errors.js';
import { LAST_OFFSET_DELTA_OFFSET, PARTITION_LEADER_EPOCH_OFFSET, RECORDS_COUNT_OFFSET } from '../../proto/record-batch/layout.js';
import { buildControlBatch } from '../../proto/record-batch/control-batch.js';
import { eachBatch } from '../../proto/record-batch/batch-iterator.js';
import { batchLastOffset, batchMaxTimestamp, checkMagicAndCrc, readInt64 } from '../../proto/record-batch/record-batch.js';
import {
  highWatermarkFile, logStartOffsetFile, readOffsetCheckpoint, removeTruncationMarker, writeCleanShutdownMarker,
  writeOffsetCheckpoint, writeTruncationMarker,
} from './checkpoint.js';
import { errnoOf, storageError, storageStep } from './storage-error.js';
import type { CleanStop } from './clean-stop.js';
import { GroupCommit } from './group-commit.js';
import { type LogConfig, resolveLogConfig } from './log-config.js';
import { type LogCleaner, swapInCleaned } from './log-cleaner.js';
import { type CompactingLog, type CompactionOutcome, LogCompaction } from './log-compaction.js';
import { LeaderEpochCache } from './leader-epoch-cache.js';
import { type LoadReport, loadSegments } from './log-loader.js';
import { type BatchMetadata, hasProducerId, ProducerStateManager, readProducerBatch } from './producer-state.js';
import { RecoveryPoint } from './recovery-point.js';
import type { AbortedTxn } from './txn-index.js';
import { Segment, segmentFileName } from './segment.js';

export interface LogOptions {
  config?: Partial<LogConfig>;
  /** Clock for segment.ms and retention; tests move it. */
  now?: () => number;
  /** Called with errors of background work (syncs after a roll) that no caller awaits. */
  onBackgroundError?: (error: unknown) => void;
  /**
   * How long a deleted segment keeps the bytes of its last read for responses still being
   * written to clients (default 60 s, Kafka's file.delete.delay.ms). A deleted segment not read
   * for that long gives its disk blocks back at once.
   */
  deletedSegmentReadGraceMs?: number;
  hooks?: StorageHooks;
  /**
   * The caller syncs the directory itself, off the event loop: a new topic's partitions all at
   * once with their parent, a lazily opened log after a crash on the thread pool (one batch of
   * directory syncs instead of one per partition in the opening turn).
   */
  directorySyncedByCaller?: boolean;
}

/** Seams for fault tests: real failures injected at the points where the file system can fail. */
export interface StorageHooks {
  /** Runs before a new segment's files are created; what it throws fails the creation. */
  beforeSegmentCreate?: (baseOffset: number) => void;
  /**
   * Runs each segment sync: a test may hold it, report completions in another order, or fail
   * it (reject instead of calling `sync`).
   */
  segmentSync?: (baseOffset: number, sync: () => Promise<void>) => Promise<void>;
}

export interface AppendOptions {
  /**
   * Stamped into every batch's partitionLeaderEpoch (the leader path). Without it, producer
   * appends start no epoch, and replicated appends (`assignOffsets: false`) keep the leader's
   * stamp; a batch whose epoch is newer than the latest starts that epoch in `leaderEpochs`.
   */
  leaderEpoch?: number;
  /**
   * true (producers): the log gives each batch the next offset. false (replication): the
   * batches keep the offsets the leader gave them, which must continue the log.
   */
  assignOffsets?: boolean;
  /**
   * The caller has validated these very bytes as the produce handler does
   * (validateProducerBatch: whole batches, lengths, magic, CRC-32C, max.message.bytes), so the
   * log does not walk them a second time before appending. Others leave it false.
   */
  verified?: boolean;
}

export interface AppendResult {
  baseOffset: number;
  lastOffset: number;
  batches: number;
  records: number;
}

/** A commit or abort marker the transaction coordinator asks a leader to append. */
export interface TxnMarker {
  producerId: number;
  producerEpoch: number;
  committed: boolean;
  coordinatorEpoch: number;
}

export interface ReadResult {
  /** Whole batches, in order; the first holds the requested offset. */
  slices: Buffer[];
  bytes: number;
}

export class Log {
  readonly directory: string;
  readonly config: LogConfig;
  readonly loadReport: LoadReport;
  /** Where each leader epoch began in this log (leader-epoch-checkpoint). */
  readonly leaderEpochs: LeaderEpochCache;
  #segments: Segment[];
  #logStartOffset: number;
  #now: () => number;
  #onBackgroundError: (error: unknown) => void;
  #groupCommit: GroupCommit;
  #closed = false;
  readonly #compaction: LogCompaction;
  readonly #compacting: CompactingLog;
  #failure: SluiceError | undefined;
  #hooks: StorageHooks;
  #readGraceMs: number;
  #recoveryPoint: RecoveryPoint;
  #highWatermark: number;
  /** What the high-watermark file says; undefined while there is none (a log that never replicated). */
  #highWatermarkWritten: number | undefined;
  /** The replication layer has set the high watermark, so it is worth keeping across restarts. */
  #highWatermarkSet = false;
  /** Producer ids, their sequences and open transactions (producer-state.ts). */
  readonly #producers: ProducerStateManager;

  private constructor(directory: string, config: LogConfig, options: LogOptions) {
    this.directory = directory;
    this.config = config;
    this.#now = options.now ?? Date.now;
    this.#onBackgroundError = options.onBackgroundError ?? (() => {});
    this.#hooks = options.hooks ?? {};
    this.#readGraceMs = options.deletedSegmentReadGraceMs ?? 60_000;
    this.#compaction = new LogCompaction(directory);
    const log = this;
    this.#compacting = {
      directory,
      config,
      get closed() {
        return log.#closed;
      },
      sealedSegments: () => this.#segments.slice(0, -1),
      activeBaseOffset: () => this.#active.baseOffset,
      now: () => this.#now(),
      swapInCleaned: (segment) => this.#swapInCleaned(segment),
    };
    const checkpointedStart = readOffsetCheckpoint(directory, logStartOffsetFile) ?? 0;
    this.#recoveryPoint = new RecoveryPoint(directory, {
      stopped: () => this.#stopped,
      fail: (cause, what) => this.#fail(cause, what),
      onBackgroundError: (error) => this.#onBackgroundError(error),
    });
    const { segments, report } = loadSegments(directory, config, checkpointedStart, (base) => this.#createSegment(base), options.directorySyncedByCaller !== true);
    this.#segments = segments;
    this.loadReport = report;
    this.#recoveryPoint.capAt(this.logEndOffset);
    this.#logStartOffset = Math.min(Math.max(checkpointedStart, segments[0]!.baseOffset), this.logEndOffset);
    try {
      this.leaderEpochs = this.#loadLeaderEpochs();
      this.#highWatermarkWritten = readOffsetCheckpoint(directory, highWatermarkFile);
    } catch (error) {
      // A checkpoint that exists but cannot be read (EIO, EMFILE): give the segments back.
      for (const segment of segments) segment.discard();
      throw error;
    }
    this.#highWatermark = this.#clampToLog(this.#highWatermarkWritten ?? this.logEndOffset);
    this.#producers = new ProducerStateManager(directory, config.maxProducerIdsPerPartition);
    this.#groupCommit = new GroupCommit({
      startSync: () => this.#startSync(),
      logEndOffset: () => this.logEndOffset,
      flushMessages: config.flushMessages,
      flushMs: config.flushMs,
      syncedOffset: report.clean ? this.logEndOffset : 0,
      onSyncFailed: (error) => this.#fail(error, 'syncing appended records to disk'),
    });
    try {
      // Snapshots past the recovery point may describe batches a crash lost: start from one at or below it.
      this.#rebuildProducerState(Math.min(this.#recoveryPoint.offset, this.logEndOffset));
    } catch (error) {
      this.#groupCommit.close();
      for (const segment of segments) segment.discard();
      throw error;
    }
  }

  /** Opens (creating if needed) the log in `directory`, recovering it after a crash. */
  static open(directory: string, options: LogOptions = {}): Log {
    return new Log(directory, resolveLogConfig(options.config), options);
  }

  get logStartOffset(): number {
    return this.#logStartOffset;
  }

  get logEndOffset(): number {
    return this.#active.nextOffset;
  }

  /**
   * Offsets below this are committed (replicated to the ISR). The replication layer sets it;
   * the log keeps it within [logStartOffset, logEndOffset] and lowers it when truncating.
   */
  get highWatermark(): number {
    return this.#highWatermark;
  }

  set highWatermark(offset: number) {
    this.#highWatermark = this.#clampToLog(offset);
    this.#highWatermarkSet = true;
  }

  #clampToLog(offset: number): number {
    return Math.min(Math.max(offset, this.#logStartOffset), this.logEndOffset);
  }

  /**
   * Writes the high watermark to `high-watermark` when it moved since the last write (a broker
   * timer calls this; close does too). After a crash the log comes back with at most this much
   * committed, as Kafka's replication-offset-checkpoint.
   */
  checkpointHighWatermark(): void {
    // A timer may fire just as the log closes or goes offline: nothing more is written then.
    if (this.#stopped) return;
    if (this.#highWatermarkWritten !== undefined || this.#highWatermarkSet) this.#writeHighWatermark();
  }

  #writeHighWatermark(sync = true): void {
    const offset = this.#highWatermark;
    if (offset === this.#highWatermarkWritten) return;
    writeOffsetCheckpoint(this.directory, highWatermarkFile, offset, sync);
    this.#highWatermarkWritten = offset;
  }

  /** OffsetsForLeaderEpoch: Kafka's EndOffset(epoch) over this log's epochs (see LeaderEpochCache). */
  endOffsetForEpoch(epoch: number): { epoch: number; endOffset: number } {
    return this.leaderEpochs.endOffsetFor(epoch, this.logEndOffset);
  }

  /**
   * The checkpoint, cut to the log's range; rebuilt from the batches' partitionLeaderEpoch when
   * it is missing or does not parse (headers only: one int per batch).
   */
  #loadLeaderEpochs(): LeaderEpochCache {
    const { cache, state, problem } = LeaderEpochCache.load(this.directory);
    if (problem !== undefined) this.#onBackgroundError(problem);
    try {
      if (state !== 'loaded' && this.logEndOffset > this.#segments[0]!.baseOffset) {
        this.loadReport.leaderEpochsRebuilt = true;
        cache.reset(this.#epochsFromBatches());
      }
      cache.truncateFromEnd(this.logEndOffset);
      cache.truncateFromStart(this.#logStartOffset);
    } catch (error) {
      // The cache in memory is right; only its file is stale, and the next open derives it again.
      this.#onBackgroundError(error);
    }
    return cache;
  }

  #epochsFromBatches(): Array<{ epoch: number; startOffset: number }> {
    const entries: Array<{ epoch: number; startOffset: number }> = [];
    for (const segment of this.#segments) {
      const contents = segment.contents();
      for (const { position } of eachBatch(contents)) {
        const epoch = contents.readInt32BE(position + PARTITION_LEADER_EPOCH_OFFSET);
        const latest = entries.at(-1);
        if (epoch < 0 || (latest !== undefined && epoch <= latest.epoch)) continue;
        entries.push({ epoch, startOffset: readInt64(contents, position) });
      }
    }
    return entries;
  }

  /** Bytes of batches on disk, across all segments. */
  get size(): number {
    return this.#segments.reduce((total, segment) => total + segment.size, 0);
  }

  get segmentCount(): number {
    return this.#segments.length;
  }

  get segmentBaseOffsets(): number[] {
    return this.#segments.map((segment) => segment.baseOffset);
  }

  /** Every offset below this is synced to the device. */
  get syncedOffset(): number {
    return this.#groupCommit.syncedOffset;
  }

  /** The recovery point on disk: after a crash, segments ending at or below it are trusted unchecked. */
  get recoveryPoint(): number {
    return this.#recoveryPoint.offset;
  }

  /** A sync failed: the log refuses every operation until the broker restarts. */
  get offline(): boolean {
    return this.#failure !== undefined;
  }

  get #active(): Segment {
    return this.#segments[this.#segments.length - 1]!;
  }

  /**
   * Appends one or more whole RecordBatch v2 batches laid end to end in `batches`. Unless they
   * are `verified`, every batch is checked (length, magic, CRC) before any is written, so a bad
   * one appends nothing.
   */
  append(batches: Buffer, options: AppendOptions = {}): AppendResult {
    this.#checkOpen();
    const assignOffsets = options.assignOffsets ?? true;
    if (options.verified !== true) this.#checkBatches(batches, assignOffsets);
    const first = this.logEndOffset;
    const epochFromBatch = options.leaderEpoch === undefined && !assignOffsets;
    const stampedEpoch = options.leaderEpoch ?? -1;
    let count = 0;
    let records = 0;
    let lastOffset = first - 1;
    for (const { position, size } of eachBatch(batches)) {
      count += 1;
      const baseOffset = assignOffsets ? lastOffset + 1 : readInt64(batches, position);
      const lastOffsetOfBatch = baseOffset + batches.readInt32BE(position + LAST_OFFSET_DELTA_OFFSET);
      // Replicated batches may skip offsets (a compacted leader): a segment must start where its
      // first batch does, and roll before a batch's offset leaves its 32-bit relative range.
      if (this.#active.shouldRoll(size, batchMaxTimestamp(batches, position), lastOffsetOfBatch, this.#now())) this.#rollAt(baseOffset);
      else if (!assignOffsets && this.#active.isEmpty && this.#active.baseOffset !== baseOffset) this.#rebaseActive(baseOffset);
      const epoch = epochFromBatch ? batches.readInt32BE(position + PARTITION_LEADER_EPOCH_OFFSET) : stampedEpoch;
      // Before the batch is written: should the checkpoint fail, the batch is not appended.
      if (this.leaderEpochs.isNewer(epoch)) this.leaderEpochs.assign(epoch, baseOffset);
      lastOffset = this.#active.append(batches, position, size, baseOffset, options.leaderEpoch);
      records += batches.readInt32BE(position + RECORDS_COUNT_OFFSET);
      // One int read per batch for plain producers: only batches with a producer id have state.
      if (hasProducerId(batches, position)) this.#applyProducerBatch(batches, position, baseOffset, this.#active);
    }
    this.#groupCommit.onAppend(records);
    return { baseOffset: assignOffsets ? first : readInt64(batches, 0), lastOffset, batches: count, records };
  }

  /**
   * Takes an appended batch into the producer state; a marker that ended an aborted
   * transaction adds it to the segment's .txnindex. The batch is in the log already, so a
   * failed index write takes the log offline (the next start rebuilds the index).
   */
  #applyProducerBatch(buffer: Buffer, position: number, baseOffset: number, segment: Segment): void {
    const completed = this.#producers.apply(readProducerBatch(buffer, position, baseOffset), buffer, position, this.#now());
    if (completed === undefined || completed.committed) return;
    try {
      segment.txnIndex.append({
        producerId: completed.producerId, firstOffset: completed.firstOffset, lastOffset: completed.lastOffset, lastStableOffset: completed.lastStableOffset,
      });
    } catch (error) {
      this.#fail(error, 'writing the transaction index');
      throw this.#failure ?? error;
    }
  }

  /**
   * Replaces the producer state with the newest snapshot at or below `limit` (and at or past
   * the log start), or an empty one at the log start, and replays the batch headers from there
   * to the log end. Every .txnindex entry from that offset on is rebuilt by the replay.
   * Snapshots past the log end describe batches the log no longer has, and go.
   */
  #rebuildProducerState(limit: number): void {
    this.#producers.removeSnapshotsAbove(this.logEndOffset);
    const from = this.#producers.loadSnapshot(this.#logStartOffset, limit) ?? this.#logStartOffset;
    for (const segment of this.#segments) {
      // A segment ending exactly at `from` may be one a truncation sealed there, whose index
      // still lists markers past the cut.
      if (segment.nextOffset < from) continue;
      segment.txnIndex.truncateFrom(from);
      if (segment.nextOffset === from) continue;
      const contents = segment.contents();
      for (const { position } of eachBatch(contents)) {
        if (!hasProducerId(contents, position)) continue;
        const baseOffset = readInt64(contents, position);
        if (baseOffset + contents.readInt32BE(position + LAST_OFFSET_DELTA_OFFSET) < from) continue;
        this.#applyProducerBatch(contents, position, baseOffset, segment);
      }
    }
    this.#producers.logStartMoved(this.#logStartOffset);
  }

  /**
   * Checks a client's batch against its producer's state before it is appended (the produce
   * path; `records` is one validated batch). Returns the original batch's offsets when this is
   * a resend of one of the producer's last 5 batches: it must not be appended again. Throws the
   * error to answer for a sequence gap, a stale epoch, or a batch outside an open transaction.
   */
  checkProducerBatch(records: Buffer): BatchMetadata | undefined {
    if (!hasProducerId(records, 0)) return undefined;
    this.#checkOpen();
    return this.#producers.check(readProducerBatch(records, 0, this.logEndOffset));
  }

  /**
   * Appends a commit or abort marker (a control batch) for a producer, as the leader asked by
   * the transaction coordinator. Refused from an older producer or coordinator epoch. Ends the
   * producer's open transaction here, if it has one (the LSO moves on).
   */
  appendTxnMarker(marker: TxnMarker, leaderEpoch: number | undefined): AppendResult & { bytes: number } {
    this.#checkOpen();
    this.#producers.checkMarker(marker.producerId, marker.producerEpoch, marker.coordinatorEpoch);
    const batch = buildControlBatch({ ...marker, timestamp: this.#now() });
    return { ...this.append(batch, { leaderEpoch, verified: true }), bytes: batch.length };
  }

  /** First offset of the oldest open transaction; undefined when none is open. */
  get firstUnstableOffset(): number | undefined {
    return this.#producers.firstUnstableOffset;
  }

  /**
   * The last stable offset as this log knows it: its high watermark, or the first offset of the
   * oldest open transaction when that is lower. A leader's partition bounds it by its own high
   * watermark (Partition.lastStableOffset).
   */
  get lastStableOffset(): number {
    return this.stableBelow(this.#highWatermark);
  }

  /** `highWatermark`, lowered to the first offset of the oldest open transaction. */
  stableBelow(highWatermark: number): number {
    const first = this.#producers.firstUnstableOffset;
    return first === undefined || first >= highWatermark ? highWatermark : Math.max(first, this.#logStartOffset);
  }

  /** Producer ids this partition tracks (the sluice_producer_ids gauge). */
  get producerCount(): number {
    return this.#producers.size;
  }

  /** Producer ids forgotten to stay within max.producer.ids.per.partition since the log opened. */
  get producersEvicted(): number {
    return this.#producers.evicted;
  }

  /** The producer state, for tests and the admin views; callers must not change it. */
  get producerState(): ProducerStateManager {
    return this.#producers;
  }

  /**
   * The aborted transactions that overlap [fromOffset, toOffset): those whose ABORT marker is at
   * or past fromOffset and whose first offset is below toOffset, from the .txnindex of the
   * segments from the one holding fromOffset on (Kafka's collectAbortedTxns).
   */
  abortedTransactions(fromOffset: number, toOffset: number): AbortedTxn[] {
    this.#checkOpen();
    const found: AbortedTxn[] = [];
    for (let index = this.#segmentIndexFor(fromOffset); index < this.#segments.length; index += 1) {
      if (this.#segments[index]!.baseOffset >= toOffset) break;
      if (this.#segments[index]!.txnIndex.collect(fromOffset, toOffset, found)) break;
    }
    return found;
  }

  /** Forgets producers idle past producer.id.expiration.ms with no open transaction; returns how many. */
  expireProducers(): number {
    if (this.#stopped) return 0;
    return this.#producers.expire(this.#now(), this.config.producerIdExpirationMs);
  }

  #checkBatches(batches: Buffer, assignOffsets: boolean): void {
    if (batches.length === 0) throw new CorruptRecordError('an append must hold at least one batch', 'SLUICE_ERR_INVALID_RECORD');
    let expected = this.logEndOffset;
    for (const { position, size } of eachBatch(batches)) {
      checkMagicAndCrc(batches, position, size);
      if (assignOffsets && size > this.config.maxMessageBytes) {
        throw new SluiceError('SLUICE_ERR_MESSAGE_TOO_LARGE', `a batch of ${size} bytes exceeds max.message.bytes (${this.config.maxMessageBytes})`);
      }
      if (!assignOffsets) {
        const baseOffset = readInt64(batches, position);
        if (baseOffset < expected) {
          throw new CorruptRecordError(`replicated batch at offset ${baseOffset} does not continue the log (end ${expected})`, 'SLUICE_ERR_INVALID_RECORD');
        }
        expected = batchLastOffset(batches, position) + 1;
      }
    }
  }

  /**
   * Whole batches from the one holding `offset`, up to `maxBytes` (but always that first
   * batch), stopping before any batch reaching `maxOffset` (the high watermark, exclusive).
   * Reading at the log end returns nothing; outside [start, end] is OffsetOutOfRange.
   */
  read(offset: number, maxBytes: number, maxOffset = Infinity): ReadResult {
    this.#checkOpen();
    const end = this.logEndOffset;
    if (offset < this.#logStartOffset || offset > end) throw new OffsetOutOfRangeError(offset, this.#logStartOffset, end);
    const slices: Buffer[] = [];
    let bytes = 0;
    for (let index = this.#segmentIndexFor(offset); index < this.#segments.length && bytes < maxBytes; index += 1) {
      const segment = this.#segments[index]!;
      const position = slices.length === 0 ? segment.positionOf(offset) : 0;
      if (position < 0) continue;
      const slice = segment.read(position, maxBytes - bytes, maxOffset, slices.length === 0);
      if (slice.length === 0) break;
      slices.push(slice);
      bytes += slice.length;
      if (position + slice.length < segment.size) break;
    }
    return { slices, bytes };
  }

  /**
   * The highest record timestamp in the log and where it is: the last offset of the first batch
   * that carries it (Kafka's answer to ListOffsets' MAX_TIMESTAMP, per batch as its segments
   * track it); undefined for a log without records.
   */
  maxTimestamp(): { offset: number; timestamp: number } | undefined {
    this.#checkOpen();
    let found: { offset: number; timestamp: number } | undefined;
    for (const segment of this.#segments) {
      if (segment.nextOffset <= this.#logStartOffset || segment.maxTimestamp < 0) continue;
      if (found === undefined || segment.maxTimestamp > found.timestamp) found = { offset: segment.offsetOfMaxTimestamp, timestamp: segment.maxTimestamp };
    }
    return found;
  }

  /** The first record at or after `timestamp`; undefined when every record is older. */
  offsetForTimestamp(timestamp: number): { offset: number; timestamp: number } | undefined {
    this.#checkOpen();
    for (const segment of this.#segments) {
      if (segment.nextOffset <= this.#logStartOffset) continue;
      const found = segment.offsetForTimestamp(timestamp);
      if (found !== undefined) return found.offset < this.#logStartOffset ? { offset: this.#logStartOffset, timestamp: found.timestamp } : found;
    }
    return undefined;
  }

  /** Index of the segment holding `offset`: the last one whose base is ≤ offset. */
  #segmentIndexFor(offset: number): number {
    let low = 0;
    let high = this.#segments.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (this.#segments[middle]!.baseOffset <= offset) low = middle;
      else high = middle - 1;
    }
    return low;
  }

  /**
   * Seals the active segment and starts a new one at the log end (no-op when it is empty).
   * The new segment is created first: when that fails (EMFILE, ENOMEM, ENOSPC) the active
   * segment is left as it was and keeps taking appends, and the caller gets a storage error.
   */
  roll(): void {
    this.#checkOpen();
    this.#rollAt(this.#active.nextOffset);
  }

  /** Rolls to a new segment based at `nextBase` (the log end, or past it for a replicated gap). */
  #rollAt(nextBase: number): void {
    const sealed = this.#active;
    if (sealed.isEmpty) return;
    const next = this.#createSegment(nextBase);
    try {
      // Seal marks the segment sealed only as its last step, so a failed cut leaves it active.
      sealed.seal();
    } catch (error) {
      this.#discardCreated(next);
      throw storageError(`partition log ${this.directory} cannot seal segment ${sealed.baseOffset}`, error);
    }
    this.#segments.push(next);
    this.#syncInBackground(sealed);
    // The state of every batch below the new segment: a restart replays from here at most.
    this.#quietly(() => this.#producers.writeSnapshot(nextBase));
  }

  /**
   * Swaps the empty active segment for one based at `baseOffset`, where a replicated batch past
   * a gap begins. Should the old one's files not go, they stay an empty segment, which the
   * next start loads as such.
   */
  #rebaseActive(baseOffset: number): void {
    const empty = this.#active;
    const next = this.#createSegment(baseOffset);
    this.#segments[this.#segments.length - 1] = next;
    try {
      empty.delete(0);
    } catch (error) {
      empty.discard();
      this.#onBackgroundError(error);
    }
  }

  #createSegment(baseOffset: number): Segment {
    return storageStep(
      `partition log ${this.directory} cannot start a segment at offset ${baseOffset} (nothing was written; retry once descriptors, memory or disk space are free)`,
      () => {
        this.#hooks.beforeSegmentCreate?.(baseOffset);
        return Segment.create(this.directory, baseOffset, this.config);
      },
    );
  }

  /** Takes back a segment just created; if its files cannot go, they would shadow later offsets. */
  #discardCreated(segment: Segment): void {
    try {
      segment.delete(0);
    } catch (error) {
      segment.discard();
      this.#fail(error, `removing the unused segment ${segment.baseOffset}`);
    }
  }

  #syncSegment(segment: Segment): Promise<void> {
    const seam = this.#hooks.segmentSync;
    if (seam === undefined) return segment.flushAsync();
    return Promise.resolve().then(() => seam(segment.baseOffset, () => segment.flushAsync()));
  }

  /** Syncs a sealed segment in the background; the recovery point follows (recovery-point.ts). */
  #syncInBackground(sealed: Segment): void {
    const roll = this.#recoveryPoint.rolled(sealed.nextOffset);
    this.#syncSegment(sealed).then(
      () => this.#recoveryPoint.synced(roll),
      (error: unknown) => this.#fail(error, `syncing sealed segment ${sealed.baseOffset} to disk`),
    );
  }

  /** Syncs every appended record to the device (joining a sync already running). */
  flush(): Promise<void> {
    this.#checkOpen();
    return this.#groupCommit.flush();
  }

  /** Resolves once `offset` is durable, by whatever sync the flush policy starts. */
  waitForSync(offset: number): Promise<void> {
    return this.#groupCommit.waitFor(offset);
  }

  get syncsOnItsOwn(): boolean {
    return this.#groupCommit.syncsOnItsOwn;
  }

  #startSync(): { offset: number; done: Promise<void> } {
    const offset = this.logEndOffset;
    const synced = this.#groupCommit.syncedOffset;
    const pending = this.#segments.filter((segment) => segment.nextOffset > synced);
    return { offset, done: Promise.all(pending.map((segment) => this.#syncSegment(segment))).then(() => {}) };
  }

  /**
   * Removes every record at or past `offset` (a follower whose log diverged from the
   * leader's). Cutting inside a batch removes the whole batch; if that leaves nothing at or
   * past the log start, the log restarts empty at `offset`.
   *
   * Reads in flight keep their bytes: no byte a `read()` returned is changed or cut. The
   * segment holding the cut is sealed there (see Segment.sealAt) and appends go on in a new
   * segment at the cut; later segments are deleted with the read grace. A marker file makes the
   * cut all or nothing across a crash (see #replaceTail).
   */
  truncateTo(offset: number): void {
    this.#checkOpen();
    if (offset >= this.logEndOffset) return;
    this.#compaction.truncatedTo(offset);
    const index = offset <= this.#segments[0]!.baseOffset ? -1 : this.#segmentIndexFor(offset - 1);
    const target = this.#segments[index];
    // Cutting below the log start, or inside a batch that began below it, leaves nothing readable.
    if (target === undefined || offset < this.#logStartOffset || target.truncationPoint(offset) < this.#logStartOffset) {
      this.#replaceTail(offset, true);
      return;
    }
    const cut = target.truncationPoint(offset);
    this.#replaceTail(cut, cut <= this.#segments[0]!.baseOffset);
  }

  /**
   * Ends the log at `cut` (with `restart`, drops everything and starts it empty there): seals
   * the segment holding the cut at the cut, deletes every later one, and appends from then on
   * to a new segment at `cut`. A segment already named for `cut` is renamed aside first, so the
   * new one can take the name while reads of the old one go on.
   *
   * Order, for failures and crashes: the recovery point is lowered and the marker
   * `truncation-in-progress` is written first; then the new segment is created (and, for a
   * restart, the log start checkpointed). Any of these failing (EMFILE, ENOSPC) undoes the rest
   * and leaves the log as it was. Past that point only seals, unlinks and a directory sync
   * remain; a failure there takes the log offline. A crash before the marker is on disk comes
   * back with the old log; a crash after it, with exactly the records below the cut, because
   * opening a log with the marker finishes the cut (log-loader.ts). The marker goes last.
   */
  #replaceTail(cut: number, restart: boolean): void {
    const doomed = restart ? this.#segments : this.#segments.filter((segment) => segment.baseOffset >= cut);
    const kept = restart ? [] : this.#segments.filter((segment) => segment.baseOffset < cut);
    const clash = doomed.find((segment) => segment.baseOffset === cut);
    this.#recoveryPoint.lower(Math.min(cut, this.logEndOffset));
    writeTruncationMarker(this.directory, { offset: cut, restart });
    let fresh: Segment;
    try {
      if (clash !== undefined) Segment.setAside(this.directory, cut);
      try {
        fresh = this.#createSegment(cut);
      } catch (error) {
        if (clash !== undefined) Segment.setAside(this.directory, cut, true);
        throw error;
      }
      try {
        if (restart) this.#setLogStartOffset(cut);
      } catch (error) {
        this.#discardCreated(fresh);
        if (clash !== undefined) Segment.setAside(this.directory, cut, true);
        throw error;
      }
    } catch (error) {
      try {
        removeTruncationMarker(this.directory);
      } catch (markerError) {
        // Left in place, the marker would cut records appended from now on at the next start.
        this.#fail(markerError, 'removing the marker of a truncation that did not happen');
      }
      throw this.#failure ?? error;
    }
    this.#segments = [...kept, fresh];
    let failure: unknown;
    const step = (what: () => void) => {
      try {
        what();
      } catch (error) {
        failure ??= error;
      }
    };
    const sealed = kept.at(-1);
    if (sealed !== undefined) {
      step(() => sealed.sealAt(cut));
      // Lowering the recovery point dropped its pending sync, if it had one; it is synced as at a roll.
      if (failure === undefined) this.#syncInBackground(sealed);
    }
    for (const segment of doomed.slice().reverse()) {
      step(() => {
        if (segment === clash) Segment.deleteSetAside(this.directory, cut);
        else Segment.deleteFiles(this.directory, segment.baseOffset);
      });
      segment.retire(this.#readGraceMs);
    }
    this.#groupCommit.truncatedTo(cut, restart ? 0 : cut);
    if (this.#highWatermark > cut || restart) this.#highWatermark = cut;
    // A high watermark on disk past the cut would, after a crash, vouch for the records written there next.
    if (this.#highWatermarkWritten !== undefined && this.#highWatermarkWritten > this.#highWatermark) this.#quietly(() => this.#writeHighWatermark());
    this.#quietly(() => (restart ? this.leaderEpochs.reset([]) : this.leaderEpochs.truncateFromEnd(cut)));
    if (failure === undefined) step(() => removeTruncationMarker(this.directory));
    // The marker stays: the next start finishes this cut, and no append may happen before it.
    if (failure !== undefined) {
      this.#fail(failure, 'finishing a truncation');
      throw this.#failure ?? failure;
    }
    // Producer state of the batches that are left: from the newest snapshot below the cut.
    try {
      this.#rebuildProducerState(cut);
    } catch (error) {
      this.#fail(error, 'rebuilding the producer state after a truncation');
      throw this.#failure ?? error;
    }
  }

  /** What follows the log start up: the high watermark and the first epoch's start. */
  #afterStartMoved(): void {
    const start = this.#logStartOffset;
    if (this.#highWatermark < start) this.#highWatermark = start;
    this.#quietly(() => this.leaderEpochs.truncateFromStart(start));
    this.#quietly(() => this.#producers.logStartMoved(start));
  }

  /** For checkpoint writes that only follow memory: the next open repairs the file. */
  #quietly(step: () => void): void {
    try {
      step();
    } catch (error) {
      this.#onBackgroundError(error);
    }
  }

  /**
   * Drops every record and starts the log empty at `offset`, which may lie past the log end
   * (a follower whose leader's log now starts beyond it, REPLICATION-FACTS.md §G).
   */
  truncateFullyAndStartAt(offset: number): void {
    this.#checkOpen();
    this.#compaction.truncatedTo(offset);
    this.#replaceTail(offset, true);
  }

  /**
   * Makes `offset` the first readable offset (DeleteRecords): reads below it fail, and
   * segments wholly below it are deleted.
   */
  deleteRecordsBefore(offset: number): void {
    this.#checkOpen();
    const end = this.logEndOffset;
    if (offset < this.#logStartOffset || offset > end) throw new OffsetOutOfRangeError(offset, this.#logStartOffset, end);
    if (offset === end) this.roll();
    this.#setLogStartOffset(offset);
    this.#deleteOldestWhile((segment) => segment.nextOffset <= offset);
  }

  /**
   * A follower's log start follows the leader's (REPLICATION-FACTS.md §G: max of both): moves
   * it up to `offset`, or to the log end when `offset` lies beyond (the fetch that follows then
   * finds itself out of range and restarts the log). Never moves it down.
   */
  advanceLogStartOffset(offset: number): void {
    this.#checkOpen();
    if (offset <= this.#logStartOffset) return;
    this.deleteRecordsBefore(Math.min(offset, this.logEndOffset));
  }

  /**
   * Deletes sealed segments past `retention.ms` (by their newest record) or beyond
   * `retention.bytes` (oldest first). The active segment is never deleted.
   */
  applyRetention(): number {
    this.#checkOpen();
    const now = this.#now();
    let deleted = 0;
    if (!this.config.cleanupPolicy.includes('delete')) return 0;
    if (this.config.retentionMs >= 0) {
      deleted += this.#deleteOldestWhile((segment) => now - this.#newestTimestamp(segment) > this.config.retentionMs);
    }
    if (this.config.retentionBytes >= 0) {
      let size = this.size;
      deleted += this.#deleteOldestWhile((segment) => {
        if (size - segment.size < this.config.retentionBytes) return false;
        size -= segment.size;
        return true;
      });
    }
    return deleted;
  }

  /**
   * One compaction pass (cleanup.policy=compact) when there is enough to do: keeps the last
   * record per key in sealed segments and drops tombstones older than delete.retention.ms.
   * `cleaner` does the work off this thread (log-compaction.ts, log-cleaner.ts). Offsets and the
   * log's ends do not move.
   */
  compact(cleaner: LogCleaner): Promise<CompactionOutcome> {
    this.#checkOpen();
    if (!this.config.cleanupPolicy.includes('compact')) return Promise.resolve({ segmentsCleaned: 0, recordsRemoved: 0, bytesRead: 0 });
    return this.#compaction.run(this.#compacting, cleaner);
  }

  /**
   * Puts a segment's cleaned files in its place. They are opened before the old ones are let
   * go: should the open fail, the old segment (its unlinked files still mapped) keeps serving
   * until the next start.
   */
  #swapInCleaned(old: Segment): boolean {
    const index = this.#segments.indexOf(old);
    if (index < 0 || old.active) return false;
    swapInCleaned(this.directory, old.baseOffset);
    this.#segments[index] = Segment.open(this.directory, old.baseOffset, this.config, { active: false, recover: false });
    old.retire(this.#readGraceMs);
    return true;
  }

  /** A segment's newest record time, or its file's modification time when it has none. */
  #newestTimestamp(segment: Segment): number {
    if (segment.maxTimestamp >= 0) return segment.maxTimestamp;
    return fs.statSync(path.join(this.directory, segmentFileName(segment.baseOffset, '.log'))).mtimeMs;
  }

  /**
   * Deletes the oldest segments while `predicate` holds. A segment whose files cannot be
   * unlinked stays whole and first in line, so the next pass tries it again.
   */
  #deleteOldestWhile(predicate: (segment: Segment) => boolean): number {
    let deleted = 0;
    try {
      while (this.#segments.length > 1 && predicate(this.#segments[0]!)) {
        this.#segments[0]!.delete(this.#readGraceMs);
        this.#segments.shift();
        deleted += 1;
      }
    } finally {
      const first = this.#segments[0]!.baseOffset;
      if (first > this.#logStartOffset) {
        // Memory first: should the checkpoint fail, a restart derives this start from the first segment anyway.
        this.#logStartOffset = first;
        this.#afterStartMoved();
        writeOffsetCheckpoint(this.directory, logStartOffsetFile, first);
      }
    }
    return deleted;
  }

  /** Checkpoint first: if it cannot be written, the start has not moved. */
  #setLogStartOffset(offset: number): void {
    if (offset === this.#logStartOffset) return;
    writeOffsetCheckpoint(this.directory, logStartOffsetFile, offset);
    this.#logStartOffset = offset;
    this.#afterStartMoved();
  }

  /**
   * Clean stop: syncs everything, cuts preallocated tails, and leaves the marker that lets
   * the next open skip recovery. Slices handed out earlier stay readable. With a `stop`, nothing
   * is synced here: the stop syncs the filesystem once for every log and then writes the marker.
   */
  close(stop?: CleanStop): void {
    if (this.#closed) return;
    this.#compaction.cancel(true);
    let failure: unknown;
    if (this.#failure === undefined && stop === undefined) {
      try {
        for (const segment of this.#segments) segment.flush();
        this.#groupCommit.synced(this.logEndOffset);
      } catch (error) {
        this.#fail(error, 'syncing the log on close');
        failure = this.#failure;
      }
    }
    // A clean start then loads this and replays nothing (a log without records has nothing to replay).
    if (this.#failure === undefined && this.logEndOffset > this.#logStartOffset) this.#quietly(() => this.#producers.writeSnapshot(this.logEndOffset));
    this.#closed = true;
    this.#groupCommit.close();
    // An offline log is only let go: no seal, no recovery point, no marker, so the next start recovers it.
    const healthy = this.#failure === undefined;
    for (const segment of this.#segments) {
      if (!healthy) {
        segment.discard();
        continue;
      }
      try {
        segment.close();
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
    if (!healthy) return;
    const sync = stop === undefined;
    if (this.#highWatermarkWritten !== undefined || this.#highWatermarkSet) this.#writeHighWatermark(sync);
    this.#recoveryPoint.closedAt(this.logEndOffset, sync);
    // The directory is not synced for the marker (that cost a stop of ten thousand partitions
    // minutes on a busy disk): a marker lost to a power cut only makes the next start recover
    // this log, and one that survived it was created after everything above (journals commit
    // metadata in order), so it never vouches for what did not reach the disk.
    if (stop === undefined) writeCleanShutdownMarker(this.directory);
    else stop.afterSync(() => writeCleanShutdownMarker(this.directory));
  }

  /**
   * Closes without syncing and removes the partition's directory. Every segment's descriptors
   * are closed and its disk blocks freed now (see Segment.delete), even when some step fails.
   */
  delete(): void {
    this.#compaction.cancel(false);
    if (!this.#closed) {
      this.#closed = true;
      this.#groupCommit.close();
    }
    let failure: unknown;
    for (const segment of this.#segments) {
      try {
        segment.delete(this.#readGraceMs);
      } catch (error) {
        failure ??= error;
        segment.discard();
      }
    }
    try {
      fs.rmSync(this.directory, { recursive: true, force: true });
    } catch (error) {
      failure ??= storageError(`cannot remove ${this.directory}`, error);
    }
    if (failure !== undefined) throw failure;
  }

  get #stopped(): boolean {
    return this.#closed || this.#failure !== undefined;
  }

  /**
   * Takes the log offline after a failed sync or a half-done change on disk. A sync that failed
   * cannot be retried ("fsyncgate": the kernel may have dropped the pages it could not write
   * and cleared the error), so nothing more is appended, read or synced, the recovery point
   * stays where it is, and the next start recovers the log from what is really on disk.
   */
  #fail(cause: unknown, what: string): void {
    if (this.#failure !== undefined || this.#closed) return;
    this.#failure = new SluiceError('SLUICE_ERR_STORAGE',
      `partition log ${this.directory} is offline: ${what} failed (${errnoOf(cause)}); records not yet synced may be lost, so it takes no more appends, reads or syncs; restart the broker to recover it from disk`,
      { cause });
    this.#groupCommit.fail(this.#failure);
    this.#onBackgroundError(this.#failure);
  }

  #checkOpen(): void {
    if (this.#closed) throw new SluiceError('SLUICE_ERR_LOG_CLOSED', `log ${this.directory} is closed`);
    if (this.#failure !== undefined) throw this.#failure;
  }
}
