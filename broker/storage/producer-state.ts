/**
 * The producer state of one partition (Kafka's ProducerStateManager and ProducerAppendInfo,
 * KAFKA-FACTS §6): per producer id its epoch, the last 5 batches it appended (sequence range,
 * offsets, time), the coordinator epoch of its last marker, and the first offset of its open
 * transaction. With it a leader refuses a batch out of sequence or from a stale epoch and
 * answers a resent batch with the offsets it got the first time, without appending it again.
 *
 * Every append updates it the same way (leader, follower, recovery replay: `apply`), from batch
 * headers alone; only client appends are checked first (`check`). Batches without a producer
 * id (-1) never reach it. The state is written to `<offset>.snapshot` files (its own binary
 * format with a CRC-32C) at segment rolls and clean close, so opening a log replays only the
 * batches after the newest usable snapshot.
 */
import fs from 'node:fs';
import path from 'node:path';
import { crc32c } from '@node-rs/crc32';
import { SluiceError } from '../../proto/errors.js';
import {
  ATTRIBUTE_CONTROL_MASK, ATTRIBUTE_TRANSACTIONAL_MASK, ATTRIBUTES_OFFSET, BASE_SEQUENCE_OFFSET, LAST_OFFSET_DELTA_OFFSET,
  MAX_TIMESTAMP_OFFSET, PRODUCER_EPOCH_OFFSET, PRODUCER_ID_OFFSET,
} from '../../proto/record-batch/layout.js';
import { readControlRecord } from '../../proto/record-batch/control-batch.js';
import { readInt64, writeInt64 } from '../../proto/record-batch/record-batch.js';
import { storageStep } from './storage-error.js';

/** Batches remembered per producer: as many as an idempotent producer may have in flight. */
export const batchesPerProducer = 5;
const sequenceMax = 0x7fffffff;

export interface BatchMetadata {
  firstSeq: number;
  lastSeq: number;
  firstOffset: number;
  lastOffset: number;
  timestamp: number;
}

export interface ProducerEntry {
  producerId: number;
  epoch: number;
  /** Oldest first, at most `batchesPerProducer`. */
  batches: BatchMetadata[];
  /** Of the last marker written for it; -1 before any. */
  coordinatorEpoch: number;
  /** First offset of its open transaction; -1 when none is open. */
  txnFirstOffset: number;
  /**
   * When it last wrote here: the later of its newest batch's maxTimestamp and the broker's clock
   * when that batch was taken in. Expiry measures from it; the clock keeps a producer that
   * writes old timestamps (a backfill) from expiring at once.
   */
  lastTimestamp: number;
}

/** A transaction a marker ended, as the log needs it for the .txnindex and the LSO. */
export interface CompletedTxn {
  producerId: number;
  firstOffset: number;
  /** The marker's offset. */
  lastOffset: number;
  committed: boolean;
  /** The LSO once this transaction ended: the oldest other open one's first offset, else lastOffset + 1. */
  lastStableOffset: number;
}

/** A batch's producer fields, read from its header alone. */
export interface ProducerBatch {
  producerId: number;
  epoch: number;
  firstSeq: number;
  lastSeq: number;
  firstOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  transactional: boolean;
  control: boolean;
}

/** Whether the batch at `position` carries a producer id (the plain producer's -1 does not). */
export function hasProducerId(buffer: Buffer, position: number): boolean {
  return buffer.readInt32BE(position + PRODUCER_ID_OFFSET) >= 0;
}

/** The sequence of the record `delta` after `sequence`, wrapping after 2^31-1 to 0 as Kafka does. */
export function addSequence(sequence: number, delta: number): number {
  return sequence > sequenceMax - delta ? delta - (sequenceMax - sequence) - 1 : sequence + delta;
}

