/**
 * What the offset and time indexes share: a memory-mapped file of fixed-size big-endian
 * entries, sorted by key, searched by binary search for the largest key ≤ a target.
 *
 * The file is extended ahead of the writer while its segment is active and cut to
 * `entries × entrySize` when the segment is sealed or closed, so a clean file's length says how
 * many entries it holds. After a crash the active index may be longer than its entries (zeros
 * at the tail); the subclass's `validEntries()` finds the prefix that is real, and the segment
 * then checks that prefix against the log. Anything else past that prefix (a wrong length, an
 * entry out of order, random bytes) marks the file `damaged`. Indexes carry no checksum: when
 * in doubt they are rebuilt from the log, which is the only source of truth.
 */
import fs from 'node:fs';
import { MappedFile } from './mapped-file.js';
import { storageError, storageStep } from './storage-error.js';

export const indexGrowChunkBytes = 64 * 1024;

export abstract class IndexFile {
  readonly path: string;
  readonly baseOffset: number;
  readonly entrySize: number;
  readonly maxEntries: number;
  /** Mapped once the index has entries: an empty index (an idle partition's) holds no mapping. */
  #file: MappedFile | undefined;
  #entries = 0;
  #damaged = false;

  protected constructor(path: string, baseOffset: number, maxIndexBytes: number, entrySize: number) {
    this.path = path;
    this.baseOffset = baseOffset;
    this.entrySize = entrySize;
    this.maxEntries = Math.floor(maxIndexBytes / entrySize);
    if (emptyOrCreated(path)) return;
    const file = this.file;
    try {
      this.#entries = this.validEntries(Math.min(this.maxEntries, Math.floor(file.fileSize / entrySize)));
      this.#damaged = !isZero(file.buffer, this.#entries * entrySize, file.fileSize);
    } catch (error) {
      file.close();
      throw error;
    }
  }

  protected get file(): MappedFile {
    this.#file ??= MappedFile.open(this.path, { capacity: this.maxEntries * this.entrySize, growChunkBytes: indexGrowChunkBytes, writable: true });
    return this.#file;
  }

  /**
   * Bytes past the valid entries are not the zero tail a crash leaves: this file was not
   * written by an index (or an entry is torn), and the segment must rebuild it from the log.
   */
  get damaged(): boolean {
    return this.#damaged;
  }

  get entries(): number {
    return this.#entries;
  }

  get isFull(): boolean {
    return this.#entries >= this.maxEntries;
  }

  /** How many of the first `count` slots hold real entries (a crashed file has a zero tail). */
  protected abstract validEntries(count: number): number;

  /** Reserves the next slot and returns its byte position, or -1 when the index is full. */
  protected nextSlot(): number {
    if (this.#entries >= this.maxEntries) return -1;
    const position = this.#entries * this.entrySize;
    this.file.ensureWritable(position + this.entrySize);
    this.#entries += 1;
    return position;
  }

  /** Keeps the first `count` entries and zeroes the rest, so a crash cannot bring them back. */
  truncateEntries(count: number): void {
    if (count === 0 && this.#damaged) {
      this.file.buffer.fill(0, 0, this.file.fileSize);
      this.#damaged = false;
    }
    if (count >= this.#entries) return;
    const start = count * this.entrySize;
    this.file.buffer.fill(0, start, this.#entries * this.entrySize);
    this.#entries = count;
  }

  /**
   * Index of the last entry whose key is ≤ `target`, or -1 when every key is larger.
   * Keys are strictly increasing, so a plain binary search finds it.
   */
  protected floorEntry(target: number, keyAt: (entry: number) => number): number {
    let low = 0;
    let high = this.#entries - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (keyAt(middle) <= target) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found;
  }

  /** Cuts the file to its entries: the segment is sealed or closing. */
  trim(): void {
    this.#file?.trim(this.#entries * this.entrySize);
  }

  flush(): void {
    this.#file?.sync(0, this.#entries * this.entrySize);
  }

  flushAsync(): Promise<void> {
    return this.#file?.syncAsync(0, this.#entries * this.entrySize) ?? Promise.resolve();
  }

  close(): void {
    this.#file?.close();
  }

  /** Lets go of the mapping (the segment went cold); the next lookup maps the file again. */
  unmap(): MappedFile | undefined {
    const file = this.#file;
    this.#file = undefined;
    return file;
  }

  /** The file was unlinked: closes it and frees its blocks now (see MappedFile.release). */
  release(): void {
    this.#file?.release();
  }
}

/** Whether the index file is empty, creating it (empty) when it is missing. */
function emptyOrCreated(path: string): boolean {
  try {
    return fs.statSync(path).size === 0;
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') throw storageError(`cannot stat ${path}`, cause);
  }
  storageStep(`cannot create ${path}`, () => fs.closeSync(fs.openSync(path, 'a', 0o644)));
  return true;
}

const zeroChunk = Buffer.alloc(64 * 1024);

function isZero(buffer: Buffer, start: number, end: number): boolean {
  for (let position = start; position < end; position += zeroChunk.length) {
    const stop = Math.min(end, position + zeroChunk.length);
    if (buffer.compare(zeroChunk, 0, stop - position, position, stop) !== 0) return false;
  }
  return true;
}
