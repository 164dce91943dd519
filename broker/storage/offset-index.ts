/**
 * Sparse offset index, `<base>.index`: 8-byte entries, big-endian,
 *
 *   0  u32  relative offset  (offset − segment base)
 *   4  u32  position         (byte position in the segment's .log)
 *
 * An entry says "the batch that starts at `position` ends at `offset`"; one is written per
 * `index.interval.bytes` of log, never for a segment's first batch, so every real entry has a
 * relative offset and a position above zero and both strictly increase. Looking up an offset
 * gives the nearest indexed batch at or below it; the segment scans batch headers from there.
 */
import { IndexFile } from './index-file.js';

export const offsetIndexEntrySize = 8;

export interface OffsetPosition {
  offset: number;
  position: number;
}

export class OffsetIndex extends IndexFile {
  constructor(path: string, baseOffset: number, maxIndexBytes: number) {
    super(path, baseOffset, maxIndexBytes, offsetIndexEntrySize);
  }

  protected validEntries(count: number): number {
    const buffer = this.file.buffer;
    let lastOffset = 0;
    let lastPosition = 0;
    for (let entry = 0; entry < count; entry += 1) {
      const relativeOffset = buffer.readUInt32BE(entry * offsetIndexEntrySize);
      const position = buffer.readUInt32BE(entry * offsetIndexEntrySize + 4);
      if (relativeOffset <= lastOffset || position <= lastPosition) return entry;
      lastOffset = relativeOffset;
      lastPosition = position;
    }
    return count;
  }

  /** Appends an entry; returns false when the index is full (the segment must roll). */
  append(offset: number, position: number): boolean {
    const slot = this.nextSlot();
    if (slot < 0) return false;
    const buffer = this.file.buffer;
    buffer.writeUInt32BE(offset - this.baseOffset, slot);
    buffer.writeUInt32BE(position, slot + 4);
    return true;
  }

  entryAt(entry: number): OffsetPosition {
    const buffer = this.file.buffer;
    return {
      offset: this.baseOffset + buffer.readUInt32BE(entry * offsetIndexEntrySize),
      position: buffer.readUInt32BE(entry * offsetIndexEntrySize + 4),
    };
  }

  get lastEntry(): OffsetPosition | undefined {
    return this.entries === 0 ? undefined : this.entryAt(this.entries - 1);
  }

  /** The last entry with offset ≤ target, or the segment start when there is none. */
  lookup(offset: number): OffsetPosition {
    const buffer = this.file.buffer;
    const relative = offset - this.baseOffset;
    const entry = this.floorEntry(relative, (index) => buffer.readUInt32BE(index * offsetIndexEntrySize));
    return entry < 0 ? { offset: this.baseOffset, position: 0 } : this.entryAt(entry);
  }

  /** Drops entries for offsets ≥ `offset`. */
  truncateTo(offset: number): void {
    const buffer = this.file.buffer;
    const entry = this.floorEntry(offset - this.baseOffset - 1, (index) => buffer.readUInt32BE(index * offsetIndexEntrySize));
    this.truncateEntries(entry + 1);
  }

  /** Drops entries that point at or past `position` (bytes that recovery cut off). */
  truncateToPosition(position: number): void {
    const buffer = this.file.buffer;
    const entry = this.floorEntry(position - 1, (index) => buffer.readUInt32BE(index * offsetIndexEntrySize + 4));
    this.truncateEntries(entry + 1);
  }
}