export function readProducerBatch(buffer: Buffer, position: number, baseOffset: number): ProducerBatch {
  const attributes = buffer.readInt16BE(position + ATTRIBUTES_OFFSET);
  const lastOffsetDelta = buffer.readInt32BE(position + LAST_OFFSET_DELTA_OFFSET);
  const firstSeq = buffer.readInt32BE(position + BASE_SEQUENCE_OFFSET);
  return {
    producerId: readInt64(buffer, position + PRODUCER_ID_OFFSET),
    epoch: buffer.readInt16BE(position + PRODUCER_EPOCH_OFFSET),
    firstSeq,
    lastSeq: firstSeq < 0 ? firstSeq : addSequence(firstSeq, lastOffsetDelta),
    firstOffset: baseOffset,
    lastOffset: baseOffset + lastOffsetDelta,
    maxTimestamp: readInt64(buffer, position + MAX_TIMESTAMP_OFFSET),
    transactional: (attributes & ATTRIBUTE_TRANSACTIONAL_MASK) !== 0,
    control: (attributes & ATTRIBUTE_CONTROL_MASK) !== 0,
  };
}

const snapshotPattern = /^(\d{20})\.snapshot$/;
export const snapshotSuffix = '.snapshot';
const snapshotMagic = 0x534c5053; // "SLPS"
const snapshotVersion = 1;
/** Snapshots kept besides those the log start or a truncation makes useless (Kafka keeps a few too). */
const snapshotsKept = 3;

export function snapshotFileName(offset: number): string {
  return `${String(offset).padStart(20, '0')}${snapshotSuffix}`;
}

export class ProducerStateManager {
  readonly directory: string;
  readonly #producers = new Map<number, ProducerEntry>();
  /**
   * Open transactions, first offset → producer id. Transactions open in log order, so the Map's
   * insertion order is ascending and its first key is the oldest: the LSO bound.
   */
  #ongoing = new Map<number, number>();

  /** At most this many producer ids are kept; past it the least recently active idle one goes. */
  readonly #maxProducers: number;
  /** Producer ids forgotten to stay within #maxProducers (the sluice_producer_ids_evicted_total counter). */
  evicted = 0;

  constructor(directory: string, maxProducers = Number.POSITIVE_INFINITY) {
    this.directory = directory;
    this.#maxProducers = maxProducers;
  }

  get size(): number {
    return this.#producers.size;
  }

  get(producerId: number): ProducerEntry | undefined {
    return this.#producers.get(producerId);
  }

  entries(): IterableIterator<ProducerEntry> {
    return this.#producers.values();
  }

