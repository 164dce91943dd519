/**
 * One partition log's side of compaction: whether a pass is due (planCleaning, from the clean
 * point in the `cleaner-offset-checkpoint`), the pass itself handed to the broker's cleaner
 * (log-cleaner.ts, off this thread), swapping the cleaned segments in one per turn of the event
 * loop, and moving the clean point once they are in and the directory is synced. One pass per
 * log at a time. Truncation, close and delete cancel a pass; its result is then never swapped
 * in, and the files it made are removed.
 */
import { CleanerCheckpoint } from './cleaner-checkpoint.js';
import type { LogConfig } from './log-config.js';
import {
  type CleanerTask, discardCleaned, type LogCleaner, planCleaning, removeCleanedFiles, syncDirectoryAsync,
} from './log-cleaner.js';
import type { Segment } from './segment.js';

export interface CompactionOutcome {
  segmentsCleaned: number;
  recordsRemoved: number;
  /** Bytes the pass read from segment files; 0 when no pass ran. */
  bytesRead: number;
}

/** What a pass needs of its log. */
export interface CompactingLog {
  readonly directory: string;
  readonly config: LogConfig;
  readonly closed: boolean;
  /** Every segment but the active one. */
  sealedSegments(): Segment[];
  activeBaseOffset(): number;
  now(): number;
  /**
   * Puts the cleaned files of `segment` in its place; false when it no longer stands in the
   * log as a sealed segment (retention, truncation), and its cleaned files are stale.
   */
  swapInCleaned(segment: Segment): boolean;
}

export class LogCompaction {
  readonly #directory: string;
  #task: CleanerTask | undefined;
  #checkpointFile: CleanerCheckpoint | undefined;

  constructor(directory: string) {
    this.#directory = directory;
  }

  get #checkpoint(): CleanerCheckpoint {
    this.#checkpointFile ??= new CleanerCheckpoint(this.#directory);
    return this.#checkpointFile;
  }

  /** Records from `offset` on are gone: no pass result may be swapped in, and the clean point moves back. */
  truncatedTo(offset: number): void {
    this.#task?.cancel();
    this.#checkpoint.truncateTo(offset);
  }

  /** The log closes or is deleted: a running pass is cancelled and (unless deleted anyway) its files removed. */
  cancel(removeFiles: boolean): void {
    if (this.#task === undefined) return;
    this.#task.cancel();
    if (removeFiles) removeCleanedFiles(this.#directory);
  }

  /** One pass when there is enough to do; a call while one runs does nothing. */
  async run(log: CompactingLog, cleaner: LogCleaner): Promise<CompactionOutcome> {
    const outcome: CompactionOutcome = { segmentsCleaned: 0, recordsRemoved: 0, bytesRead: 0 };
    if (this.#task !== undefined) return outcome;
    const checkpoint = this.#checkpoint;
    const generation = checkpoint.generation;
    const sealed = log.sealedSegments();
    const job = planCleaning(log.directory, sealed, log.activeBaseOffset(), checkpoint.state, log.config, log.now());
    if (job === undefined) return outcome;
    const task = cleaner.run(job);
    this.#task = task;
    try {
      const result = await task.done;
      if (result === undefined) return outcome;
      for (const cleaned of result.cleaned) {
        // One segment per turn of the event loop: opening each costs about a millisecond.
        if (outcome.segmentsCleaned > 0) await new Promise((resolve) => setImmediate(resolve));
        const segment = sealed.find((candidate) => candidate.baseOffset === cleaned.baseOffset)!;
        if (log.closed || task.cancelled || !log.swapInCleaned(segment)) {
          discardCleaned(log.directory, cleaned.baseOffset);
          continue;
        }
        outcome.segmentsCleaned += 1;
        outcome.recordsRemoved += cleaned.recordsRemoved;
      }
      outcome.bytesRead = result.bytesRead;
      if (log.closed || task.cancelled) return outcome;
      await syncDirectoryAsync(log.directory);
      // A truncation meanwhile cancelled the task: the pass's end may lie past the new log end.
      if (log.closed || task.cancelled) return outcome;
      await checkpoint.advance({ cleanPoint: result.endOffset, tombstoneDeadline: result.tombstoneDeadline }, generation);
      return outcome;
    } catch (error) {
      if (log.closed) return outcome;
      throw error;
    } finally {
      this.#task = undefined;
    }
  }
}
