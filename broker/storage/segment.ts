/**
 * One segment of a partition log: `<base>.log` with its `.index` and `.timeindex`.
 *
 * The `.log` file is RecordBatch v2 batches back to back, exactly as producers sent them
 * except for baseOffset and partitionLeaderEpoch (outside the CRC). The active segment is
 * mapped with room for `segment.bytes`, extended and prefaulted ahead of the writer, and
 * appends copy into the mapping: no syscall per append. Reads hand out subarrays of the
 * mapping; they stay valid after the segment is sealed, truncated or deleted because the
 * mapping lives until the last of them is collected (see mapped-file.ts), and no byte once
 * written changes while the segment is open (truncation seals at the cut: `sealAt`).
 * A sealed segment's files are mapped only while the broker's segment cache keeps it
 * (segment-cache.ts): on first use, until it is the least recently used one past the cache's
 * size; a slice handed out keeps its mapping alive all the same.
 * Deleting a segment closes its descriptors at once and gives its disk blocks back as soon as
 * no read of it can still be on its way to a client (see `delete`).
 *
 * Single writer: all mutation happens on the broker's one JavaScript thread.
 * Crash behaviour: bytes copied into the mapping survive a process crash (page cache); after
 * an unclean stop `recover()` re-checks every batch past the last index entry and cuts the
 * log at the first that fails.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SluiceError } from '../../proto/errors.js';
import { LAST_OFFSET_DELTA_OFFSET } from '../../proto/record-batch/layout.js';
import { batchSizeAt, eachBatch } from '../../proto/record-batch/batch-iterator.js';
import {
  batchLastOffset, batchMaxTimestamp, checkBatch, decodeRecords, readInt64, setBaseOffset, setPartitionLeaderEpoch,
} from '../../proto/record-batch/record-batch.js';
import type { LogConfig } from './log-config.js';
import { MappedFile } from './mapped-file.js';
import { segmentCache } from './segment-cache.js';
import { storageError, storageStep } from './storage-error.js';
import { OffsetIndex } from './offset-index.js';
import { TimeIndex } from './time-index.js';
import { TxnIndex } from './txn-index.js';

/** How far ahead of the writer a log file is extended and prefaulted. */
const logGrowChunkBytes = 16 * 1024 * 1024;
/** How many stale offset-index entries recovery walks back over before rebuilding the index. */
const recoveryIndexBacktrackMax = 16;

/** Files of a segment that a truncation replaced; removed at the next start if still there. */
export const setAsideSuffix = '.deleted';

export function segmentFileName(baseOffset: number, suffix: '.log' | '.index' | '.timeindex' | '.txnindex'): string {
  return `${String(baseOffset).padStart(20, '0')}${suffix}`;
}

/** A segment's files; the .txnindex exists only once a transaction was aborted in it. */
const segmentSuffixes = ['.log', '.index', '.timeindex', '.txnindex'] as const;

export interface SegmentOpenOptions {
  /** The segment takes appends: map it with room for `segment.bytes`. */
  active: boolean;
  /** The log was not closed cleanly: check batches past the last index entry. */
  recover: boolean;
}

export interface RecoveryResult {
  validBytes: number;
  truncatedBytes: number;
  indexRebuilt: boolean;
}

export class Segment {
  readonly baseOffset: number;
  readonly directory: string;
  readonly offsetIndex: OffsetIndex;
  readonly timeIndex: TimeIndex;
  #config: LogConfig;
  /** Undefined while a sealed segment is cold (the segment cache unmapped it); see `#file`. */
  #log: MappedFile | undefined;
  readonly #logPath: string;
  /** Files the cache let go whose mappings slices may still hold: a deletion frees their blocks. */
  #dropped: MappedFile[] = [];
  /** Changes to the files (seal, recovery, truncation), and how many of them a finished sync covers. */
  #changes = 0;
  #syncedChanges = 0;
  #syncing: Promise<void> | undefined;
  #size = 0;
  #nextOffset: number;
  #bytesSinceIndexEntry = 0;
  #maxTimestamp = -1;
  #offsetOfMaxTimestamp: number;
  #active: boolean;
  #openedAtMs = Date.now();
  #lastReadMs = -Infinity;
  #recovery: RecoveryResult | undefined;
  #txnIndex: TxnIndex | undefined;

