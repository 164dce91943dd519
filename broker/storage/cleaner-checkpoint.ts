/**
 * A partition's clean point (Kafka's cleaner-offset-checkpoint, kept per partition here):
 * records below it were cleaned by an earlier pass, so the next pass maps only what follows it
 * and the dirty ratio is measured from it. Beside it, the earliest time a tombstone kept in the
 * clean part may be dropped, so that a pass runs for expired tombstones even when nothing new
 * is dirty.
 *
 * File `cleaner-offset-checkpoint`: "0\n<clean point>\n<tombstone deadline ms or -1>\n", written
 * to a temporary file, synced and renamed over the old one (as checkpoint.ts does), so a crash
 * leaves the old value or the new one. A missing or unreadable file means nothing is clean:
 * the next pass cleans everything, which is always safe.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SluiceError } from '../../proto/errors.js';

export const cleanerCheckpointFile = 'cleaner-offset-checkpoint';

export interface CleanerState {
  cleanPoint: number;
  /** Infinity when the clean part keeps no tombstone. */
  tombstoneDeadline: number;
}

const nothingClean: Readonly<CleanerState> = Object.freeze({ cleanPoint: 0, tombstoneDeadline: Infinity });

export class CleanerCheckpoint {
  readonly #directory: string;
  #state: CleanerState | undefined;
  #generation = 0;

  constructor(directory: string) {
    this.#directory = directory;
  }

  get state(): CleanerState {
    this.#state ??= readCleanerCheckpoint(this.#directory) ?? nothingClean;
    return this.#state;
  }

  /** Changes whenever a truncation moves the clean point back. */
  get generation(): number {
    return this.#generation;
  }

  /**
   * The log was truncated to `offset`: what follows is new, so the clean point cannot stay past
   * it. Written at once, so a truncated log never looks cleaner than it is.
   */
  truncateTo(offset: number): void {
    const state = this.state;
    if (state.cleanPoint <= offset) return;
    this.#state = { ...state, cleanPoint: offset };
    this.#generation += 1;
    const target = this.#path();
    const temporary = `${target}.truncated.tmp`;
    try {
      const fd = fs.openSync(temporary, 'w', 0o644);
      try {
        fs.writeSync(fd, format(this.#state));
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(temporary, target);
    } catch (cause) {
      throw new SluiceError('SLUICE_ERR_STORAGE', `cannot write checkpoint ${target}`, { cause });
    }
  }

  /**
   * Records a pass's outcome, once its segments are durable. A pass that began before a
   * truncation (`generation` is stale) changes nothing: its view of the log is out of date.
   */
  async advance(next: CleanerState, generation: number): Promise<void> {
    if (generation !== this.#generation) return;
    this.#state = next;
    const target = this.#path();
    const temporary = `${target}.tmp`;
    try {
      const handle = await fs.promises.open(temporary, 'w', 0o644);
      try {
        await handle.writeFile(format(next));
        await handle.sync();
      } finally {
        await handle.close();
      }
      // Renamed synchronously right after the check: no truncation can slip in between.
      if (generation === this.#generation) fs.renameSync(temporary, target);
      else fs.rmSync(temporary, { force: true });
    } catch (cause) {
      throw new SluiceError('SLUICE_ERR_STORAGE', `cannot write checkpoint ${target}`, { cause });
    }
  }

  #path(): string {
    return path.join(this.#directory, cleanerCheckpointFile);
  }
}

function format(state: CleanerState): string {
  return `0\n${state.cleanPoint}\n${Number.isFinite(state.tombstoneDeadline) ? state.tombstoneDeadline : -1}\n`;
}

export function readCleanerCheckpoint(directory: string): CleanerState | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(directory, cleanerCheckpointFile), 'utf8');
  } catch {
    return undefined;
  }
  const [version, cleanPoint, deadline] = text.split('\n').map((line, index) => (index === 0 ? line : Number(line)));
  if (version !== '0' || !isNonNegativeInteger(cleanPoint) || !Number.isSafeInteger(deadline) || (deadline as number) < -1) return undefined;
  return { cleanPoint: cleanPoint as number, tombstoneDeadline: deadline === -1 ? Infinity : deadline as number };
}

function isNonNegativeInteger(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}
