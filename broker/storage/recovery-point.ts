/**
 * A partition's recovery point: every segment ending at or below it is synced to the device,
 * so recovery after a crash checks only what lies past it. It is written to the
 * `recovery-point` checkpoint from one chain of writes, and moves only to the end of the
 * contiguous prefix of synced rolls: the syncs of several rolls may finish in any order, but
 * the recovery point passes a segment only once it and every one before it are on the device.
 * Truncation lowers it first, so it never vouches for offsets that are written again later.
 */
import fs from 'node:fs';
import { readOffsetCheckpoint, recoveryPointFile, writeOffsetCheckpoint } from './checkpoint.js';
import { storageError } from './storage-error.js';

/** A roll whose sealed segment is being synced. */
export interface PendingRoll {
  end: number;
  synced: boolean;
}

export interface RecoveryPointOwner {
  /** The log is closed or offline: nothing more is written. */
  stopped(): boolean;
  /** Takes the log offline (a failed directory sync cannot be retried). */
  fail(cause: unknown, what: string): void;
  onBackgroundError(error: unknown): void;
}

export class RecoveryPoint {
  readonly #directory: string;
  readonly #owner: RecoveryPointOwner;
  /** What the checkpoint on disk says. */
  #written: number;
  /** End of the contiguous prefix of synced rolls; written behind #written. */
  #target: number;
  #pendingRolls: PendingRoll[] = [];
  #writes: Promise<void> = Promise.resolve();

  /** Reads the checkpoint; a recovery point past the log's end (`logEndOffset`) is cut to it. */
  constructor(directory: string, owner: RecoveryPointOwner) {
    this.#directory = directory;
    this.#owner = owner;
    this.#written = readOffsetCheckpoint(directory, recoveryPointFile) ?? 0;
    this.#target = this.#written;
  }

  get offset(): number {
    return this.#written;
  }

  /** After loading: the log ends at `logEndOffset`, which a stale checkpoint may exceed. */
  capAt(logEndOffset: number): void {
    this.#written = Math.min(this.#written, logEndOffset);
    this.#target = this.#written;
  }

  /** A segment ending at `end` was sealed and is being synced; call `synced` when it is. */
  rolled(end: number): PendingRoll {
    const roll: PendingRoll = { end, synced: false };
    this.#pendingRolls.push(roll);
    return roll;
  }

  synced(roll: PendingRoll): void {
    roll.synced = true;
    let target = this.#target;
    while (this.#pendingRolls[0]?.synced === true) target = Math.max(target, this.#pendingRolls.shift()!.end);
    if (target <= this.#target) return;
    this.#target = target;
    this.#writes = this.#writes.then(() => this.#write());
  }

  /** Truncation drops records from `offset` on. */
  lower(offset: number): void {
    this.#pendingRolls = this.#pendingRolls.filter((roll) => roll.end <= offset);
    this.#target = Math.min(this.#target, offset);
    if (this.#written <= offset) return;
    writeOffsetCheckpoint(this.#directory, recoveryPointFile, offset);
    this.#written = offset;
  }

  /** A clean close synced everything up to `offset`. */
  closedAt(offset: number, sync: boolean): void {
    // An idle log's point is already on disk: a stop of ten thousand of them writes nothing here.
    if (offset === this.#written) return;
    writeOffsetCheckpoint(this.#directory, recoveryPointFile, offset, sync);
    this.#written = offset;
  }

  /** Syncs the directory (the new segments' names), then writes the checkpoint. Never rejects. */
  async #write(): Promise<void> {
    const target = this.#target;
    if (this.#owner.stopped() || target <= this.#written) return;
    let handle: fs.promises.FileHandle;
    try {
      handle = await fs.promises.open(this.#directory, 'r');
    } catch (error) {
      // Nothing was lost, only not yet recorded: the next roll tries again.
      if (!this.#owner.stopped()) {
        this.#owner.onBackgroundError(storageError(`cannot open ${this.#directory} to sync it; its recovery point stays at ${this.#written} for now`, error));
      }
      return;
    }
    try {
      await handle.sync();
    } catch (error) {
      this.#owner.fail(error, `syncing directory ${this.#directory}`);
      return;
    } finally {
      await handle.close().catch(() => {});
    }
    // A truncation while the directory synced may have lowered the target.
    const offset = Math.min(target, this.#target);
    if (this.#owner.stopped() || offset <= this.#written) return;
    try {
      writeOffsetCheckpoint(this.#directory, recoveryPointFile, offset);
      this.#written = offset;
    } catch (error) {
      this.#owner.onBackgroundError(error);
    }
  }
}
