/**
 * Runs retention and compaction over a set of logs on an interval
 * (log.retention.check.interval.ms). One timer serves every partition of a broker; the timer
 * does not keep the process alive.
 *
 * Retention is quick and runs on each tick. Compaction passes run one after another on the
 * broker's one log cleaner (log-cleaner.ts), off the request path; a tick that finds a round of
 * compaction still running does not start another.
 */
import { SluiceError } from '../../proto/errors.js';
import type { Log } from './log.js';
import { LogCleaner } from './log-cleaner.js';

export class RetentionTimer {
  #timer: NodeJS.Timeout | undefined;
  #compacting: Promise<void> | undefined;
  #stops = 0;
  readonly #cleaner: LogCleaner;

  constructor(
    private readonly logs: () => Iterable<Log>,
    private readonly intervalMs: number,
    private readonly onError: (error: unknown, log: Log) => void,
    cleaner = new LogCleaner(),
  ) {
    this.#cleaner = cleaner;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.runOnce(), this.intervalMs);
    this.#timer.unref();
  }

  /**
   * Retention over every log, then a round of compaction in the background unless one is
   * running. Returns how many segments retention deleted.
   */
  runOnce(): number {
    let deleted = 0;
    for (const log of this.logs()) {
      try {
        deleted += log.applyRetention();
        // producer.id.expiration.ms, checked as often as retention.
        log.expireProducers();
      } catch (error) {
        this.#report(error, log);
      }
    }
    this.#compacting ??= this.#compactAll().finally(() => {
      this.#compacting = undefined;
    });
    return deleted;
  }

  /** The round of compaction in progress, if any. */
  get compacting(): Promise<void> | undefined {
    return this.#compacting;
  }

  async #compactAll(): Promise<void> {
    const stops = this.#stops;
    for (const log of [...this.logs()]) {
      if (stops !== this.#stops) return;
      try {
        await log.compact(this.#cleaner);
      } catch (error) {
        this.#report(error, log);
      }
    }
  }

  /** A log closed or deleted meanwhile is not an error: it is simply no longer there. */
  #report(error: unknown, log: Log): void {
    if (SluiceError.is(error) && error.code === 'SLUICE_ERR_LOG_CLOSED') return;
    this.onError(error, log);
  }

  /** Stops the timer and the cleaner; a compaction pass in progress is cancelled. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#stops += 1;
    void this.#cleaner.close();
  }
}
