/**
 * Log compaction (cleanup.policy=compact), bounded as Kafka's log cleaner is: every sealed
 * segment keeps, per key, only the record with the highest offset, and tombstones (null
 * values) disappear once their segment is older than delete.retention.ms. Offsets never
 * change: a rebuilt batch keeps its base offset, last offset delta and header, and its
 * surviving records keep their bytes, so readers see gaps, as in Kafka. The active segment is
 * never cleaned.
 *
 * Who does what:
 * - The broker thread decides (`planCleaning`): a pass runs when the dirty part (from the
 *   partition's clean point, cleaner-checkpoint.ts, to the active segment) is more than
 *   min.cleanable.dirty.ratio of the sealed bytes, or when a tombstone kept in the clean part
 *   has expired.
 * - The cleaner's one worker thread (`LogCleaner`, one per broker, so one pass at a time) reads
 *   the segment files, builds a fixed-size offset map (offset-map.ts,
 *   log.cleaner.dedupe.buffer.size) and writes cleaned files (cleaner-pass.ts). Decoding and
 *   hashing are CPU work, so they run there rather than in slices on the broker thread: the
 *   request path only ever waits for a few renames and the opening of each cleaned segment,
 *   whose indexes the worker wrote too.
 * - The broker thread swaps the cleaned segments in (`swapInCleaned`) and then moves the clean
 *   point, once the directory is synced.
 *
 * Crash safety of the swap: the worker writes `<base>.log.cleaned` (and `.index.cleaned`,
 * `.timeindex.cleaned`) and syncs them; the broker thread removes the segment's indexes,
 * renames the cleaned log over `<base>.log`, renames the cleaned indexes into place, and syncs
 * the directory. A crash before the log's rename leaves the old segment (stray `.cleaned` files
 * are deleted on open), a crash after it leaves the new segment with its indexes or without
 * them, which opening rebuilds. The clean point is written only after the directory sync, so
 * it never claims a segment the disk does not hold cleaned. Slices handed out earlier keep the
 * old bytes, because their mapping lives on.
 *
 * A pass is cancelled when its partition is closed, deleted or truncated (`CleanerTask.cancel`,
 * cleaner-control.ts): the worker stops, creates no more files and removes the ones it made; a
 * closing log also removes the cleaned files of a pass that already finished.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { SluiceError } from '../../proto/errors.js';
import { packageRoot } from '../../proto/package-root.js';
import { cleanedFileName, cleanedSuffix } from './cleaned-segment.js';
import type { CleanerState } from './cleaner-checkpoint.js';
import { CleanerControl } from './cleaner-control.js';
import type { CleanerJob, CleanerPassResult } from './cleaner-pass.js';
import type { CleanerReply, CleanerRequest } from './cleaner-worker.js';
import type { LogConfig } from './log-config.js';
import { segmentFileName } from './segment.js';

export { cleanedSuffix } from './cleaned-segment.js';
export type { CleanerJob, CleanerPassResult } from './cleaner-pass.js';

export interface SealedSegmentInfo {
  baseOffset: number;
  size: number;
  nextOffset: number;
  maxTimestamp: number;
}

/**
 * The pass to run now over a log's sealed segments (oldest first), or undefined when there is
 * not enough to do: the dirty bytes (segments holding offsets at or past the clean point) must
 * exceed min.cleanable.dirty.ratio of all sealed bytes, or a clean tombstone must have expired.
 */
export function planCleaning(
  directory: string, sealed: SealedSegmentInfo[], firstUncleanableOffset: number, state: CleanerState, config: LogConfig, now: number,
): CleanerJob | undefined {
  if (sealed.length === 0) return undefined;
  const firstDirtyOffset = Math.min(Math.max(state.cleanPoint, sealed[0]!.baseOffset), firstUncleanableOffset);
  let cleanBytes = 0;
  let dirtyBytes = 0;
  for (const segment of sealed) {
    if (segment.nextOffset <= firstDirtyOffset) cleanBytes += segment.size;
    else dirtyBytes += segment.size;
  }
  const mapDirty = dirtyBytes > 0 && dirtyBytes / (cleanBytes + dirtyBytes) > config.minCleanableDirtyRatio;
  const tombstonesDue = firstDirtyOffset > sealed[0]!.baseOffset && now >= state.tombstoneDeadline;
  if (!mapDirty && !tombstonesDue) return undefined;
  const horizon = now - config.deleteRetentionMs;
  return {
    directory,
    segments: sealed.map((segment) => ({
      baseOffset: segment.baseOffset,
      size: segment.size,
      dropTombstones: segment.maxTimestamp >= 0 && segment.maxTimestamp < horizon,
    })),
    firstDirtyOffset,
    firstUncleanableOffset,
    mapDirty,
    offsetMapBytes: config.cleanerDedupeBufferBytes,
    indexIntervalBytes: config.indexIntervalBytes,
    segmentIndexBytes: config.segmentIndexBytes,
    deleteRetentionMs: config.deleteRetentionMs,
  };
}

