/**
 * The cleaner's key map, after Kafka's SkimpyOffsetMap: a fixed-size open-addressing table from
 * the MD5 of a record key to the highest offset seen for that key. A slot is 24 bytes (16 of
 * hash, 8 of offset) and keys themselves are never stored, so the memory is fixed by
 * `log.cleaner.dedupe.buffer.size` whatever the keys look like. Two keys with the same MD5 would
 * share a slot; for n keys that happens with probability about n²/2¹²⁹, which Kafka accepts too.
 *
 * Probing is Kafka's: the first attempts start at different 4-byte windows of the hash, later
 * ones step linearly. The map counts as full at 90% of its slots (Kafka's
 * log.cleaner.io.buffer.load.factor), so lookups stay short.
 */
import crypto from 'node:crypto';

const hashBytes = 16;
const hashWords = hashBytes / 4;
export const offsetMapSlotBytes = hashBytes + 8;
const loadFactor = 0.9;
const empty = -1;

/** The 16-byte MD5 of a key: what the map stores in place of the key. */
export const keyHash: (key: Buffer) => Buffer = typeof crypto.hash === 'function'
  ? (key) => crypto.hash('md5', key, 'buffer')
  // Node before 20.12 has no one-shot hash (about half as fast).
  : (key) => crypto.createHash('md5').update(key).digest();

export class OffsetMap {
  readonly slots: number;
  /** Distinct keys the map takes before it counts as full. */
  readonly maxEntries: number;
  readonly #hashes: Int32Array;
  readonly #offsets: Float64Array;
  #size = 0;

  constructor(bytes: number) {
    this.slots = Math.floor(bytes / offsetMapSlotBytes);
    if (this.slots < 2) throw new RangeError(`an offset map needs at least ${2 * offsetMapSlotBytes} bytes, got ${bytes}`);
    this.maxEntries = Math.max(1, Math.floor(this.slots * loadFactor));
    this.#hashes = new Int32Array(this.slots * hashWords);
    this.#offsets = new Float64Array(this.slots).fill(empty);
  }

  get size(): number {
    return this.#size;
  }

  clear(): void {
    if (this.#size === 0) return;
    this.#offsets.fill(empty);
    this.#size = 0;
  }

  /**
   * Records `offset` as the latest offset of the key with this hash. Returns false, changing
   * nothing, when the key is new and the map is full.
   */
  put(hash: Buffer, offset: number): boolean {
    const slot = this.#find(hash);
    if (this.#offsets[slot] === empty) {
      if (this.#size >= this.maxEntries) return false;
      for (let word = 0; word < hashWords; word += 1) this.#hashes[slot * hashWords + word] = hash.readInt32BE(word * 4);
      this.#size += 1;
    }
    this.#offsets[slot] = offset;
    return true;
  }

  /** The latest offset recorded for the key with this hash, or -1. */
  get(hash: Buffer): number {
    return this.#offsets[this.#find(hash)]!;
  }

  /** The slot holding this hash, or the empty slot where it would go. */
  #find(hash: Buffer): number {
    const w0 = hash.readInt32BE(0);
    const w1 = hash.readInt32BE(4);
    const w2 = hash.readInt32BE(8);
    const w3 = hash.readInt32BE(12);
    for (let attempt = 0; ; attempt += 1) {
      const window = Math.min(attempt, hashBytes - 4);
      const probe = hash.readInt32BE(window) + Math.max(0, attempt - window);
      const slot = Math.abs(probe) % this.slots;
      if (this.#offsets[slot] === empty) return slot;
      const at = slot * hashWords;
      if (this.#hashes[at] === w0 && this.#hashes[at + 1] === w1 && this.#hashes[at + 2] === w2 && this.#hashes[at + 3] === w3) return slot;
    }
  }
}
