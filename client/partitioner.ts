/**
 * Where a record goes, as the Java client decides it, so keyed records land on the partition
 * Kafka would pick: an explicit partition wins; a key (even an empty one) is hashed with
 * murmur2 and taken modulo the partition count; a null key sticks to one partition until
 * about a batch's worth was sent there, then moves on (KIP-480).
 */

/** Kafka's 32-bit MurmurHash2 (seed 0x9747b28c), as a signed int32. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  const m = 0x5bd1e995;
  let h = (0x9747b28c ^ length) | 0;
  const whole = length & ~3;
  for (let index = 0; index < whole; index += 4) {
    let k = data[index]! | (data[index + 1]! << 8) | (data[index + 2]! << 16) | (data[index + 3]! << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  // The 1 to 3 trailing bytes, highest first, then one more multiply.
  const tail = length & 3;
  if (tail === 3) h ^= data[whole + 2]! << 16;
  if (tail >= 2) h ^= data[whole + 1]! << 8;
  if (tail >= 1) {
    h ^= data[whole]!;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** Kafka's toPositive: masks the sign bit (not Math.abs). */
export function keyPartition(key: Uint8Array, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}

/** The null-key sticky choice, per topic. */
export class StickyPartitioner {
  readonly #current = new Map<string, { partition: number; bytes: number }>();
  readonly #batchBytes: number;

  constructor(batchBytes: number) {
    this.#batchBytes = batchBytes;
  }

  partition(topic: string, partitions: number, recordBytes: number): number {
    let state = this.#current.get(topic);
    if (state === undefined || state.partition >= partitions || state.bytes >= this.#batchBytes) {
      const previous = state?.partition ?? -1;
      let next = Math.floor(Math.random() * partitions);
      if (partitions > 1 && next === previous) next = (next + 1) % partitions;
      state = { partition: next, bytes: 0 };
      this.#current.set(topic, state);
    }
    state.bytes += recordBytes;
    return state.partition;
  }
}
