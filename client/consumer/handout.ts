/**
 * Where a consumer's poll() and async iterator wait for records, and where an error from its
 * background work (fetching, membership) waits to be thrown to the application: once, by the
 * next poll() or iteration. Shared by the classic and the share consumer.
 */
export class Handout {
  #error: unknown;
  readonly #waiters = new Set<() => void>();

  /** An error is waiting to be thrown. */
  get failed(): boolean {
    return this.#error !== undefined;
  }

  /** Keeps the first error for the application and wakes whoever waits. */
  fail(error: unknown): void {
    this.#error ??= error;
    this.wake();
  }

  /** Forgets a waiting error (the application moved on, e.g. with a seek). */
  clearError(): void {
    this.#error = undefined;
  }

  throwPending(): void {
    if (this.#error === undefined) return;
    const error = this.#error;
    this.#error = undefined;
    throw error;
  }

  /** Wakes every poll() and iteration waiting for records. */
  wake(): void {
    for (const waiter of this.#waiters) waiter();
  }

  /** Waits until woken, `deadline`, or `signal`. */
  wait(deadline: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
      this.#waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
