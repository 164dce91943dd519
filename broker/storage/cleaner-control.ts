/**
 * How the broker thread stops a cleaning pass that runs on the cleaner's worker: a flag in
 * shared memory the worker checks between batches, and a lock around every file the worker
 * creates in a partition directory. Because the broker thread takes the same lock to set the
 * flag, once `cancel()` returns the worker creates no more files there: deleting the partition
 * directory right after cannot race with a new `.cleaned` file appearing in it.
 */
const lockIndex = 0;
const cancelledIndex = 1;

export class CleanerControl {
  readonly buffer: SharedArrayBuffer;
  readonly #words: Int32Array;

  constructor(buffer = new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT)) {
    this.buffer = buffer;
    this.#words = new Int32Array(buffer);
  }

  get cancelled(): boolean {
    return Atomics.load(this.#words, cancelledIndex) !== 0;
  }

  cancel(): void {
    this.#withLock(() => Atomics.store(this.#words, cancelledIndex, 1));
  }

  /** Runs `create` unless the pass was cancelled; returns undefined when it was. */
  createUnlessCancelled<T>(create: () => T): T | undefined {
    return this.#withLock(() => (this.cancelled ? undefined : create()));
  }

  /** The lock is only ever held around one file creation (microseconds), so waiting is brief. */
  #withLock<T>(work: () => T): T {
    while (Atomics.compareExchange(this.#words, lockIndex, 0, 1) !== 0) Atomics.wait(this.#words, lockIndex, 1, 1);
    try {
      return work();
    } finally {
      Atomics.store(this.#words, lockIndex, 0);
      Atomics.notify(this.#words, lockIndex);
    }
  }
}