  private constructor(directory: string, baseOffset: number, config: LogConfig, active: boolean, writable: boolean, indexesExisted: boolean) {
    this.directory = directory;
    this.baseOffset = baseOffset;
    this.#config = config;
    this.#active = active;
    this.#nextOffset = baseOffset;
    this.#offsetOfMaxTimestamp = baseOffset;
    const file = (suffix: '.log' | '.index' | '.timeindex') => path.join(directory, segmentFileName(baseOffset, suffix));
    this.#logPath = file('.log');
    // Out of descriptors or memory half-way: close what was opened, so nothing leaks.
    const opened: Array<{ close(): void }> = [];
    try {
      this.#log = MappedFile.open(file('.log'), {
        capacity: active ? config.segmentBytes : 0,
        growChunkBytes: logGrowChunkBytes,
        writable,
        sequential: true,
      });
      opened.push(this.#log);
      this.offsetIndex = new OffsetIndex(file('.index'), baseOffset, config.segmentIndexBytes);
      opened.push(this.offsetIndex);
      this.timeIndex = new TimeIndex(file('.timeindex'), baseOffset, config.segmentIndexBytes);
    } catch (error) {
      for (const resource of opened) resource.close();
      throw error;
    }
    if (!indexesExisted) {
      this.offsetIndex.truncateEntries(0);
      this.timeIndex.truncateEntries(0);
    }
  }

  /**
   * A new, empty active segment; stale files of the same name are replaced. When it cannot be
   * created (EMFILE, ENOMEM, ENOSPC) nothing is left open and no file of it is left behind.
   */
  static create(directory: string, baseOffset: number, config: LogConfig): Segment {
    Segment.deleteFiles(directory, baseOffset);
    try {
      return new Segment(directory, baseOffset, config, true, true, true);
    } catch (error) {
      Segment.deleteFiles(directory, baseOffset);
      throw error;
    }
  }

  /** Opens a segment written earlier and finds its end; recovers it when asked to. */
  static open(directory: string, baseOffset: number, config: LogConfig, options: SegmentOpenOptions): Segment {
    const exists = (suffix: '.index' | '.timeindex') => fs.existsSync(path.join(directory, segmentFileName(baseOffset, suffix)));
    const indexesExisted = exists('.index') && exists('.timeindex');
    // Recovery may cut the file, so a sealed segment being recovered is opened writable too.
    const writable = options.active || options.recover || !indexesExisted;
    const segment = new Segment(directory, baseOffset, config, options.active, writable, indexesExisted);
    try {
      const rebuild = !indexesExisted || segment.offsetIndex.damaged || segment.timeIndex.damaged;
      if (options.recover || rebuild || !segment.#loadClean()) segment.#recovery = segment.recover(rebuild);
      // A time index that disagrees with the log would answer time lookups and retention wrongly.
      if (!segment.#timeIndexMatchesLog()) segment.#recovery = { ...segment.recover(true), indexRebuilt: true };
    } catch (error) {
      segment.discard();
      throw error;
    }
    if (!options.active) segmentCache.admit(segment);
    return segment;
  }

  /** Removes a segment's files without opening them. */
  static deleteFiles(directory: string, baseOffset: number): void {
    for (const suffix of segmentSuffixes) {
      const file = path.join(directory, segmentFileName(baseOffset, suffix));
      storageStep(`cannot remove ${file}`, () => fs.rmSync(file, { force: true }));
    }
  }

  /**
   * Renames a segment's files to `<name>.deleted` (or, with `back`, back again), so a new
   * segment can take their names while this one's descriptors and mapping live on. All or
   * nothing: a failed rename undoes the ones before it.
   */
  static setAside(directory: string, baseOffset: number, back = false): void {
    const done: Array<[string, string]> = [];
    for (const suffix of segmentSuffixes) {
      const name = path.join(directory, segmentFileName(baseOffset, suffix));
      const [from, to] = back ? [name + setAsideSuffix, name] : [name, name + setAsideSuffix];
      try {
        fs.renameSync(from, to);
        done.push([from, to]);
      } catch (cause) {
        if ((cause as NodeJS.ErrnoException).code === 'ENOENT') continue;
        for (const [undoTo, undoFrom] of done.reverse()) quietly(() => fs.renameSync(undoFrom, undoTo));
        throw storageError(`cannot rename ${from} to ${to}`, cause);
      }
    }
  }

  /** Removes the files `setAside` renamed. */
  static deleteSetAside(directory: string, baseOffset: number): void {
    for (const suffix of segmentSuffixes) {
      const file = path.join(directory, segmentFileName(baseOffset, suffix)) + setAsideSuffix;
      storageStep(`cannot remove ${file}`, () => fs.rmSync(file, { force: true }));
    }
  }

  /** Its aborted transactions (.txnindex), read from the file when first asked for. */
  get txnIndex(): TxnIndex {
    this.#txnIndex ??= new TxnIndex(path.join(this.directory, segmentFileName(this.baseOffset, '.txnindex')));
    return this.#txnIndex;
  }

  /** What recovery did when this segment was opened, if it had to run. */
  get recovery(): RecoveryResult | undefined {
    return this.#recovery;
  }

  get size(): number {
    return this.#size;
  }

  get nextOffset(): number {
    return this.#nextOffset;
  }

  get isEmpty(): boolean {
    return this.#size === 0;
  }

  get active(): boolean {
    return this.#active;
  }

  /** Largest record timestamp in the segment, -1 when it has none. */
  get maxTimestamp(): number {
    return this.#maxTimestamp;
  }

  /** The last offset of the first batch carrying maxTimestamp. */
  get offsetOfMaxTimestamp(): number {
    return this.#offsetOfMaxTimestamp;
  }

  /** maxTimestamp of the first batch: the clock `segment.ms` is measured from. */
  get firstBatchTimestamp(): number {
    return this.#size === 0 ? -1 : batchMaxTimestamp(this.#file().buffer, 0);
  }

  /** Whether a batch of `batchSize` bytes ending at `lastOffset` must go to a new segment. */
  shouldRoll(batchSize: number, batchMaxTimestampMs: number, lastOffset: number, nowMs: number): boolean {
    if (this.#size === 0) return false;
    const first = this.firstBatchTimestamp;
    const clock = first >= 0 && batchMaxTimestampMs >= 0 ? batchMaxTimestampMs - first : nowMs - this.#openedAtMs;
    return this.#size > this.#config.segmentBytes - batchSize
      || clock > this.#config.segmentMs
      || this.offsetIndex.isFull
      || this.timeIndex.isFull
      || lastOffset - this.baseOffset > 0xffffffff;
  }

  /**
   * Copies one already-checked batch into the mapping at the end of the segment and gives it
   * `baseOffset` (and the leader epoch, when set). Returns the batch's last offset.
   */
  append(source: Buffer, start: number, size: number, baseOffset: number, leaderEpoch: number | undefined): number {
    if (!this.#active) throw new SluiceError('SLUICE_ERR_LOG_CLOSED', `segment ${this.baseOffset} is sealed`);
    const position = this.#size;
    // The active segment is never cold: its file is always mapped.
    if (position + size > this.#log!.capacity) this.#growCapacity(position + size);
    const log = this.#log!;
    log.ensureWritable(position + size);
    const mapping = log.buffer;
    source.copy(mapping, position, start, start + size);
    setBaseOffset(mapping, position, baseOffset);
    if (leaderEpoch !== undefined) setPartitionLeaderEpoch(mapping, position, leaderEpoch);
    const lastOffset = baseOffset + mapping.readInt32BE(position + LAST_OFFSET_DELTA_OFFSET);
    this.#afterBatch(mapping, position, size, lastOffset, true);
    return lastOffset;
  }

  /** Index bookkeeping for a batch now at `position`: Kafka's rule, one entry per interval. */
  #afterBatch(mapping: Buffer, position: number, size: number, lastOffset: number, indexable: boolean): void {
    const timestamp = batchMaxTimestamp(mapping, position);
    if (timestamp > this.#maxTimestamp) {
      this.#maxTimestamp = timestamp;
      this.#offsetOfMaxTimestamp = lastOffset;
    }
    if (indexable && this.#bytesSinceIndexEntry > this.#config.indexIntervalBytes) {
      this.offsetIndex.append(lastOffset, position);
      this.timeIndex.maybeAppend(this.#maxTimestamp, this.#offsetOfMaxTimestamp);
      this.#bytesSinceIndexEntry = 0;
      // Rescans of sealed segments add entries too; a cold segment must have had them synced.
      this.#changes += 1;
    }
    this.#bytesSinceIndexEntry += size;
    this.#size = position + size;
    this.#nextOffset = lastOffset + 1;
  }

  /** A batch bigger than the room left in an empty segment: remap with room for it. */
  #growCapacity(needed: number): void {
    this.#reopenLog(true, needed);
  }

  /** Maps the log file anew; the old mapping lives on in any slice taken from it. */
  #reopenLog(writable: boolean, capacity = 0): void {
    const old = this.#log;
    this.#log = MappedFile.open(this.#logPath, { capacity, growChunkBytes: logGrowChunkBytes, writable, sequential: true });
    old?.close();
  }

  /**
   * The log file's mapping. A sealed segment counts each use in the segment cache, and maps
   * its file (read-only) when the cache had unmapped it; the active segment skips all that.
   */
  #file(): MappedFile {
    const log = this.#log;
    if (this.#active) return log!;
    if (log !== undefined) {
      segmentCache.hit(this);
      return log;
    }
    const mapped = MappedFile.open(this.#logPath, { capacity: 0, growChunkBytes: logGrowChunkBytes, writable: false, sequential: true });
    this.#log = mapped;
    segmentCache.mapped(this);
    return mapped;
  }

  /**
   * The segment cache found this sealed segment the least recently used: it lets go of its
   * mappings, which the next use maps again. A slice a read handed out keeps its mapping alive
   * (and valid) until the slice is collected; nothing is unmapped under it. A segment with
   * unsynced changes (a roll's sync still running, a recovery) stays mapped until a sync has
   * covered them, so a cold segment never needs one; returns false then.
   */
  unmapCold(): boolean {
    if (this.#active || this.#log === undefined) return true;
    if (this.#changes !== this.#syncedChanges) {
      // A failure here is not lost: the log's own syncs of this segment report it (and take the log offline).
      this.#syncing ??= this.flushAsync().catch(() => {}).finally(() => {
        this.#syncing = undefined;
      });
      return false;
    }
    this.#dropped = this.#dropped.filter((file) => file.holdsMapping);
    for (const file of [this.#log, this.offsetIndex.unmap(), this.timeIndex.unmap()]) {
      if (file === undefined) continue;
      file.drop();
      if (file.holdsMapping) this.#dropped.push(file);
    }
    this.#log = undefined;
    return true;
  }

  /** Every batch of the segment, as one view of the mapping. */
  contents(): Buffer {
    return this.#file().buffer.subarray(0, this.#size);
  }

  /** Byte position of the batch holding `offset`, or -1 when the segment ends before it. */
  positionOf(offset: number): number {
    const mapping = this.#file().buffer;
    const from = offset <= this.baseOffset ? 0 : this.offsetIndex.lookup(offset).position;
    for (const { position } of eachBatch(mapping, from, this.#size)) {
      if (batchLastOffset(mapping, position) >= offset) return position;
    }
    return -1;
  }

  /**
   * Whole batches from `position`: as many as fit in `maxBytes`, but always the first one
   * (unless `firstAlways` is false), so a batch larger than the limit still makes progress. `maxOffset` (exclusive) stops at the high
   * watermark. A zero-copy view of the mapping.
   */
  read(position: number, maxBytes: number, maxOffset = Infinity, firstAlways = true): Buffer {
    this.#lastReadMs = Date.now();
    const mapping = this.#file().buffer;
    let end = position;
    for (const batch of eachBatch(mapping, position, this.#size)) {
      if (batchLastOffset(mapping, batch.position) >= maxOffset) break;
      if ((batch.position > position || !firstAlways) && batch.position + batch.size - position > maxBytes) break;
      end = batch.position + batch.size;
    }
    return mapping.subarray(position, end);
  }

  /** First record at or after `timestamp`, or undefined when every record is older. */
  offsetForTimestamp(timestamp: number): { offset: number; timestamp: number } | undefined {
    if (this.#maxTimestamp < timestamp) return undefined;
    const mapping = this.#file().buffer;
    const floor = this.timeIndex.lookup(timestamp);
    const from = this.positionOf(floor.offset);
    if (from < 0) return undefined;
    for (const { position, size } of eachBatch(mapping, from, this.#size)) {
      if (batchMaxTimestamp(mapping, position) < timestamp) continue;
      for (const record of decodeRecords(mapping.subarray(position, position + size))) {
        if (record.timestamp >= timestamp) return { offset: record.offset, timestamp: record.timestamp };
      }
    }
    return undefined;
  }

  /** The segment's next offset once truncated to `offset` (see truncateTo). */
  truncationPoint(offset: number): number {
    const position = this.positionOf(offset);
    if (position < 0) return this.#nextOffset;
    return position === 0 ? this.baseOffset : readInt64(this.#file().buffer, position);
  }

  /**
   * Truncation for a log with reads in flight: the segment ends at the batch holding `offset`
   * and is sealed there, but no byte of it changes, so every slice handed out earlier keeps its
   * bytes (the log appends past the cut in a new segment). The bytes past the cut stay in the
   * file, never read again, until `cutTail` removes them when the log next opens. Only the
   * indexes, which no reader holds, are cut.
   */
  sealAt(offset: number): void {
    const writtenEnd = this.#size;
    const position = this.positionOf(offset);
    if (position >= 0) {
      const newNextOffset = position === 0 ? this.baseOffset : readInt64(this.#file().buffer, position);
      this.offsetIndex.truncateTo(newNextOffset);
      this.timeIndex.truncateTo(newNextOffset);
      this.#size = position;
      this.#rescanFromIndex(false);
      // A compacted segment may have a gap before the cut batch; its base offset is the new end.
      this.#nextOffset = newNextOffset;
    }
    this.timeIndex.maybeAppend(this.#maxTimestamp, this.#offsetOfMaxTimestamp, true);
    this.offsetIndex.trim();
    this.timeIndex.trim();
    // Only the room preallocated past the last write goes: slices may reach up to writtenEnd.
    if (this.#active) this.#log!.trim(writtenEnd);
    this.#sealed();
  }

  /**
   * Cuts off, for good, every batch holding an offset ≥ `offset`: bytes and file. Only for a
   * segment just opened (nobody holds a slice of it), to drop the tail `sealAt` left or what a
   * truncation interrupted by a crash had set out to remove.
   */
  cutTail(offset: number): number {
    const position = this.positionOf(offset);
    if (position < 0) return 0;
    const newNextOffset = position === 0 ? this.baseOffset : readInt64(this.#file().buffer, position);
    const cut = this.#file().fileSize - position;
    this.offsetIndex.truncateTo(newNextOffset);
    this.timeIndex.truncateTo(newNextOffset);
    this.#size = position;
    this.#rescanFromIndex(false);
    this.#nextOffset = newNextOffset;
    if (!this.#file().writable) this.#reopenLog(true);
    this.#file().trim(position);
    this.#changes += 1;
    if (!this.#active) {
      this.timeIndex.maybeAppend(this.#maxTimestamp, this.#offsetOfMaxTimestamp, true);
      this.offsetIndex.trim();
      this.timeIndex.trim();
    }
    return cut;
  }

  /**
   * Every time-index entry lies inside the log, and the last one names the batch it came from
   * (that batch ends at the entry's offset and its largest timestamp is the entry's).
   */
  #timeIndexMatchesLog(): boolean {
    const last = this.timeIndex.lastEntry;
    if (last === undefined) return true;
    // Sealing a segment without timestamps (an empty one, say) writes the one entry (-1, base).
    if (last.timestamp === -1) return this.#maxTimestamp === -1 && this.timeIndex.entries === 1 && last.offset === this.baseOffset;
    if (last.offset >= this.#nextOffset) return false;
    const position = this.positionOf(last.offset);
    if (position < 0) return false;
    const mapping = this.#file().buffer;
    try {
      return batchLastOffset(mapping, position) === last.offset
        && batchMaxTimestamp(mapping, position) === last.timestamp;
    } catch (error) {
      if (SluiceError.is(error)) return false;
      throw error;
    }
  }

  /** Trusts a cleanly closed segment's size; walks batch headers past the last index entry. */
  #loadClean(): boolean {
    const last = this.offsetIndex.lastEntry;
    const fileSize = this.#file().fileSize;
    if (last !== undefined && (last.position >= fileSize || last.offset < this.baseOffset)) return false;
    this.#size = fileSize;
    return this.#rescanFromIndex(false) === fileSize;
  }

  /**
   * Recovery: trusts the index up to its last entry that still points at a valid batch with
   * that offset, then checks every later batch's length, magic and CRC. The log ends at the
   * first failure; bytes past it are cut and index entries past it dropped.
   */
  recover(rebuildIndex = false): RecoveryResult {
    const mapping = this.#file().buffer;
    const fileSize = this.#file().fileSize;
    this.#changes += 1;
    let indexRebuilt = rebuildIndex;
    let tries = 0;
    for (let last = this.offsetIndex.lastEntry; last !== undefined && !rebuildIndex; last = this.offsetIndex.lastEntry) {
      if (isBatchWithLastOffset(mapping, last.position, fileSize, last.offset)) break;
      tries += 1;
      if (tries > recoveryIndexBacktrackMax) rebuildIndex = true;
      else this.offsetIndex.truncateEntries(this.offsetIndex.entries - 1);
      indexRebuilt = true;
    }
    if (rebuildIndex) this.offsetIndex.truncateEntries(0);
    const trusted = this.offsetIndex.lastEntry;
    this.timeIndex.truncateTo(trusted === undefined ? this.baseOffset : trusted.offset + 1);
    this.#size = fileSize;
    const validBytes = this.#rescanFromIndex(true);
    this.#size = validBytes;
    // Nobody holds a slice of a segment being opened, so cutting the file is safe here.
    if (validBytes < fileSize) {
      if (!this.#file().writable) this.#reopenLog(true);
      this.#file().trim(validBytes);
    }
    return { validBytes, truncatedBytes: fileSize - validBytes, indexRebuilt };
  }

  /**
   * Walks batches from the last index entry to `#size`, redoing the append bookkeeping
   * (offsets, max timestamp, index entries). With `check`, each batch must pass the CRC and
   * carry an offset beyond the previous one. Returns the byte position where the walk stopped.
   */
  #rescanFromIndex(check: boolean): number {
    const mapping = this.#file().buffer;
    const last = this.offsetIndex.lastEntry;
    const timeEntry = this.timeIndex.lastEntry;
    this.#maxTimestamp = timeEntry?.timestamp ?? -1;
    this.#offsetOfMaxTimestamp = timeEntry?.offset ?? this.baseOffset;
    this.#nextOffset = this.baseOffset;
    this.#bytesSinceIndexEntry = 0;
    const end = this.#size;
    let position = last?.position ?? 0;
    this.#size = position;
    let first = last !== undefined;
    while (position < end) {
      let size: number;
      try {
        size = check ? checkBatch(mapping, position, end) : batchSizeAt(mapping, position, end);
      } catch (error) {
        if (SluiceError.is(error)) break;
        throw error;
      }
      const baseOffset = readInt64(mapping, position);
      if (baseOffset < this.#nextOffset) break;
      const lastOffset = baseOffset + mapping.readInt32BE(position + LAST_OFFSET_DELTA_OFFSET);
      this.#afterBatch(mapping, position, size, lastOffset, !first);
      first = false;
      position += size;
    }
    return this.#size;
  }

  /** Seals the segment: final time-index entry, files cut to their real size. */
  seal(): void {
    if (!this.#active) return;
    this.timeIndex.maybeAppend(this.#maxTimestamp, this.#offsetOfMaxTimestamp, true);
    this.offsetIndex.trim();
    this.timeIndex.trim();
    this.#log!.trim(this.#size);
    this.#sealed();
  }

  /** Active no more: from now on the segment cache decides how long its files stay mapped. */
  #sealed(): void {
    this.#active = false;
    this.#changes += 1;
    if (this.#log !== undefined) segmentCache.admit(this);
  }

  /** A cold segment was synced before the cache unmapped it: only its .txnindex may need a sync. */
  flush(): void {
    const changes = this.#changes;
    this.#log?.sync(0, this.#size);
    this.offsetIndex.flush();
    this.timeIndex.flush();
    this.#txnIndex?.flushSync();
    this.#syncedChanges = Math.max(this.#syncedChanges, changes);
  }

  async flushAsync(fromPosition = 0): Promise<void> {
    const changes = this.#changes;
    await Promise.all([
      this.#log?.syncAsync(fromPosition, this.#size), this.offsetIndex.flushAsync(), this.timeIndex.flushAsync(), this.#txnIndex?.flush(),
    ]);
    this.#syncedChanges = Math.max(this.#syncedChanges, changes);
    if (!this.#active) segmentCache.synced();
  }

  /** Seals (cuts preallocated tails) and releases the files; the mapping lives on in slices. */
  close(): void {
    try {
      this.seal();
    } finally {
      this.#closeFiles();
    }
  }

  /**
   * Closes without sealing: for an instance being given up with its files untouched. Never
   * throws: a close that reports an error has freed the descriptor all the same.
   */
  discard(): void {
    segmentCache.forget(this);
    for (const file of [this.#log, this.offsetIndex, this.timeIndex]) quietly(() => file?.close());
  }

  /** Closes every descriptor, even when one close fails; throws the first failure. */
  #closeFiles(): void {
    segmentCache.forget(this);
    let failure: unknown;
    for (const file of [this.#log, this.offsetIndex, this.timeIndex]) {
      try {
        file?.close();
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
  }

  /**
   * Unlinks the files, then closes every descriptor and hands the disk blocks back. If an
   * unlink fails nothing is closed, so the segment stays whole and the caller can try again.
   *
   * The index mappings are released at once (only this object reads them). The log's mapping
   * backs zero-copy slices that a fetch response may still be writing to a slow socket, and
   * releasing it turns their bytes into zeros, which a consumer would take for a corrupt batch.
   * So it is released now only if the segment served no read in the last `readGraceMs`, else
   * when that grace ends (a timer, not the GC; Kafka keeps deleted segments for
   * file.delete.delay.ms, 60 s, for the same reason).
   */
  delete(readGraceMs: number): void {
    Segment.deleteFiles(this.directory, this.baseOffset);
    this.retire(readGraceMs);
  }

  /**
   * Closes every descriptor and hands the disk blocks back, as delete() does, for a segment
   * whose files are already gone from the directory (compaction renamed cleaned files over them).
   */
  retire(readGraceMs: number): void {
    this.#active = false;
    segmentCache.forget(this);
    const waitMs = this.#lastReadMs + readGraceMs - Date.now();
    for (const file of [this.offsetIndex, this.timeIndex]) quietly(() => file.release());
    // Mappings the cache let go of may still back slices of earlier reads, as the log's may.
    const logs = this.#log === undefined ? this.#dropped : [this.#log, ...this.#dropped];
    this.#dropped = [];
    for (const log of logs) {
      if (waitMs <= 0) {
        quietly(() => log.release());
      } else {
        quietly(() => log.close());
        setTimeout(() => quietly(() => log.release()), waitMs).unref();
      }
    }
  }
}

/**
 * For steps whose failure changes nothing: a close that reports an error has freed the
 * descriptor all the same, and a mapping that could not be swapped for zeros is unmapped by the
 * GC finalizer later. Past an unlink, neither may undo a delete.
 */
function quietly(step: () => void): void {
  try {
    step();
  } catch {
    // See above: nothing is left to undo or retry.
  }
}

function isBatchWithLastOffset(mapping: Buffer, position: number, end: number, offset: number): boolean {
  try {
    checkBatch(mapping, position, end);
  } catch (error) {
    if (SluiceError.is(error)) return false;
    throw error;
  }
  return batchLastOffset(mapping, position) === offset;
}
