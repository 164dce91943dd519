/**
 * Small durable text files a log keeps beside its segments (log start offset, recovery point,
 * high watermark, leader epochs),
 * and the clean-shutdown marker. Each checkpoint is written to `<name>.tmp`, synced, and renamed
 * over the old one, so a crash leaves either the old value or the new one, never a torn file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SluiceError } from '../../proto/errors.js';
import { storageError, storageStep } from './storage-error.js';

export const cleanShutdownFile = '.clean-shutdown';
export const logStartOffsetFile = 'log-start-offset';
export const recoveryPointFile = 'recovery-point';

export const leaderEpochCheckpointFile = 'leader-epoch-checkpoint';
export const highWatermarkFile = 'high-watermark';
export const truncationMarkerFile = 'truncation-in-progress';

/** `sync` false: a clean stop syncs the whole filesystem once afterwards (CleanStop) instead. */
export function writeOffsetCheckpoint(directory: string, name: string, offset: number, sync = true): void {
  writeTextCheckpoint(directory, name, `0\n${offset}\n`, sync);
}

/** Writes `text` to `<name>.tmp`, syncs it (unless told the caller will) and renames it over `name`. */
export function writeTextCheckpoint(directory: string, name: string, text: string, sync = true): void {
  const target = path.join(directory, name);
  const temporary = `${target}.tmp`;
  try {
    const fd = fs.openSync(temporary, 'w', 0o644);
    try {
      fs.writeSync(fd, text);
      if (sync) fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temporary, target);
  } catch (cause) {
    throw storageError(`cannot write checkpoint ${target}`, cause);
  }
}

/**
 * The stored offset, or undefined when the file is missing or garbled (then it is rebuilt). A
 * file that exists but cannot be read now (EMFILE, EIO) is an error, not a missing value: a log
 * start read as 0 would bring deleted records back.
 */
export function readOffsetCheckpoint(directory: string, name: string): number | undefined {
  const text = readTextCheckpoint(directory, name);
  if (text === undefined) return undefined;
  const [version, value] = text.split('\n');
  const offset = Number(value);
  return version === '0' && Number.isSafeInteger(offset) && offset >= 0 ? offset : undefined;
}

/** A checkpoint's text, or undefined when there is no such file; any other read failure throws. */
export function readTextCheckpoint(directory: string, name: string): string | undefined {
  const file = path.join(directory, name);
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw storageError(`cannot read checkpoint ${file}`, cause);
  }
}

/**
 * A truncation in progress: `offset` is where the log is being cut, `restart` when everything
 * goes and the log starts empty there. Written (durably) before a truncation changes anything
 * and removed once it is done, so that an open after a crash in between finishes the cut.
 */
export interface TruncationMarker {
  offset: number;
  restart: boolean;
}

export function writeTruncationMarker(directory: string, marker: TruncationMarker): void {
  writeTextCheckpoint(directory, truncationMarkerFile, `0\n${marker.offset}\n${marker.restart ? 'restart' : 'cut'}\n`);
}

/** The marker, or undefined when there is none; a garbled one is a storage error (never guessed). */
export function readTruncationMarker(directory: string): TruncationMarker | undefined {
  const text = readTextCheckpoint(directory, truncationMarkerFile);
  if (text === undefined) return undefined;
  const [version, value, kind] = text.split('\n');
  const offset = Number(value);
  if (version !== '0' || !Number.isSafeInteger(offset) || offset < 0 || (kind !== 'restart' && kind !== 'cut')) {
    throw new SluiceError('SLUICE_ERR_STORAGE',
      `${path.join(directory, truncationMarkerFile)} is garbled, so where an interrupted truncation was cutting the log is unknown; restore the partition from another replica, or delete the file to keep the log as it is on disk`);
  }
  return { offset, restart: kind === 'restart' };
}

/** Syncs the directory (the truncation's new and removed files), then removes the marker. */
export function removeTruncationMarker(directory: string): void {
  syncDirectory(directory);
  const marker = path.join(directory, truncationMarkerFile);
  storageStep(`cannot remove ${marker}`, () => fs.rmSync(marker, { force: true }));
}

/** Removes the marker and reports whether it was there: the previous stop was clean. */
export function consumeCleanShutdownMarker(directory: string): boolean {
  const marker = path.join(directory, cleanShutdownFile);
  return storageStep(`cannot remove ${marker}`, () => {
    if (!fs.existsSync(marker)) return false;
    fs.rmSync(marker);
    return true;
  });
}

export function writeCleanShutdownMarker(directory: string): void {
  const marker = path.join(directory, cleanShutdownFile);
  storageStep(`cannot write ${marker}`, () => fs.writeFileSync(marker, ''));
}

/** Makes a directory's entries (created or removed files) durable. */
export function syncDirectory(directory: string): void {
  storageStep(`cannot sync directory ${directory}`, () => {
    const fd = fs.openSync(directory, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  });
}


/**
 * `writeTextCheckpoint` on the thread pool, the directory synced after the rename: for the
 * files a request writes while other requests wait (a new topic's record and its note).
 */
export async function writeTextFileDurably(file: string, text: string): Promise<void> {
  const temporary = `${file}.tmp`;
  try {
    const handle = await fs.promises.open(temporary, 'w', 0o644);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.promises.rename(temporary, file);
  } catch (cause) {
    await fs.promises.rm(temporary, { force: true });
    throw storageError(`cannot write ${file}`, cause);
  }
  await syncDirectoriesAsync([path.dirname(file)]);
}

/**
 * Syncs many directories on the thread pool, a few at a time (each holds a descriptor only
 * while its sync runs), so a new topic's partitions cost no turn of the event loop.
 */
export async function syncDirectoriesAsync(directories: readonly string[]): Promise<void> {
  await eachOnThreadPool(directories, async (directory) => {
    try {
      const handle = await fs.promises.open(directory, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (cause) {
      throw storageError(`cannot sync directory ${directory}`, cause);
    }
  });
}

/** Runs `work` on every item, `concurrency` at a time (the thread pool has 4 threads by default). */
export async function eachOnThreadPool<T>(items: readonly T[], work: (item: T) => Promise<void>, concurrency = 8): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next]!;
      next += 1;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
