/**
 * Which sealed segments keep their files mapped: a broker-wide LRU of at most `capacity`
 * segments (Kafka's lazy indexes, Redpanda's segment/fd cache). A sealed segment maps its .log
 * and indexes on first use and joins the cache; when more than `capacity` sealed segments are
 * mapped, the least recently used one drops its mappings. Active segments are never in it:
 * they stay mapped, and appending to them never touches the cache.
 *
 * Dropping a mapping never invalidates a slice of it that a read handed out (a fetch response
 * still being written to a socket): the segment lets go of its own reference only, and the
 * mapping is unmapped by the addon's finalizer once the last Buffer over it is collected (the
 * ownership rule of mmap.ts). Until then it still counts in `mappingStats()`, which stays the
 * truthful count of address-space mappings.
 */

/** What the cache needs of a segment: to drop its mappings when it goes cold. */
export interface CachedSegment {
  /** Drops the mappings; false when the segment cannot go yet (it is passed over this time). */
  unmapCold(): boolean;
}

/** Sealed segments kept mapped when no --segment-cache-size is given. */
export const defaultSegmentCacheSize = 1000;

export interface SegmentCacheStats {
  capacity: number;
  /** Sealed segments mapped now. */
  cached: number;
  /** Uses of a sealed segment that found it mapped. */
  hits: number;
  /** Uses of a sealed segment that had to map it (first read, or read after an eviction). */
  misses: number;
  /** Sealed segments unmapped because they were the least recently used. */
  evictions: number;
}

export class SegmentCache {
  #capacity: number;
  /** Insertion order is recency: the first key is the least recently used. */
  readonly #mapped = new Map<CachedSegment, true>();
  #hits = 0;
  #misses = 0;
  #evictions = 0;

  constructor(capacity = defaultSegmentCacheSize) {
    this.#capacity = checkedCapacity(capacity);
  }

  get capacity(): number {
    return this.#capacity;
  }

  /** Changes the size; segments past it are unmapped now, least recently used first. */
  resize(capacity: number): void {
    this.#capacity = checkedCapacity(capacity);
    this.#evictBeyond(this.#capacity);
  }

  /** A sealed segment that is mapped was used: it becomes the most recently used. */
  hit(segment: CachedSegment): void {
    this.#hits += 1;
    this.admit(segment);
  }

  /** A sealed segment had to be mapped to be used (a miss). */
  mapped(segment: CachedSegment): void {
    this.#misses += 1;
    this.admit(segment);
  }

  /**
   * A segment that holds mappings became sealed (a roll, or opened sealed): it counts from now
   * on as the most recently used, and the coldest beyond the size are unmapped.
   */
  admit(segment: CachedSegment): void {
    this.#mapped.delete(segment);
    this.#mapped.set(segment, true);
    if (this.#mapped.size > this.#capacity) this.#evictBeyond(this.#capacity);
  }

  /** A segment passed over for want of a sync has been synced: it may go now, if the cache is over its size. */
  synced(): void {
    if (this.#mapped.size > this.#capacity) this.#evictBeyond(this.#capacity);
  }

  /** A segment closed, deleted, or became active again: it no longer counts. */
  forget(segment: CachedSegment): void {
    this.#mapped.delete(segment);
  }

  stats(): SegmentCacheStats {
    return { capacity: this.#capacity, cached: this.#mapped.size, hits: this.#hits, misses: this.#misses, evictions: this.#evictions };
  }

  /** Least recently used first; one that cannot go yet keeps its place and counts, so the cache may exceed its size by those. */
  #evictBeyond(capacity: number): void {
    for (const segment of this.#mapped.keys()) {
      if (this.#mapped.size <= capacity) return;
      if (!segment.unmapCold()) continue;
      this.#mapped.delete(segment);
      this.#evictions += 1;
    }
  }
}

function checkedCapacity(capacity: number): number {
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`segment cache size must be a whole number ≥ 1, got ${capacity}`);
  return capacity;
}

/** The broker's one cache: every log's sealed segments share the mapping budget. */
export const segmentCache = new SegmentCache();
