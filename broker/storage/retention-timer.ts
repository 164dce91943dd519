/**
 * Runs retention and compaction over a set of logs on an interval
 * (log.retention.check.interval.ms). One timer serves every partition of a broker; the timer
 * does not keep the process alive.
 */
import type { Log } from './log.js';

export class RetentionTimer {
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly logs: () => Iterable<Log>,
    private readonly intervalMs: number,
    private readonly onError: (error: unknown, log: Log) => void,
  ) {}

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.runOnce(), this.intervalMs);
    this.#timer.unref();
  }

  /** One pass over every log; returns how many segments were deleted. */
  runOnce(): number {
    let deleted = 0;
    for (const log of this.logs()) {
      try {
        deleted += log.applyRetention();
        log.compact();
      } catch (error) {
        this.onError(error, log);
      }
    }
    return deleted;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