  /** First offset of the oldest open transaction; undefined when none is open. */
  get firstUnstableOffset(): number | undefined {
    // Every fetch asks: no iterator when nothing is open, the common case.
    if (this.#ongoing.size === 0) return undefined;
    for (const first of this.#ongoing.keys()) return first;
    return undefined;
  }

  /**
   * A client's batch, before it is appended (Kafka's ProducerAppendInfo checks). Returns the
   * original batch when this one was appended already (same epoch and sequence range as one of
   * the last 5): the caller answers its offsets and appends nothing. Throws the error to answer
   * otherwise; returns undefined when the batch may be appended.
   */
  check(batch: ProducerBatch): BatchMetadata | undefined {
    const entry = this.#producers.get(batch.producerId);
    // No state (new, expired, or removed with old segments): any sequence is accepted (Kafka 2.5+).
    if (entry === undefined) return undefined;
    if (batch.epoch < entry.epoch) {
      throw new SluiceError('SLUICE_ERR_INVALID_PRODUCER_EPOCH',
        `producer ${batch.producerId} sent epoch ${batch.epoch}, older than its current epoch ${entry.epoch}`);
    }
    if (batch.epoch === entry.epoch) {
      for (const cached of entry.batches) {
        if (cached.firstSeq === batch.firstSeq && cached.lastSeq === batch.lastSeq) return cached;
      }
      const last = entry.batches.at(-1);
      const expected = last === undefined ? 0 : addSequence(last.lastSeq, 1);
      if (batch.firstSeq !== expected) {
        throw new SluiceError('SLUICE_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER',
          `producer ${batch.producerId} epoch ${batch.epoch}: expected sequence ${expected}, got ${batch.firstSeq}`);
      }
    } else if (batch.firstSeq !== 0) {
      throw new SluiceError('SLUICE_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER',
        `producer ${batch.producerId} starts epoch ${batch.epoch} at sequence ${batch.firstSeq}; a new epoch starts at 0`);
    }
    if (entry.txnFirstOffset >= 0 && !batch.transactional) {
      throw new SluiceError('SLUICE_ERR_INVALID_TXN_STATE',
        `producer ${batch.producerId} sent a non-transactional batch while its transaction from offset ${entry.txnFirstOffset} is open`);
    }
    return undefined;
  }

  /** A marker the coordinator asks for: refused from an older producer or coordinator epoch. */
  checkMarker(producerId: number, epoch: number, coordinatorEpoch: number): void {
    const entry = this.#producers.get(producerId);
    if (entry === undefined) return;
    if (epoch < entry.epoch) {
      throw new SluiceError('SLUICE_ERR_INVALID_PRODUCER_EPOCH', `marker for producer ${producerId} carries epoch ${epoch}, older than ${entry.epoch}`);
    }
    if (coordinatorEpoch < entry.coordinatorEpoch) {
      throw new SluiceError('SLUICE_ERR_TRANSACTION_COORDINATOR_FENCED',
        `marker for producer ${producerId} comes from coordinator epoch ${coordinatorEpoch}, older than ${entry.coordinatorEpoch}`);
    }
  }

  /**
   * Takes in an appended batch (any origin, unchecked). For a commit or abort marker, returns
   * the transaction it ended.
   */
  apply(batch: ProducerBatch, buffer: Buffer, position: number, nowMs: number): CompletedTxn | undefined {
    let entry = this.#producers.get(batch.producerId);
    if (entry === undefined) {
      if (this.#producers.size >= this.#maxProducers) this.#evictIdle();
      entry = { producerId: batch.producerId, epoch: batch.epoch, batches: [], coordinatorEpoch: -1, txnFirstOffset: -1, lastTimestamp: nowMs };
    } else {
      // The Map's order is the order of last activity: the first entries are the ones to evict.
      this.#producers.delete(batch.producerId);
    }
    this.#producers.set(batch.producerId, entry);
    if (batch.epoch > entry.epoch) {
      // A new epoch forgets the old one's batches (Kafka's maybeUpdateProducerEpoch).
      entry.epoch = batch.epoch;
      entry.batches = [];
    }
    entry.lastTimestamp = Math.max(entry.lastTimestamp, batch.maxTimestamp, nowMs);
    if (batch.control) return this.#applyMarker(entry, batch, buffer, position);
    entry.batches.push({ firstSeq: batch.firstSeq, lastSeq: batch.lastSeq, firstOffset: batch.firstOffset, lastOffset: batch.lastOffset, timestamp: batch.maxTimestamp });
    if (entry.batches.length > batchesPerProducer) entry.batches.shift();
    if (batch.transactional && entry.txnFirstOffset < 0) {
      entry.txnFirstOffset = batch.firstOffset;
      this.#ongoing.set(batch.firstOffset, batch.producerId);
    }
    return undefined;
  }

  #applyMarker(entry: ProducerEntry, batch: ProducerBatch, buffer: Buffer, position: number): CompletedTxn | undefined {
    const marker = readControlRecord(buffer, position);
    if (marker.type !== 0 && marker.type !== 1) return undefined;
    entry.coordinatorEpoch = marker.coordinatorEpoch;
    const first = entry.txnFirstOffset;
    // A marker for a partition the producer never wrote to in this transaction ends nothing here.
    if (first < 0) return undefined;
    entry.txnFirstOffset = -1;
    this.#ongoing.delete(first);
    return {
      producerId: entry.producerId, firstOffset: first, lastOffset: batch.firstOffset, committed: marker.committed,
      lastStableOffset: this.firstUnstableOffset ?? batch.firstOffset + 1,
    };
  }

  /**
   * Forgets the least recently active producer with no open transaction, so a client writing
   * under ever new producer ids cannot grow the broker's memory without bound (Redpanda's
   * max_concurrent_producer_ids does the same). Should that producer write again, its batch is
   * taken as a new producer's: a resend of one of its last batches is then stored twice.
   */
  #evictIdle(): void {
    for (const [producerId, entry] of this.#producers) {
      if (entry.txnFirstOffset >= 0) continue;
      this.#producers.delete(producerId);
      this.evicted += 1;
      return;
    }
  }

  /** Producers with no open transaction and nothing written for `expirationMs` are forgotten. */
  expire(nowMs: number, expirationMs: number): number {
    let removed = 0;
    for (const [producerId, entry] of this.#producers) {
      if (entry.txnFirstOffset < 0 && nowMs - entry.lastTimestamp >= expirationMs) {
        this.#producers.delete(producerId);
        removed += 1;
      }
    }
    return removed;
  }

  /**
   * The log start moved to `offset` (retention, DeleteRecords): producers whose last batch lies
   * below it go (Kafka does the same), with snapshots below it.
   */
  logStartMoved(offset: number): void {
    for (const [producerId, entry] of this.#producers) {
      const last = entry.batches.at(-1);
      if (last !== undefined && last.lastOffset >= offset) continue;
      if (entry.txnFirstOffset >= 0) {
        if (entry.txnFirstOffset >= offset) continue;
        this.#ongoing.delete(entry.txnFirstOffset);
      }
      this.#producers.delete(producerId);
    }
    for (const snapshot of this.snapshotOffsets()) if (snapshot < offset) this.#removeSnapshot(snapshot);
  }

  clear(): void {
    this.#producers.clear();
    this.#ongoing.clear();
  }

  // Snapshots ---------------------------------------------------------------------------------

  /** Offsets of the snapshot files in the directory, ascending. */
  snapshotOffsets(): number[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.directory);
    } catch {
      return [];
    }
    return names.flatMap((name) => {
      const match = snapshotPattern.exec(name);
      return match === null ? [] : [Number(match[1])];
    }).sort((a, b) => a - b);
  }

  /**
   * Writes the state as `<offset>.snapshot` (the state of every batch below `offset`) and keeps
   * the newest few. Written to a temporary name then renamed; not synced: a snapshot torn by a
   * crash fails its CRC and the previous one (or the log start) is used instead.
   */
  writeSnapshot(offset: number): void {
    const file = path.join(this.directory, snapshotFileName(offset));
    const bytes = encodeSnapshot([...this.#producers.values()]);
    storageStep(`cannot write ${file}`, () => {
      fs.writeFileSync(`${file}.tmp`, bytes);
      fs.renameSync(`${file}.tmp`, file);
    });
    const offsets = this.snapshotOffsets();
    for (const old of offsets.slice(0, Math.max(0, offsets.length - snapshotsKept))) this.#removeSnapshot(old);
  }

  /** Removes the snapshots past `offset` (a truncation below them made them wrong). */
  removeSnapshotsAbove(offset: number): void {
    for (const snapshot of this.snapshotOffsets()) if (snapshot > offset) this.#removeSnapshot(snapshot);
  }

  #removeSnapshot(offset: number): void {
    const file = path.join(this.directory, snapshotFileName(offset));
    storageStep(`cannot remove ${file}`, () => fs.rmSync(file, { force: true }));
  }

  /**
   * Replaces the state with the newest readable snapshot in [minOffset, maxOffset] and returns
   * its offset; undefined (and an empty state) when there is none. Unreadable ones are removed.
   */
  loadSnapshot(minOffset: number, maxOffset: number): number | undefined {
    this.clear();
    for (const offset of this.snapshotOffsets().reverse()) {
      if (offset > maxOffset || offset < minOffset) continue;
      const file = path.join(this.directory, snapshotFileName(offset));
      const entries = decodeSnapshot(fs.readFileSync(file));
      if (entries === undefined) {
        this.#removeSnapshot(offset);
        continue;
      }
      for (const entry of entries.sort((a, b) => a.txnFirstOffset - b.txnFirstOffset)) {
        this.#producers.set(entry.producerId, entry);
        if (entry.txnFirstOffset >= 0) this.#ongoing.set(entry.txnFirstOffset, entry.producerId);
      }
      return offset;
    }
    return undefined;
  }
}

