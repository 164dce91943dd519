/**
 * A file mapped into memory with room to grow up to `capacity` bytes: the file itself is
 * extended (posix_fallocate) one chunk ahead of the writer, and each new chunk is prefaulted on
 * the thread pool so appends copy into resident pages without a syscall or a page fault.
 *
 * The mapping starts small (none for an empty file, else 256 KiB or the file's size) and is replaced by one twice as large
 * when the file outgrows it, about a dozen times over a 1 GiB segment, so an idle partition
 * holds address space for what it has, not a gigabyte (which, before the addon kept mappings out
 * of V8's memory accounting, also set off a full collection every few partitions opened). A
 * replaced mapping stays valid for the slices taken from it (same file, same pages) until the GC
 * collects it.
 *
 * Ownership: a writer may only touch bytes below `fileSize` (beyond the end of the file a
 * mapped access raises SIGBUS). `trim()` shrinks the file, so callers trim only down to bytes
 * nobody will read past. The mapping itself is released by the addon's GC finalizer once the
 * last Buffer over it is gone, so closing here never invalidates a slice someone still holds.
 * A deleted file calls `release()` as well, so its blocks are freed now rather than at some GC.
 *
 * Descriptors: the file's descriptor is closed as soon as it is mapped (a mapping outlives its
 * descriptor), so ten thousand partitions hold no descriptors at all. The rare steps that need
 * one (extending the file a chunk ahead of the writer, trimming it) open it by path for the
 * call. Files are renamed only once nothing writes to them any more (deletion, truncation's
 * set-aside, compaction's swap), so the path always names this file when a descriptor is needed.
 *
 * A full disk: each growing file holds blocks reserved ahead of its writer (up to a chunk,
 * 16 MiB for a segment), which no other file can use. When an extension fails for want of
 * space, every growing file gives back what lies past its written end, and the extension is
 * tried once more; from then on files grow in small chunks again. Written ends only rise
 * (`ensureWritable` is called before each write), so no byte that holds data is ever cut.
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
const firstMappedBytes = 256 * 1024;

/** Files open for writing with room to grow: what a full disk can take back from. */
const growing = new Set<MappedFile>();

/** Gives back every growing file's blocks past its written end; returns the bytes freed. */
function releaseReservedSpace(): number {
  let freed = 0;
  for (const file of growing) freed += file.releaseAhead();
  return freed;
}

export class MappedFile {
  readonly path: string;
  readonly capacity: number;
  readonly writable: boolean;
  #open = true;
  #mapping: Buffer;
  #fileSize: number;
  #growChunkBytes: number;
  #growChunkBytesMax: number;
  /** Past every byte that may hold data: the size at open and every end a writer asked for. */
  #writtenEnd: number;
  #mappedLength: number;
  /** Mappings a larger one replaced: still alive while slices of them are, released with this file. */
  #replaced: Array<WeakRef<Buffer>> = [];
  readonly #sequential: boolean;

  private constructor(path: string, fd: number, fileSize: number, options: MappedFileOptions) {
    this.path = path;
    this.#fileSize = fileSize;
    this.#writtenEnd = fileSize;
    this.writable = options.writable;
    this.capacity = Math.max(options.capacity, fileSize);
    // Start small so the first chunk is prefaulted before the writer reaches it, then double:
    // a fresh segment's first writes do not wait for 16 MiB of page faults.
    this.#growChunkBytesMax = Math.max(PAGE_SIZE, Math.min(options.growChunkBytes, this.capacity));
    this.#growChunkBytes = Math.min(this.#growChunkBytesMax, firstGrowChunkBytes);
    this.#sequential = options.sequential === true;
    // An empty file (an idle partition's segment) is mapped only when first written.
    this.#mappedLength = fileSize === 0 ? 0 : Math.min(this.capacity, Math.max(roundUp(fileSize, PAGE_SIZE), firstMappedBytes));
    this.#mapping = this.#map(fd, this.#mappedLength);
    if (options.writable && this.capacity > fileSize) growing.add(this);
  }

