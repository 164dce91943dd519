/**
 * One cleaning pass over a partition, as Kafka's log cleaner does it. It runs on the cleaner's
 * worker thread (cleaner-worker.ts) and touches only the sealed segments' files, never the
 * broker thread's Log objects.
 *
 * 1. The offset map: for every keyed record of the dirty section (from the clean point up to
 *    the active segment), the latest offset of its key's hash. When the map is full, the pass
 *    stops mapping at that record: its offset is where the pass ends (the new clean point) and
 *    the rest stays dirty for a later pass.
 * 2. Filtering: every segment from the log start up to that end is read batch by batch; a record
 *    is kept unless its key has a later offset in the map, it has no key (a compacted topic
 *    cannot keep it), or it is a tombstone below the end in a segment older than
 *    delete.retention.ms. Control batches, and batches the cleaner cannot read (a codec Sluice
 *    does not support, records that do not parse), are kept whole and add no key to the map,
 *    which can only keep more records, never lose one. A batch that loses every record
 *    disappears, except the last batch of a producer (producerId ≥ 0), which stays as an empty
 *    batch as Kafka keeps it for the producer's state (batch-filter.ts). A segment from which
 *    nothing goes is not rewritten; one that changes is written out as cleaned files
 *    (cleaned-segment.ts) for the broker thread to swap in.
 *
 * Memory is the offset map (fixed size) plus about one batch and a 1 MiB buffer per file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SluiceError } from '../../proto/errors.js';
import { batchLastOffset } from '../../proto/record-batch/record-batch.js';
import { batchProducerId, batchRecords, emptyBatch, isControlBatch, type RecordRef, rebuildBatch } from './batch-filter.js';
import { CleanedSegmentWriter, CleaningCancelled, fileBatches, IndexBuilder } from './cleaned-segment.js';
import type { CleanerControl } from './cleaner-control.js';
import { keyHash, type OffsetMap } from './offset-map.js';
import { segmentFileName } from './segment.js';

export interface SegmentToClean {
  baseOffset: number;
  /** Bytes of batches in the file (a sealed segment's file is exactly this long). */
  size: number;
  /** The segment is older than delete.retention.ms: its clean tombstones may go. */
  dropTombstones: boolean;
}

export interface CleanerJob {
  directory: string;
  /** The sealed segments, oldest first. */
  segments: SegmentToClean[];
  /** The clean point: records below it were cleaned by earlier passes. */
  firstDirtyOffset: number;
  /** The active segment's base offset: nothing at or past it is cleaned. */
  firstUncleanableOffset: number;
  /** false when nothing dirty needs mapping and the pass only drops expired clean tombstones. */
  mapDirty: boolean;
  offsetMapBytes: number;
  indexIntervalBytes: number;
  segmentIndexBytes: number;
  deleteRetentionMs: number;
}

export interface CleanedSegment {
  baseOffset: number;
  /** Bytes of the cleaned log file. */
  size: number;
  recordsRemoved: number;
}

export interface CleanerPassResult {
  /** Every record below this offset is clean now: the next clean point. */
  endOffset: number;
  /** Segments with cleaned files written and synced, waiting to be swapped in. */
  cleaned: CleanedSegment[];
  recordsRemoved: number;
  /** Bytes read from segment files. */
  bytesRead: number;
  /** Earliest time (ms) a clean tombstone this pass kept may be dropped; Infinity when none. */
  tombstoneDeadline: number;
  /** Batches kept whole because the cleaner could not read their records. */
  unreadableBatches: number;
}

export function runCleanerPass(job: CleanerJob, map: OffsetMap, control: CleanerControl): CleanerPassResult {
  const created: string[] = [];
  try {
    return new CleanerPass(job, map, control, created).run();
  } catch (error) {
    for (const file of created) fs.rmSync(file, { force: true });
    throw error;
  }
}

class CleanerPass {
  readonly #job: CleanerJob;
  readonly #map: OffsetMap;
  readonly #control: CleanerControl;
  readonly #created: string[];
  /** Last offset of the last batch of each producer in the mapped dirty section. */
  readonly #producers = new Map<number, number>();
  readonly #counter = { bytesRead: 0 };
  #unreadableBatches = 0;

  constructor(job: CleanerJob, map: OffsetMap, control: CleanerControl, created: string[]) {
    this.#job = job;
    this.#map = map;
    this.#control = control;
    this.#created = created;
  }

  run(): CleanerPassResult {
    const job = this.#job;
    this.#map.clear();
    const endOffset = job.mapDirty ? this.#buildOffsetMap() : job.firstDirtyOffset;
    const result: CleanerPassResult = {
      endOffset, cleaned: [], recordsRemoved: 0, bytesRead: 0, tombstoneDeadline: Infinity, unreadableBatches: 0,
    };
    for (const segment of job.segments) {
      if (segment.baseOffset >= endOffset) break;
      const filtered = this.#withSegmentFile(segment, (fd) => this.#filterSegment(segment, fd, endOffset));
      if (filtered === undefined) continue;
      result.recordsRemoved += filtered.recordsRemoved;
      if (filtered.cleaned !== undefined) result.cleaned.push(filtered.cleaned);
      if (filtered.keptTombstones && filtered.maxTimestamp >= 0) {
        result.tombstoneDeadline = Math.min(result.tombstoneDeadline, filtered.maxTimestamp + job.deleteRetentionMs + 1);
      }
    }
    result.bytesRead = this.#counter.bytesRead;
    result.unreadableBatches = this.#unreadableBatches;
    return result;
  }

