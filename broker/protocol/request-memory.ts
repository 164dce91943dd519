/**
 * The broker-wide budget for request bytes (Kafka's queued.max.request.bytes): every request
 * frame holds its declared size from the moment the broker starts reading it until its response
 * is queued. A connection whose next frame does not fit waits in line and stops reading until
 * memory is released; the line is served first come, first served, so a big frame is never
 * starved by a stream of small ones. The pool never holds more than its capacity, except for a
 * single frame larger than the whole pool, which is let in alone when the pool is empty.
 */
interface Waiter {
  bytes: number;
  granted: () => void;
}

export class RequestMemory {
  readonly capacity: number;
  readonly #waiters = new Set<Waiter>();
  #used = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get used(): number {
    return this.#used;
  }

  /** Connections waiting for memory. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /** Takes `bytes` at once if nobody waits before and they fit. */
  tryTake(bytes: number): boolean {
    if (this.#waiters.size > 0 || !this.#fits(bytes)) return false;
    this.#used += bytes;
    return true;
  }

  /** Queues for `bytes`: `granted` runs once they are taken for the caller. Returns the cancel function. */
  wait(bytes: number, granted: () => void): () => void {
    const waiter = { bytes, granted };
    this.#waiters.add(waiter);
    return () => this.#waiters.delete(waiter);
  }

  release(bytes: number): void {
    this.#used -= bytes;
    for (const waiter of this.#waiters) {
      if (!this.#fits(waiter.bytes)) break;
      this.#waiters.delete(waiter);
      this.#used += waiter.bytes;
      waiter.granted();
    }
  }

  #fits(bytes: number): boolean {
    return this.#used + bytes <= this.capacity || this.#used === 0;
  }
}