  /** Opens (creating when writable) and maps `path`; the descriptor is closed again before this returns. */
  static open(path: string, options: MappedFileOptions): MappedFile {
    return withDescriptor(path, options.writable ? fs.constants.O_RDWR | fs.constants.O_CREAT : fs.constants.O_RDONLY,
      (fd) => new MappedFile(path, fd, fs.fstatSync(fd).size, options));
  }

  #map(fd: number, length: number): Buffer {
    if (length === 0) return emptyMapping;
    const mapping = mapFile(fd, length, { writable: this.writable });
    if (this.#sequential) advise(mapping, 0, length, 'sequential');
    return mapping;
  }

  /** Replaces the mapping with one covering at least `needed` bytes (twice the old length, within capacity). */
  #remap(fd: number, needed: number): void {
    const length = Math.min(this.capacity, Math.max(roundUp(needed, PAGE_SIZE), this.#mappedLength * 2, firstMappedBytes));
    const mapping = this.#map(fd, length);
    if (this.#mappedLength > 0) this.#replaced.push(new WeakRef(this.#mapping));
    this.#mapping = mapping;
    this.#mappedLength = length;
  }

  /** Runs `call` with a descriptor of this (writable) file, opened for it alone. */
  #withFd<T>(call: (fd: number) => T): T {
    return withDescriptor(this.path, fs.constants.O_RDWR, call);
  }

  /** The whole mapping; only bytes below `fileSize` may be touched. */
  get buffer(): Buffer {
    return this.#mapping;
  }

  get fileSize(): number {
    return this.#fileSize;
  }

  get closed(): boolean {
    return !this.#open;
  }

  /**
   * Makes bytes [0, end) writable. Extends the file a chunk past `end` when the writer has
   * used half of the room ahead, and prefaults that chunk in the background.
   */
  ensureWritable(end: number): void {
    const writer = this.#writtenEnd;
    if (end > this.#writtenEnd) this.#writtenEnd = end;
    if (end <= this.#fileSize - (this.#growChunkBytes >> 1)) return;
    if (end > this.capacity) {
      throw new SluiceError('SLUICE_ERR_STORAGE', `${this.path}: write to byte ${end} past the mapped capacity ${this.capacity}`);
    }
    let target = Math.min(this.capacity, roundUp(end + this.#growChunkBytes, PAGE_SIZE));
    if (target <= this.#fileSize) return;
    const start = this.#fileSize;
    const remapping = target > this.#mappedLength;
    target = this.#withFd((fd) => {
      if (remapping) this.#remap(fd, target);
      return this.#extend(fd, start, end, target);
    });
    this.#fileSize = target;
    // A new mapping has no page tables yet: the room ahead of the writer that was prefaulted in
    // the old one would fault again, page by page, under the writer's copies, so it is
    // prefaulted again along with the new chunk.
    const from = remapping ? Math.min(writer, start) : start;
    const pageStart = from - (from % PAGE_SIZE);
    populate(this.#mapping, pageStart, target - pageStart).catch(() => {
      // Prefaulting is only a speed-up; the writer faults the pages in itself if it fails.
    });
  }

  /** Extends the file from `start` to `target`, or just past `end` on a nearly full disk; returns the new size. */
  #extend(fd: number, start: number, end: number, target: number): number {
    try {
      allocate(fd, start, target - start);
      this.#growChunkBytes = Math.min(this.#growChunkBytes * 2, this.#growChunkBytesMax);
    } catch {
      // A nearly full disk cannot hold the chunk ahead, but may still hold this write: the
      // file grows in small chunks from now on and takes just what the write needs, so appends
      // go on until the disk is really full. (The file may have grown partly; what matters is
      // that nothing is promised beyond `start`.)
      this.#growChunkBytes = Math.min(firstGrowChunkBytes, this.#growChunkBytesMax);
      if (end <= start) return start;
      const needed = roundUp(end, PAGE_SIZE);
      if (!this.#tryAllocate(fd, start, needed) && !(releaseReservedSpace() > 0 && this.#tryAllocate(fd, start, needed))) {
        throw storageError(`cannot extend ${this.path} to ${needed} bytes`, this.#allocateFailure);
      }
      return needed;
    }
    return target;
  }

  #allocateFailure: unknown;

  #tryAllocate(fd: number, start: number, end: number): boolean {
    try {
      allocate(fd, start, end - start);
      return true;
    } catch (cause) {
      this.#allocateFailure = cause;
      return false;
    }
  }

  /** Cuts the file to `size` bytes; everything at or past `size` must be unread from now on. */
  trim(size: number): void {
    if (size >= this.#fileSize) return;
    this.#withFd((fd) => {
      try {
        fs.ftruncateSync(fd, size);
      } catch (cause) {
        throw storageError(`cannot trim ${this.path} to ${size} bytes`, cause);
      }
    });
    this.#fileSize = size;
    this.#writtenEnd = Math.min(this.#writtenEnd, size);
  }

  /**
   * Gives back the blocks reserved past the written end (the disk is full); the file grows
   * from a small chunk again when its writer next needs room. Returns the bytes freed.
   */
  releaseAhead(): number {
    const keep = roundUp(this.#writtenEnd, PAGE_SIZE);
    if (!this.#open || keep >= this.#fileSize) return 0;
    try {
      this.#withFd((fd) => fs.ftruncateSync(fd, keep));
    } catch {
      return 0;
    }
    const freed = this.#fileSize - keep;
    this.#fileSize = keep;
    this.#growChunkBytes = Math.min(firstGrowChunkBytes, this.#growChunkBytesMax);
    return freed;
  }

  sync(start: number, end: number): void {
    if (end <= start || this.#mappedLength === 0) return;
    syncRange(this.#mapping, start, Math.min(end, this.#fileSize) - start);
  }

  syncAsync(start: number, end: number): Promise<void> {
    if (end <= start || this.#mappedLength === 0) return Promise.resolve();
    return syncRangeAsync(this.#mapping, start, Math.min(end, this.#fileSize) - start);
  }

  /** Stops writing: the file no longer grows (it holds no descriptor to close). */
  close(): void {
    this.#open = false;
    growing.delete(this);
  }

  /**
   * Closes the file and lets go of its mappings: each is unmapped by the GC finalizer once the
   * last slice of it is collected, so nothing in use is invalidated. `release()` still frees
   * them, should the file be deleted while slices live.
   */
  drop(): void {
    this.close();
    if (this.#mappedLength > 0) this.#replaced.push(new WeakRef(this.#mapping));
    this.#mapping = emptyMapping;
    this.#mappedLength = 0;
    this.#replaced = this.#replaced.filter((reference) => reference.deref() !== undefined);
  }

  /** Whether a mapping of this file may still be alive (held here, or by slices after `drop`). */
  get holdsMapping(): boolean {
    return this.#mappedLength > 0 || this.#replaced.some((reference) => reference.deref() !== undefined);
  }

  /**
   * For a file that was unlinked: closes it and swaps the mapping's pages for zeros, so the
   * file's blocks and page cache are freed now. Slices still held read zeros from here on.
   */
  release(): void {
    try {
      this.close();
    } finally {
      for (const mapping of [this.#mapping, ...this.#replaced.map((reference) => reference.deref())]) {
        if (mapping !== undefined && mapping.length > 0) releaseMapping(mapping, this.writable);
      }
    }
  }
}

/** Opens `path`, runs `call` with the descriptor, and closes it whatever happens. */
function withDescriptor<T>(path: string, flags: number, call: (fd: number) => T): T {
  let fd: number;
  try {
    fd = fs.openSync(path, flags, 0o644);
  } catch (cause) {
    throw storageError(`cannot open ${path}`, cause);
  }
  try {
    return call(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}