  /** Maps the dirty section; returns where the pass ends (the first offset left unmapped). */
  #buildOffsetMap(): number {
    const { segments, firstDirtyOffset, firstUncleanableOffset } = this.#job;
    for (let index = 0; index < segments.length; index += 1) {
      const segment = segments[index]!;
      const next = segments[index + 1]?.baseOffset ?? firstUncleanableOffset;
      if (next <= firstDirtyOffset) continue;
      const fullAt = this.#withSegmentFile(segment, (fd) => {
        for (const { batch } of fileBatches(fd, segment.size, this.#counter)) {
          this.#checkCancelled();
          const lastOffset = batchLastOffset(batch, 0);
          if (lastOffset < firstDirtyOffset || isControlBatch(batch)) continue;
          const records = readableRecords(batch);
          if (records === undefined) continue;
          for (const record of records.records) {
            if (record.offset < firstDirtyOffset || record.key === null) continue;
            if (!this.#map.put(keyHash(record.key), record.offset)) return record.offset;
          }
          const producerId = batchProducerId(batch);
          if (producerId >= 0) this.#producers.set(producerId, lastOffset);
        }
        return undefined;
      });
      if (fullAt !== undefined) return fullAt;
    }
    return firstUncleanableOffset;
  }

  #filterSegment(segment: SegmentToClean, fd: number, endOffset: number) {
    const job = this.#job;
    const indexes = new IndexBuilder(segment.baseOffset, job.indexIntervalBytes, job.segmentIndexBytes);
    let writer: CleanedSegmentWriter | undefined;
    let outputPosition = 0;
    let recordsRemoved = 0;
    let keptTombstones = false;
    try {
      for (const { batch, position } of fileBatches(fd, segment.size, this.#counter)) {
        this.#checkCancelled();
        const filtered = this.#filterBatch(batch, segment, endOffset);
        recordsRemoved += filtered.removed;
        keptTombstones ||= filtered.keptTombstones;
        if (filtered.batch !== batch && writer === undefined) {
          writer = new CleanedSegmentWriter(job.directory, segment.baseOffset, this.#control, this.#created);
          writer.copyPrefix(fd, position, this.#counter);
        }
        if (filtered.batch === undefined) continue;
        indexes.add(filtered.batch, outputPosition);
        writer?.append(filtered.batch);
        outputPosition += filtered.batch.length;
      }
      writer?.finish(indexes);
    } finally {
      writer?.abandon();
    }
    const cleaned = writer === undefined ? undefined : { baseOffset: segment.baseOffset, size: writer.size, recordsRemoved };
    return { cleaned, recordsRemoved, keptTombstones, maxTimestamp: indexes.maxTimestamp };
  }

  /** The batch as it leaves the pass: itself, rebuilt, or undefined when it goes (see the top of this file). */
  #filterBatch(batch: Buffer, segment: SegmentToClean, endOffset: number): { batch: Buffer | undefined; removed: number; keptTombstones: boolean } {
    if (isControlBatch(batch)) return { batch, removed: 0, keptTombstones: false };
    const parsed = readableRecords(batch);
    if (parsed === undefined) {
      this.#unreadableBatches += 1;
      return { batch, removed: 0, keptTombstones: false };
    }
    const kept: RecordRef[] = [];
    let keptTombstones = false;
    for (const record of parsed.records) {
      if (!this.#retains(record, segment, endOffset)) continue;
      kept.push(record);
      if (record.tombstone && record.offset < endOffset) keptTombstones = true;
    }
    const removed = parsed.records.length - kept.length;
    if (kept.length > 0) return { batch: removed === 0 ? batch : rebuildBatch(batch, parsed.section, kept), removed, keptTombstones };
    return { batch: this.#isProducersLastBatch(batch) ? (removed === 0 ? batch : emptyBatch(batch)) : undefined, removed, keptTombstones };
  }

  #retains(record: RecordRef, segment: SegmentToClean, endOffset: number): boolean {
    if (record.key === null) return false;
    if (this.#map.size > 0 && this.#map.get(keyHash(record.key)) > record.offset) return false;
    return !(record.tombstone && segment.dropTombstones && record.offset < endOffset);
  }

  /**
   * Whether an emptied batch must stay for its producer's state: it has a producer id and no
   * later batch of that producer was mapped. A producer not seen in the dirty section keeps
   * its emptied batches (one of them may be its last); they go once it writes again.
   */
  #isProducersLastBatch(batch: Buffer): boolean {
    const producerId = batchProducerId(batch);
    if (producerId < 0) return false;
    const last = this.#producers.get(producerId);
    return last === undefined || last === batchLastOffset(batch, 0);
  }

  /** Runs `work` with the segment's log file open; undefined when the file is gone (retention deleted it). */
  #withSegmentFile<T>(segment: SegmentToClean, work: (fd: number) => T): T | undefined {
    let fd: number;
    try {
      fd = fs.openSync(path.join(this.#job.directory, segmentFileName(segment.baseOffset, '.log')), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    try {
      return work(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  #checkCancelled(): void {
    if (this.#control.cancelled) throw new CleaningCancelled();
  }
}

/** A batch's records, or undefined when they cannot be read (the batch is then kept whole). */
function readableRecords(batch: Buffer): ReturnType<typeof batchRecords> | undefined {
  try {
    return batchRecords(batch);
  } catch (error) {
    if (SluiceError.is(error)) return undefined;
    throw error;
  }
}
