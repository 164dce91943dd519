/**
 * Tells parked requests (long polls, waiting joins) that the broker is stopping, so they answer
 * at once. A waiter is held only until it is woken or cancels itself: a request that finishes
 * on its own leaves nothing behind. (A reaction on a promise that settles only at shutdown
 * would keep every finished long poll's closure reachable for the broker's whole life.)
 */
export class StopSignal {
  readonly #waiters = new Set<() => void>();
  #stopped = false;

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Parked requests waiting to be woken; for leak checks. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /** Calls `wake` once when the broker starts stopping (now, if it has); returns the cancel function. */
  onStop(wake: () => void): () => void {
    if (this.#stopped) {
      wake();
      return () => {};
    }
    const waiter = () => wake();
    this.#waiters.add(waiter);
    return () => this.#waiters.delete(waiter);
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }
}
