/**
 * The coordinator's clock: every `transaction.abort.timed.out.transaction.cleanup.interval.ms`
 * it aborts open transactions older than their timeout, and forgets transactional ids idle for
 * `transactional.id.expiration.ms` (checked at the same pace; Kafka checks hourly by default,
 * which only delays forgetting).
 */
import type { TransactionCoordinator } from './coordinator.js';

export const txnCleanupIntervalMsDefault = 10_000;
/** transactional.id.expiration.ms: 7 days, Kafka's. */
export const txnIdExpirationMsDefault = 7 * 24 * 60 * 60 * 1000;

export class TxnTimeouts {
  readonly #coordinator: TransactionCoordinator;
  readonly #intervalMs: number;
  readonly #expirationMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(coordinator: TransactionCoordinator, options: { intervalMs: number; expirationMs: number }) {
    this.#coordinator = coordinator;
    this.#intervalMs = options.intervalMs;
    this.#expirationMs = options.expirationMs;
  }

  start(): void {
    this.#timer = setInterval(() => void this.check(), this.#intervalMs);
    this.#timer.unref();
  }

  /** One pass; a pass still running (markers slow to land) is not overlapped. */
  async check(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      await this.#coordinator.abortTimedOut();
      await this.#coordinator.expireIds(this.#expirationMs);
    } finally {
      this.#running = false;
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
