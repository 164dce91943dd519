/**
 * A file mapped into memory with room to grow: the mapping reserves `capacity` bytes of address
 * space up front, while the file itself is extended (posix_fallocate) one chunk ahead of the
 * writer, and each new chunk is prefaulted on the thread pool so appends copy into resident
 * pages without a syscall or a page fault.
 *
 * Ownership: a writer may only touch bytes below `fileSize` (beyond the end of the file a
 * mapped access raises SIGBUS). `trim()` shrinks the file, so callers trim only down to bytes
 * nobody will read past. The mapping itself is released by the addon's GC finalizer once the
 * last Buffer over it is gone, so closing here never invalidates a slice someone still holds.
 * A deleted file calls `release()` as well, so its blocks are freed now rather than at some GC.
 */
import fs from 'node:fs';
import { SluiceError } from '../../proto/errors.js';
import { storageError } from './storage-error.js';
import { advise, allocate, mapFile, PAGE_SIZE, populate, releaseMapping, syncRange, syncRangeAsync } from './mmap.js';

export interface MappedFileOptions {
  /** Largest size the file may reach while this mapping lives. */
  capacity: number;
  /** How far ahead of the writer the file is extended and prefaulted. */
  growChunkBytes: number;
  writable: boolean;
  /** Access pattern hint for the kernel's readahead. */
  sequential?: boolean;
}

const emptyMapping = Buffer.alloc(0);
const firstGrowChunkBytes = 256 * 1024;

export class MappedFile {
  readonly path: string;
  readonly capacity: number;
  readonly writable: boolean;
  #fd: number;
  #mapping: Buffer;
  #fileSize: number;
  #growChunkBytes: number;
  #growChunkBytesMax: number;

  private constructor(path: string, fd: number, fileSize: number, options: MappedFileOptions) {
    this.path = path;
    this.#fd = fd;
    this.#fileSize = fileSize;
    this.writable = options.writable;
    this.capacity = Math.max(options.capacity, fileSize);
    // Start small so the first chunk is prefaulted before the writer reaches it, then double:
    // a fresh segment's first writes do not wait for 16 MiB of page faults.
    this.#growChunkBytesMax = Math.max(PAGE_SIZE, Math.min(options.growChunkBytes, this.capacity));
    this.#growChunkBytes = Math.min(this.#growChunkBytesMax, firstGrowChunkBytes);
    this.#mapping = this.capacity === 0
      ? emptyMapping
      : mapFile(fd, this.capacity, { writable: options.writable });
    if (options.sequential && this.capacity > 0) advise(this.#mapping, 0, this.capacity, 'sequential');
  }

  /** Opens (creating when writable) and maps `path`. */
  static open(path: string, options: MappedFileOptions): MappedFile {
    let fd: number;
    try {
      fd = fs.openSync(path, options.writable ? fs.constants.O_RDWR | fs.constants.O_CREAT : fs.constants.O_RDONLY, 0o644);
    } catch (cause) {
      throw storageError(`cannot open ${path}`, cause);
    }
    try {
      const size = fs.fstatSync(fd).size;
      return new MappedFile(path, fd, size, options);
    } catch (error) {
      fs.closeSync(fd);
      throw error;
    }
  }

  /** The whole mapping; only bytes below `fileSize` may be touched. */
  get buffer(): Buffer {
    return this.#mapping;
  }

  get fileSize(): number {
    return this.#fileSize;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /**
   * Makes bytes [0, end) writable. Extends the file a chunk past `end` when the writer has
   * used half of the room ahead, and prefaults that chunk in the background.
   */
  ensureWritable(end: number): void {
    if (end <= this.#fileSize - (this.#growChunkBytes >> 1)) return;
    if (end > this.capacity) {
      throw new SluiceError('SLUICE_ERR_STORAGE', `${this.path}: write to byte ${end} past the mapped capacity ${this.capacity}`);
    }
    const target = Math.min(this.capacity, roundUp(end + this.#growChunkBytes, PAGE_SIZE));
    if (target <= this.#fileSize) return;
    const start = this.#fileSize;
    try {
      allocate(this.#fd, start, target - start);
    } catch (cause) {
      // The file may have grown partly; what matters is that nothing was promised beyond `start`.
      throw storageError(`cannot extend ${this.path} to ${target} bytes`, cause);
    }
    this.#fileSize = target;
    this.#growChunkBytes = Math.min(this.#growChunkBytes * 2, this.#growChunkBytesMax);
    const pageStart = start - (start % PAGE_SIZE);
    populate(this.#mapping, pageStart, target - pageStart).catch(() => {
      // Prefaulting is only a speed-up; the writer faults the pages in itself if it fails.
    });
  }

  /** Cuts the file to `size` bytes; everything at or past `size` must be unread from now on. */
  trim(size: number): void {
    if (size >= this.#fileSize) return;
    try {
      fs.ftruncateSync(this.#fd, size);
    } catch (cause) {
      throw storageError(`cannot trim ${this.path} to ${size} bytes`, cause);
    }
    this.#fileSize = size;
  }

  sync(start: number, end: number): void {
    if (end <= start || this.capacity === 0) return;
    syncRange(this.#mapping, start, Math.min(end, this.#fileSize) - start);
  }

  syncAsync(start: number, end: number): Promise<void> {
    if (end <= start || this.capacity === 0) return Promise.resolve();
    return syncRangeAsync(this.#mapping, start, Math.min(end, this.#fileSize) - start);
  }

  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    try {
      fs.closeSync(fd);
    } catch (cause) {
      throw storageError(`cannot close ${this.path}`, cause);
    }
  }

  /**
   * For a file that was unlinked: closes it and swaps the mapping's pages for zeros, so the
   * file's blocks and page cache are freed now. Slices still held read zeros from here on.
   */
  release(): void {
    try {
      this.close();
    } finally {
      if (this.capacity > 0) releaseMapping(this.#mapping, this.writable);
    }
  }
}

function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}