// Snapshot format, big-endian:
//   int32 magic "SLPS" | int16 version | int32 CRC-32C of everything after it | int32 count |
//   count × { int64 producerId | int16 epoch | int32 coordinatorEpoch | int64 txnFirstOffset |
//             int64 lastTimestamp | int8 batches | batches × { int32 firstSeq | int32 lastSeq |
//             int64 firstOffset | int64 lastOffset | int64 timestamp } }
const headerBytes = 14;
const entryBytes = 31;
const batchBytes = 32;

export function encodeSnapshot(entries: ProducerEntry[]): Buffer {
  let size = headerBytes;
  for (const entry of entries) size += entryBytes + entry.batches.length * batchBytes;
  const bytes = Buffer.alloc(size);
  bytes.writeInt32BE(snapshotMagic, 0);
  bytes.writeInt16BE(snapshotVersion, 4);
  bytes.writeInt32BE(entries.length, 10);
  let position = headerBytes;
  for (const entry of entries) {
    writeInt64(bytes, position, entry.producerId);
    bytes.writeInt16BE(entry.epoch, position + 8);
    bytes.writeInt32BE(entry.coordinatorEpoch, position + 10);
    writeInt64(bytes, position + 14, entry.txnFirstOffset);
    writeInt64(bytes, position + 22, entry.lastTimestamp);
    bytes.writeInt8(entry.batches.length, position + 30);
    position += entryBytes;
    for (const batch of entry.batches) {
      bytes.writeInt32BE(batch.firstSeq, position);
      bytes.writeInt32BE(batch.lastSeq, position + 4);
      writeInt64(bytes, position + 8, batch.firstOffset);
      writeInt64(bytes, position + 16, batch.lastOffset);
      writeInt64(bytes, position + 24, batch.timestamp);
      position += batchBytes;
    }
  }
  bytes.writeUInt32BE(crc32c(bytes.subarray(10)), 6);
  return bytes;
}

