/**
 * Typed access to the native mmap addon (broker/native/mmap.c).
 *
 * Ownership rule: a mapping is unmapped only by the GC finalizer of the Buffer that owns it,
 * once neither it nor any subarray of it is reachable, so no code path can read unmapped
 * memory. A mapped file may be unlinked while mapped (the pages live on). What must never
 * happen is ftruncate below a range someone may still read: touching a mapped page past the
 * end of its file raises SIGBUS and kills the process.
 *
 * `releaseMapping` gives a deleted file's disk blocks and page cache back without waiting for
 * the GC: the range stays mapped, but to zero pages, so slices still held read zeros.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { SluiceError } from '../../proto/errors.js';
import { packageRoot } from '../../proto/package-root.js';

interface Addon {
  map(fd: number, length: number, offset: number, writable: boolean): Buffer;
  release(mapping: Buffer, writable: boolean): void;
  stats(): { mappings: number; bytes: number };
  sync(mapping: Buffer, offset: number, length: number): void;
  syncAsync(mapping: Buffer, offset: number, length: number, callback: (error: Error | null) => void): void;
  advise(mapping: Buffer, offset: number, length: number, advice: number): void;
  populateAsync(mapping: Buffer, offset: number, length: number, callback: (error: Error | null) => void): void;
  allocate(fd: number, offset: number, length: number): void;
  raiseFileLimit(): FileLimit;
  syncFilesystem(fd: number): void;
  PAGE_SIZE: number;
  ADVICE_NORMAL: number;
  ADVICE_SEQUENTIAL: number;
  ADVICE_RANDOM: number;
  ADVICE_WILLNEED: number;
  ADVICE_DONTNEED: number;
}

const addon = createRequire(import.meta.url)(path.join(packageRoot(import.meta.url), 'build', 'Release', 'sluice_mmap.node')) as Addon;

/** RLIMIT_NOFILE before and after raising it; -1 stands for unlimited. */
export interface FileLimit {
  before: number;
  soft: number;
  hard: number;
}

export type Advice = 'normal' | 'sequential' | 'random' | 'willneed' | 'dontneed';

const adviceValues: Record<Advice, number> = {
  normal: addon.ADVICE_NORMAL,
  sequential: addon.ADVICE_SEQUENTIAL,
  random: addon.ADVICE_RANDOM,
  willneed: addon.ADVICE_WILLNEED,
  dontneed: addon.ADVICE_DONTNEED,
};

export const PAGE_SIZE: number = addon.PAGE_SIZE;

/** Errors of the system calls become storage errors; bad arguments stay TypeError/RangeError. */
function storageCall<T>(what: string, call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw asStorageError(what, error);
  }
}

function asStorageError(what: string, error: unknown): unknown {
  if (error instanceof TypeError || error instanceof RangeError) return error;
  return new SluiceError('SLUICE_ERR_STORAGE', `${what}: ${(error as Error).message}`, { cause: error });
}

/** Maps `length` bytes of the file from `offset` (page aligned), shared with the page cache. */
export function mapFile(fd: number, length: number, options: { writable: boolean; offset?: number }): Buffer {
  return storageCall(`mapping ${length} bytes of fd ${fd}`, () => addon.map(fd, length, options.offset ?? 0, options.writable));
}

/**
 * Drops the file behind `mapping` (the Buffer mapFile returned, not a slice of it): its address
 * range now holds zero pages with the same protection. Once the file's descriptor is closed and
 * its name unlinked, its blocks are free.
 */
export function releaseMapping(mapping: Buffer, writable: boolean): void {
  storageCall('releasing a mapping', () => addon.release(mapping, writable));
}

export function syncRange(mapping: Buffer, offset: number, length: number): void {
  storageCall('syncing a mapping', () => addon.sync(mapping, offset, length));
}

export function syncRangeAsync(mapping: Buffer, offset: number, length: number): Promise<void> {
  return rangeJob('syncing a mapping', addon.syncAsync, mapping, offset, length);
}

/** Faults the range in for writing on the thread pool; never changes its bytes. */
export function populate(mapping: Buffer, offset: number, length: number): Promise<void> {
  return rangeJob('prefaulting a mapping', addon.populateAsync, mapping, offset, length);
}

function rangeJob(what: string, start: Addon['syncAsync'], mapping: Buffer, offset: number, length: number): Promise<void> {
  return new Promise((resolve, reject) => {
    start(mapping, offset, length, (error) => (error === null ? resolve() : reject(asStorageError(what, error))));
  });
}

export function advise(mapping: Buffer, offset: number, length: number, advice: Advice): void {
  storageCall(`advising ${advice}`, () => addon.advise(mapping, offset, length, adviceValues[advice]));
}

/** Reserves disk blocks for [offset, offset + length), growing the file if needed. */
export function allocate(fd: number, offset: number, length: number): void {
  storageCall(`allocating ${length} bytes at ${offset} of fd ${fd}`, () => addon.allocate(fd, offset, length));
}

/** Live mappings (not yet finalized): shows that dropped mappings really are released. */
export function mappingStats(): { mappings: number; bytes: number } {
  return addon.stats();
}

/** Lifts the soft limit on open descriptors to the hard limit (no privileges needed). */
export function raiseFileLimit(): FileLimit {
  return storageCall('raising RLIMIT_NOFILE', () => addon.raiseFileLimit());
}

/** syncfs(2): makes every write to the filesystem holding `directory` durable, in one call. */
export function syncFilesystem(directory: string): void {
  storageCall(`syncing the filesystem of ${directory}`, () => {
    const fd = fs.openSync(directory, 'r');
    try {
      addon.syncFilesystem(fd);
    } finally {
      fs.closeSync(fd);
    }
  });
}
