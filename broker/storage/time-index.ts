/**
 * Sparse time index, `<base>.timeindex`: 12-byte entries, big-endian,
 *
 *   0  i64  timestamp         (largest record timestamp of the segment so far)
 *   8  u32  relative offset   (last offset of the batch that holds that timestamp)
 *
 * Written together with offset-index entries, but only when the segment's largest timestamp
 * grew, so timestamps strictly increase. One slot stays free so that sealing a segment can
 * always add its final entry. Looking up a time gives the last entry at or below it; the
 * segment scans batches from there for the first whose largest timestamp reaches the target.
 */
import { readInt64, writeInt64 } from '../../proto/record-batch/record-batch.js';
import { IndexFile } from './index-file.js';

export const timeIndexEntrySize = 12;

export interface TimestampOffset {
  timestamp: number;
  offset: number;
}

export class TimeIndex extends IndexFile {
  constructor(path: string, baseOffset: number, maxIndexBytes: number) {
    super(path, baseOffset, maxIndexBytes, timeIndexEntrySize);
  }

  protected validEntries(count: number): number {
    const buffer = this.file.buffer;
    let lastTimestamp = -Infinity;
    let lastOffset = -1;
    for (let entry = 0; entry < count; entry += 1) {
      // A timestamp outside ±2^53 ms is not one an index wrote (and cannot be read as a number).
      const high = buffer.readInt32BE(entry * timeIndexEntrySize);
      if (high >= 0x200000 || high < -0x200000) return entry;
      const { timestamp, offset } = this.entryAt(entry);
      const relative = offset - this.baseOffset;
      if (timestamp === 0 && relative === 0 && entry > 0) return entry;
      if (timestamp <= lastTimestamp || relative < lastOffset) return entry;
      lastTimestamp = timestamp;
      lastOffset = relative;
    }
    return count;
  }

  /** Full one slot early: the final entry written on seal needs a place. */
  override get isFull(): boolean {
    return this.entries >= this.maxEntries - 1;
  }

  /** Appends an entry if `timestamp` is newer than the last one. */
  maybeAppend(timestamp: number, offset: number, sealing = false): void {
    const last = this.lastEntry;
    if (last !== undefined && timestamp <= last.timestamp) return;
    if (!sealing && this.isFull) return;
    const slot = this.nextSlot();
    if (slot < 0) return;
    const buffer = this.file.buffer;
    writeInt64(buffer, slot, timestamp);
    buffer.writeUInt32BE(offset - this.baseOffset, slot + 8);
  }

  entryAt(entry: number): TimestampOffset {
    const buffer = this.file.buffer;
    const position = entry * timeIndexEntrySize;
    return {
      timestamp: readInt64(buffer, position),
      offset: this.baseOffset + buffer.readUInt32BE(position + 8),
    };
  }

  get lastEntry(): TimestampOffset | undefined {
    return this.entries === 0 ? undefined : this.entryAt(this.entries - 1);
  }

  /** The last entry with timestamp ≤ target, or the segment start when there is none. */
  lookup(timestamp: number): TimestampOffset {
    const buffer = this.file.buffer;
    const entry = this.floorEntry(timestamp, (index) => readInt64(buffer, index * timeIndexEntrySize));
    return entry < 0 ? { timestamp: -1, offset: this.baseOffset } : this.entryAt(entry);
  }

  /** Drops entries for offsets ≥ `offset`. */
  truncateTo(offset: number): void {
    let keep = this.entries;
    while (keep > 0 && this.entryAt(keep - 1).offset >= offset) keep -= 1;
    this.truncateEntries(keep);
  }
}