/** The entries, or undefined for bytes that are not a whole snapshot of this version with a good CRC. */
export function decodeSnapshot(bytes: Buffer): ProducerEntry[] | undefined {
  if (bytes.length < headerBytes || bytes.readInt32BE(0) !== snapshotMagic || bytes.readInt16BE(4) !== snapshotVersion) return undefined;
  if (crc32c(bytes.subarray(10)) !== bytes.readUInt32BE(6)) return undefined;
  const count = bytes.readInt32BE(10);
  const entries: ProducerEntry[] = [];
  let position = headerBytes;
  try {
    for (let index = 0; index < count; index += 1) {
      const batchCount = bytes.readInt8(position + 30);
      const entry: ProducerEntry = {
        producerId: readInt64(bytes, position), epoch: bytes.readInt16BE(position + 8), coordinatorEpoch: bytes.readInt32BE(position + 10),
        txnFirstOffset: readInt64(bytes, position + 14), lastTimestamp: readInt64(bytes, position + 22), batches: [],
      };
      position += entryBytes;
      for (let batch = 0; batch < batchCount; batch += 1) {
        entry.batches.push({
          firstSeq: bytes.readInt32BE(position), lastSeq: bytes.readInt32BE(position + 4), firstOffset: readInt64(bytes, position + 8),
          lastOffset: readInt64(bytes, position + 16), timestamp: readInt64(bytes, position + 24),
        });
        position += batchBytes;
      }
      entries.push(entry);
    }
  } catch {
    return undefined;
  }
  return position === bytes.length ? entries : undefined;
}
