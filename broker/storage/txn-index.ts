/**
 * A segment's aborted-transaction index (`<base>.txnindex`, KAFKA-FACTS §3): one 34-byte entry
 * per transaction aborted by a marker in that segment, in marker order:
 *
 *   int16 version (0) | int64 producerId | int64 firstOffset | int64 lastOffset | int64 lastStableOffset
 *
 * lastOffset is the ABORT marker's offset; lastStableOffset the LSO once that transaction
 * ended, which lets a read_committed fetch stop looking in later segments (Kafka's
 * collectAbortedTxns). Aborts are rare, so the entries live in memory and each is appended to
 * the file at once; the file is synced with its segment. A torn last entry (a crash mid-write)
 * is dropped when loading: recovery rebuilds the entries of every segment it replays.
 */
import fs from 'node:fs';
import { readInt64, writeInt64 } from '../../proto/record-batch/record-batch.js';
import { storageStep } from './storage-error.js';

export const txnIndexEntryBytes = 34;

export interface AbortedTxn {
  producerId: number;
  firstOffset: number;
  lastOffset: number;
  lastStableOffset: number;
}

export function encodeAbortedTxn(entry: AbortedTxn): Buffer {
  const bytes = Buffer.alloc(txnIndexEntryBytes);
  bytes.writeInt16BE(0, 0);
  writeInt64(bytes, 2, entry.producerId);
  writeInt64(bytes, 10, entry.firstOffset);
  writeInt64(bytes, 18, entry.lastOffset);
  writeInt64(bytes, 26, entry.lastStableOffset);
  return bytes;
}

/** Whole entries of a file's bytes; stops at a torn tail or an entry of an unknown version. */
export function decodeAbortedTxns(bytes: Buffer): AbortedTxn[] {
  const entries: AbortedTxn[] = [];
  for (let position = 0; position + txnIndexEntryBytes <= bytes.length; position += txnIndexEntryBytes) {
    if (bytes.readInt16BE(position) !== 0) break;
    entries.push({
      producerId: readInt64(bytes, position + 2), firstOffset: readInt64(bytes, position + 10),
      lastOffset: readInt64(bytes, position + 18), lastStableOffset: readInt64(bytes, position + 26),
    });
  }
  return entries;
}

export class TxnIndex {
  readonly file: string;
  #entries: AbortedTxn[];
  #dirty = false;

  constructor(file: string) {
    this.file = file;
    let bytes: Buffer | undefined;
    try {
      bytes = fs.readFileSync(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    this.#entries = bytes === undefined ? [] : decodeAbortedTxns(bytes);
    // A torn tail would shift every later entry: cut the file back to whole entries.
    if (bytes !== undefined && bytes.length !== this.#entries.length * txnIndexEntryBytes) this.#rewrite();
  }

  get entries(): readonly AbortedTxn[] {
    return this.#entries;
  }

  append(entry: AbortedTxn): void {
    storageStep(`cannot write ${this.file}`, () => fs.appendFileSync(this.file, encodeAbortedTxn(entry)));
    this.#entries.push(entry);
    this.#dirty = true;
  }

  /** Drops the entries of markers at or past `offset` (truncation, or a replay from there). */
  truncateFrom(offset: number): void {
    const kept = this.#entries.filter((entry) => entry.lastOffset < offset);
    if (kept.length === this.#entries.length) return;
    this.#entries = kept;
    this.#rewrite();
  }

  #rewrite(): void {
    if (this.#entries.length === 0) {
      storageStep(`cannot remove ${this.file}`, () => fs.rmSync(this.file, { force: true }));
      return;
    }
    storageStep(`cannot write ${this.file}`, () => fs.writeFileSync(this.file, Buffer.concat(this.#entries.map(encodeAbortedTxn))));
    this.#dirty = true;
  }

  /**
   * Entries of transactions overlapping [fetchOffset, upperBound): their marker at or past
   * fetchOffset and their first offset below upperBound. `complete`: an entry's LSO reached
   * upperBound, so no later segment can hold a transaction overlapping the range.
   */
  collect(fetchOffset: number, upperBound: number, into: AbortedTxn[]): boolean {
    for (const entry of this.#entries) {
      if (entry.lastOffset >= fetchOffset && entry.firstOffset < upperBound) into.push(entry);
      if (entry.lastStableOffset >= upperBound) return true;
    }
    return false;
  }

  flushSync(): void {
    if (!this.#dirty) return;
    this.#dirty = false;
    if (!fs.existsSync(this.file)) return;
    const fd = fs.openSync(this.file, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Syncs the file if entries were written since the last sync. */
  async flush(): Promise<void> {
    if (!this.#dirty) return;
    this.#dirty = false;
    let handle: fs.promises.FileHandle | undefined;
    try {
      handle = await fs.promises.open(this.file, 'r');
      await handle.sync();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    } finally {
      await handle?.close();
    }
  }
}
