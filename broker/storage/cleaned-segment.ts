/**
 * The files of one cleaned segment, written by the cleaner's worker beside the segment it
 * replaces: `<base>.log.cleaned`, `<base>.index.cleaned` and `<base>.timeindex.cleaned`, each
 * synced before the broker thread renames them into place (log-cleaner.ts says how that stays
 * crash-safe). The worker writes the indexes too, by the rule a segment follows when batches
 * are appended (one entry per index.interval.bytes, never for the first batch, and a final
 * time-index entry as on seal), so opening the cleaned segment on the broker thread reads only
 * the batches past its last index entry instead of checking every batch.
 *
 * Also the chunked reader the worker walks segment files with.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CorruptRecordError } from '../../proto/errors.js';
import { BATCH_HEADER_SIZE, BATCH_LENGTH_OFFSET, BATCH_LOG_OVERHEAD } from '../../proto/record-batch/layout.js';
import { batchLastOffset, batchMaxTimestamp, writeInt64 } from '../../proto/record-batch/record-batch.js';
import type { CleanerControl } from './cleaner-control.js';
import { offsetIndexEntrySize } from './offset-index.js';
import { segmentFileName } from './segment.js';
import { timeIndexEntrySize } from './time-index.js';

export const cleanedSuffix = '.cleaned';

const chunkBytes = 1024 * 1024;

export function cleanedFileName(baseOffset: number, suffix: '.log' | '.index' | '.timeindex'): string {
  return `${segmentFileName(baseOffset, suffix)}${cleanedSuffix}`;
}

/** The pass was cancelled (the partition is closing, deleted or truncated). */
export class CleaningCancelled extends Error {}

/**
 * Whole batches of the segment file open at `fd`, up to `size` bytes, read 1 MiB at a time.
 * Each batch is a view that the next step of the iteration may overwrite.
 */
export function* fileBatches(fd: number, size: number, counter: { bytesRead: number }): Generator<{ batch: Buffer; position: number }> {
  let buffer = Buffer.allocUnsafe(chunkBytes);
  let bufferStart = 0;
  let filled = 0;
  const fill = (from: number, needed: number) => {
    if (needed > buffer.length) buffer = Buffer.allocUnsafe(needed);
    const wanted = Math.min(buffer.length, size - from);
    filled = 0;
    bufferStart = from;
    while (filled < needed) {
      const read = fs.readSync(fd, buffer, filled, wanted - filled, from + filled);
      if (read === 0) throw new CorruptRecordError(`segment file ends at ${from + filled}, before its recorded size ${size}`);
      filled += read;
      counter.bytesRead += read;
    }
  };
  for (let position = 0; position < size;) {
    if (position + BATCH_LOG_OVERHEAD > bufferStart + filled) fill(position, BATCH_LOG_OVERHEAD);
    const batchSize = BATCH_LOG_OVERHEAD + buffer.readInt32BE(position - bufferStart + BATCH_LENGTH_OFFSET);
    if (batchSize < BATCH_HEADER_SIZE || position + batchSize > size) {
      throw new CorruptRecordError(`batch at position ${position} declares ${batchSize} bytes; the segment holds ${size}`);
    }
    if (position + batchSize > bufferStart + filled) fill(position, batchSize);
    yield { batch: buffer.subarray(position - bufferStart, position - bufferStart + batchSize), position };
    position += batchSize;
  }
}

/** A segment's offset and time index entries, built batch by batch as Segment builds them on append. */
export class IndexBuilder {
  readonly #baseOffset: number;
  readonly #intervalBytes: number;
  readonly #maxOffsetEntries: number;
  readonly #maxTimeEntries: number;
  readonly #offsets: number[] = [];
  readonly #times: number[] = [];
  #bytesSinceEntry = 0;
  #maxTimestamp = -1;
  #offsetOfMaxTimestamp: number;

  constructor(baseOffset: number, indexIntervalBytes: number, segmentIndexBytes: number) {
    this.#baseOffset = baseOffset;
    this.#intervalBytes = indexIntervalBytes;
    this.#maxOffsetEntries = Math.floor(segmentIndexBytes / offsetIndexEntrySize);
    this.#maxTimeEntries = Math.floor(segmentIndexBytes / timeIndexEntrySize);
    this.#offsetOfMaxTimestamp = baseOffset;
  }

  /** Largest batch maxTimestamp so far: the segment's maxTimestamp once every batch is added. */
  get maxTimestamp(): number {
    return this.#maxTimestamp;
  }

