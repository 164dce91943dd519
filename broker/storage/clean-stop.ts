/**
 * A clean stop of many logs with one filesystem sync instead of several per log. Each log's close
 * writes its checkpoints (high watermark, recovery point, producer snapshot) and seals its
 * segments without syncing them and hands its clean-shutdown marker here; `finish` syncs the
 * filesystem once (syncfs: the records' mapped pages, the checkpoints and the renames) and only
 * then writes the markers, so no marker can vouch for anything that is not on disk. A failed
 * sync writes no marker, and the next start recovers those logs as after a crash. (Most of what
 * a stop of many logs still costs is creating the checkpoint files and trimming preallocated
 * tails, one log after another.)
 */
import { syncFilesystem } from './mmap.js';

export class CleanStop {
  readonly #markers: Array<() => void> = [];

  /** Runs once everything written before `finish` is durable. */
  afterSync(step: () => void): void {
    this.#markers.push(step);
  }

  /** Syncs the filesystem holding `directory`, then runs the steps; throws the first failure after trying every step. */
  finish(directory: string): void {
    if (this.#markers.length === 0) return;
    syncFilesystem(directory);
    let failure: unknown;
    for (const step of this.#markers.splice(0)) {
      try {
        step();
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
  }
}