/** Puts a segment's cleaned files in place of its own (see the top of this file); the caller syncs the directory. */
export function swapInCleaned(directory: string, baseOffset: number): void {
  const file = (suffix: '.log' | '.index' | '.timeindex') => path.join(directory, segmentFileName(baseOffset, suffix));
  const cleaned = (suffix: '.log' | '.index' | '.timeindex') => path.join(directory, cleanedFileName(baseOffset, suffix));
  fs.rmSync(file('.index'), { force: true });
  fs.rmSync(file('.timeindex'), { force: true });
  fs.renameSync(cleaned('.log'), file('.log'));
  fs.renameSync(cleaned('.index'), file('.index'));
  fs.renameSync(cleaned('.timeindex'), file('.timeindex'));
}

/** Removes a segment's cleaned files that will not be swapped in. */
export function discardCleaned(directory: string, baseOffset: number): void {
  for (const suffix of ['.log', '.index', '.timeindex'] as const) fs.rmSync(path.join(directory, cleanedFileName(baseOffset, suffix)), { force: true });
}

/**
 * Removes every cleaned file in a partition directory: its log closes while a pass is in
 * flight, and the process may end before that pass's results come back.
 */
export function removeCleanedFiles(directory: string): void {
  for (const name of fs.readdirSync(directory)) if (name.endsWith(cleanedSuffix)) fs.rmSync(path.join(directory, name), { force: true });
}

export async function syncDirectoryAsync(directory: string): Promise<void> {
  const handle = await fs.promises.open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export interface CleanerTask {
  /** The pass's result; undefined when it was cancelled before it finished. */
  readonly done: Promise<CleanerPassResult | undefined>;
  /** Cancelled: a result that arrives anyway must not be swapped in. */
  readonly cancelled: boolean;
  cancel(): void;
}

interface RunningPass {
  control: CleanerControl;
  resolve: (result: CleanerPassResult | undefined) => void;
  reject: (error: Error) => void;
}

/**
 * The broker's log cleaner: one worker thread, started on the first pass and kept (without
 * holding the process open) for the next. Passes run one at a time, in the order asked.
 */
export class LogCleaner {
  #worker: Worker | undefined;
  #running: RunningPass | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #generation = 0;

  run(job: CleanerJob): CleanerTask {
    const control = new CleanerControl();
    const generation = this.#generation;
    const done = this.#queue
      .then(() => (control.cancelled || generation !== this.#generation ? undefined : this.#start(job, control)))
      .then((result) => {
        if (!control.cancelled) return result;
        // Finished just as it was cancelled: nobody will swap these in.
        for (const cleaned of result?.cleaned ?? []) discardCleaned(job.directory, cleaned.baseOffset);
        return undefined;
      });
    this.#queue = done.catch(() => {});
    return { done, get cancelled() { return control.cancelled; }, cancel: () => control.cancel() };
  }

  /** Cancels the pass in progress (and those waiting) and stops the worker; a later run() starts a new one. */
  async close(): Promise<void> {
    this.#generation += 1;
    this.#running?.control.cancel();
    const worker = this.#worker;
    this.#worker = undefined;
    await worker?.terminate();
  }

  #start(job: CleanerJob, control: CleanerControl): Promise<CleanerPassResult | undefined> {
    const worker = this.#worker ?? this.#spawn();
    worker.ref();
    return new Promise<CleanerPassResult | undefined>((resolve, reject) => {
      this.#running = { control, resolve, reject };
      worker.postMessage({ job, control: control.buffer } satisfies CleanerRequest);
    }).finally(() => {
      this.#running = undefined;
      if (this.#worker === worker) worker.unref();
    });
  }

  #spawn(): Worker {
    const worker = new Worker(workerEntry());
    this.#worker = worker;
    worker.unref();
    worker.on('message', (reply: CleanerReply) => {
      const running = this.#running;
      if (running === undefined) return;
      if ('result' in reply) running.resolve(reply.result);
      else if ('cancelled' in reply) running.resolve(undefined);
      else running.reject(new SluiceError('SLUICE_ERR_STORAGE', `log cleaner pass failed: ${reply.error.message}`));
    });
    worker.on('error', (error: Error) => {
      if (this.#worker === worker) this.#worker = undefined;
      this.#running?.reject(new SluiceError('SLUICE_ERR_STORAGE', `log cleaner worker failed: ${error.message}`, { cause: error }));
    });
    worker.on('exit', (code) => {
      if (this.#worker === worker) this.#worker = undefined;
      const running = this.#running;
      if (running === undefined) return;
      if (running.control.cancelled) running.resolve(undefined);
      else running.reject(new SluiceError('SLUICE_ERR_STORAGE', `log cleaner worker exited with code ${code}`));
    });
    return worker;
  }
}

/**
 * The worker's module. Running from TypeScript sources (vitest), the worker runs the compiled
 * module in dist/, so `npm run build` must have run.
 */
function workerEntry(): URL {
  if (import.meta.url.endsWith('.js')) return new URL('./cleaner-worker.js', import.meta.url);
  const compiled = path.join(packageRoot(import.meta.url), 'dist', 'broker', 'storage', 'cleaner-worker.js');
  if (!fs.existsSync(compiled)) throw new SluiceError('SLUICE_ERR_STORAGE', `the log cleaner's worker ${compiled} is missing; run npm run build`);
  return pathToFileURL(compiled);
}
