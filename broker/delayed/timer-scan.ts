/**
 * What one pass over the timer log found, kept in flat Float64Arrays (8 bytes a number) rather
 * than objects: a recovery may pass millions of records, fired or not, before it knows which
 * are pending. Held records due in [lo, hi) are candidates; offsets listed by fired markers
 * are collected and subtracted at the end; records due later are counted as on disk. For the
 * overdue check of a recovery, each target's earliest log end at produce time among records
 * already due is kept, and the log end the newest marker recorded for it.
 */
import type { DecodedRecord } from '../../proto/record-batch/record-batch.js';
import { decodeFired, decodeTarget, firedHeader, targetHeader } from './timer-codec.js';

/** A growable list of numbers. */
class NumberList {
  #values = new Float64Array(1024);
  length = 0;

  push(value: number): void {
    if (this.length === this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2);
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values[this.length++] = value;
  }

  at(index: number): number {
    return this.#values[index]!;
  }

  sorted(): Float64Array {
    return this.#values.subarray(0, this.length).sort();
  }
}

export interface OverdueTarget {
  topic: string;
  partition: number;
  /** The earliest log end offset any of its due records saw when produced. */
  from: number;
}

export const targetKey = (topic: string, partition: number): string => `${topic}\0${partition}`;

function contains(sorted: Float64Array, value: number): boolean {
  let low = 0;
  let high = sorted.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const found = sorted[middle]!;
    if (found === value) return true;
    if (found < value) low = middle + 1;
    else high = middle - 1;
  }
  return false;
}

export class TimerScan {
  readonly #offsets = new NumberList();
  readonly #dues = new NumberList();
  readonly #fired = new NumberList();
  readonly markedEnds = new Map<string, number>();
  readonly overdue = new Map<string, OverdueTarget>();
  onDisk = 0;
  minDiskOffset = Infinity;

  /**
   * `now`: records due by then are looked for in their targets (−Infinity: not a recovery).
   * `until`: batches from this offset on are not the scan's (appended after it began).
   */
  constructor(readonly lo: number, readonly hi: number, readonly now = -Infinity, readonly until = Infinity) {}

  get candidates(): number {
    return this.#offsets.length;
  }

  /** A whole batch due at or after `hi`. */
  addLater(baseOffset: number, records: number): void {
    this.onDisk += records;
    this.minDiskOffset = Math.min(this.minDiskOffset, baseOffset);
  }

  add(record: DecodedRecord): void {
    const first = record.headers[0];
    if (first?.key === firedHeader) {
      const marker = decodeFired(first.value);
      for (const offset of marker.offsets) this.#fired.push(offset);
      for (const target of marker.targets) this.markedEnds.set(targetKey(target.topic, target.partition), target.end);
      return;
    }
    if (first?.key !== targetHeader || record.timestamp < this.lo) return;
    if (record.timestamp >= this.hi) {
      this.addLater(record.offset, 1);
      return;
    }
    this.#offsets.push(record.offset);
    this.#dues.push(record.timestamp);
    if (record.timestamp > this.now) return;
    const target = decodeTarget(first.value);
    const name = targetKey(target.topic, target.partition);
    const seen = this.overdue.get(name);
    if (seen === undefined) this.overdue.set(name, { topic: target.topic, partition: target.partition, from: target.endAtProduce });
    else seen.from = Math.min(seen.from, target.endAtProduce);
  }

  /** Marks offsets fired (found in their targets by a recovery). */
  addFired(offsets: readonly number[]): void {
    for (const offset of offsets) this.#fired.push(offset);
  }

  /** Whether a marker lists an offset, as of now (later addFired calls are not seen). */
  firedLookup(): (offset: number) => boolean {
    const fired = this.#fired.sorted();
    return (offset) => contains(fired, offset);
  }

  /** Calls `visit` with every candidate no marker lists. */
  eachPending(visit: (due: number, offset: number) => void): void {
    const fired = this.#fired.sorted();
    for (let index = 0; index < this.#offsets.length; index += 1) {
      const offset = this.#offsets.at(index);
      if (!contains(fired, offset)) visit(this.#dues.at(index), offset);
    }
  }
}