  add(batch: Buffer, position: number): void {
    const lastOffset = batchLastOffset(batch, 0);
    const timestamp = batchMaxTimestamp(batch, 0);
    if (timestamp > this.#maxTimestamp) {
      this.#maxTimestamp = timestamp;
      this.#offsetOfMaxTimestamp = lastOffset;
    }
    if (this.#bytesSinceEntry > this.#intervalBytes) {
      if (this.#offsets.length / 2 < this.#maxOffsetEntries) this.#offsets.push(lastOffset - this.#baseOffset, position);
      this.#addTime(false);
      this.#bytesSinceEntry = 0;
    }
    this.#bytesSinceEntry += batch.length;
  }

  /** Time-index entry when the segment's largest timestamp grew; one slot stays free for the seal. */
  #addTime(sealing: boolean): void {
    const entries = this.#times.length / 2;
    if (entries > 0 && this.#maxTimestamp <= this.#times[this.#times.length - 2]!) return;
    if (entries >= this.#maxTimeEntries - (sealing ? 0 : 1)) return;
    this.#times.push(this.#maxTimestamp, this.#offsetOfMaxTimestamp - this.#baseOffset);
  }

  offsetIndexBytes(): Buffer {
    const bytes = Buffer.allocUnsafe(this.#offsets.length / 2 * offsetIndexEntrySize);
    for (let entry = 0; entry < this.#offsets.length / 2; entry += 1) {
      bytes.writeUInt32BE(this.#offsets[entry * 2]!, entry * offsetIndexEntrySize);
      bytes.writeUInt32BE(this.#offsets[entry * 2 + 1]!, entry * offsetIndexEntrySize + 4);
    }
    return bytes;
  }

  /** The time index as sealing leaves it: with the final entry for the segment's largest timestamp. */
  timeIndexBytes(): Buffer {
    this.#addTime(true);
    const bytes = Buffer.allocUnsafe(this.#times.length / 2 * timeIndexEntrySize);
    for (let entry = 0; entry < this.#times.length / 2; entry += 1) {
      writeInt64(bytes, entry * timeIndexEntrySize, this.#times[entry * 2]!);
      bytes.writeUInt32BE(this.#times[entry * 2 + 1]!, entry * timeIndexEntrySize + 8);
    }
    return bytes;
  }
}

/**
 * `<base>.log.cleaned` being written: batches are buffered and written 1 MiB at a time. Every
 * file is created through the pass's control, so none appears after the pass is cancelled.
 */
export class CleanedSegmentWriter {
  readonly #directory: string;
  readonly #baseOffset: number;
  readonly #control: CleanerControl;
  readonly #created: string[];
  #fd: number;
  #buffer = Buffer.allocUnsafe(chunkBytes);
  #buffered = 0;
  #size = 0;

  /** `created` collects every path made, so a failed or cancelled pass can remove them. */
  constructor(directory: string, baseOffset: number, control: CleanerControl, created: string[]) {
    this.#directory = directory;
    this.#baseOffset = baseOffset;
    this.#control = control;
    this.#created = created;
    this.#fd = this.#create('.log');
  }

  get size(): number {
    return this.#size;
  }

  /** Copies the first `length` bytes of the segment file open at `sourceFd` (batches kept as they were). */
  copyPrefix(sourceFd: number, length: number, counter: { bytesRead: number }): void {
    for (let copied = 0; copied < length;) {
      if (this.#buffered === this.#buffer.length) this.#flush();
      const read = fs.readSync(sourceFd, this.#buffer, this.#buffered, Math.min(this.#buffer.length - this.#buffered, length - copied), copied);
      if (read === 0) throw new CorruptRecordError(`segment file ends at ${copied}, before ${length}`);
      this.#buffered += read;
      copied += read;
      counter.bytesRead += read;
    }
    this.#size += length;
  }

  append(batch: Buffer): void {
    if (this.#buffered + batch.length > this.#buffer.length) this.#flush();
    if (batch.length > this.#buffer.length) {
      writeFully(this.#fd, batch);
    } else {
      this.#buffered += batch.copy(this.#buffer, this.#buffered);
    }
    this.#size += batch.length;
  }

  /** Writes what is buffered and the two indexes, and syncs all three files. */
  finish(indexes: IndexBuilder): void {
    this.#flush();
    fs.fsyncSync(this.#fd);
    fs.closeSync(this.#fd);
    this.#fd = -1;
    for (const [suffix, bytes] of [['.index', indexes.offsetIndexBytes()], ['.timeindex', indexes.timeIndexBytes()]] as const) {
      const fd = this.#create(suffix);
      try {
        writeFully(fd, bytes);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    }
  }

  /** Closes the log file if still open (a failed or cancelled pass). */
  abandon(): void {
    if (this.#fd >= 0) fs.closeSync(this.#fd);
    this.#fd = -1;
  }

  #flush(): void {
    writeFully(this.#fd, this.#buffer.subarray(0, this.#buffered));
    this.#buffered = 0;
  }

  #create(suffix: '.log' | '.index' | '.timeindex'): number {
    const file = path.join(this.#directory, cleanedFileName(this.#baseOffset, suffix));
    const fd = this.#control.createUnlessCancelled(() => {
      const opened = fs.openSync(file, 'w', 0o644);
      this.#created.push(file);
      return opened;
    });
    if (fd === undefined) throw new CleaningCancelled();
    return fd;
  }
}

function writeFully(fd: number, bytes: Buffer): void {
  for (let written = 0; written < bytes.length;) written += fs.writeSync(fd, bytes, written, bytes.length - written);
}
