/**
 * acks=all produces waiting for the high watermark to reach their batch (Kafka's produce
 * purgatory, REPLICATION-FACTS.md §D). One queue per partition. Waiters join in offset order
 * (appends are sequential), so completing walks from the oldest and stops at the first one
 * still ahead of the high watermark. Every waiter holds exactly one timer, cleared whichever
 * way it ends, and leaves the queue when it ends: memory is bounded by the requests in flight.
 */
/** null: replicated to the ISR. Otherwise the error the partition's produce answers. */
export type DelayedProduceOutcome =
  | null
  | 'SLUICE_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND'
  | 'SLUICE_ERR_REQUEST_TIMED_OUT'
  | 'SLUICE_ERR_NOT_LEADER_OR_FOLLOWER';

interface Waiter {
  /** The high watermark that covers the batch: its last offset + 1. */
  requiredOffset: number;
  resolve: (outcome: DelayedProduceOutcome) => void;
  timer: NodeJS.Timeout;
}

export class DelayedProduces {
  readonly #waiters = new Set<Waiter>();

  get size(): number {
    return this.#waiters.size;
  }

  /** Waits until the high watermark reaches `lastOffset + 1`, at most `timeoutMs`. */
  wait(lastOffset: number, timeoutMs: number): Promise<DelayedProduceOutcome> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        requiredOffset: lastOffset + 1,
        resolve,
        timer: setTimeout(() => this.#finish(waiter, 'SLUICE_ERR_REQUEST_TIMED_OUT'), Math.max(0, timeoutMs)),
      };
      this.#waiters.add(waiter);
    });
  }

  #finish(waiter: Waiter, outcome: DelayedProduceOutcome): void {
    if (!this.#waiters.delete(waiter)) return;
    clearTimeout(waiter.timer);
    waiter.resolve(outcome);
  }

  /**
   * The high watermark moved: completes every waiter it covers, NONE when the maximal ISR still
   * has min.insync.replicas members, NOT_ENOUGH_REPLICAS_AFTER_APPEND otherwise.
   */
  highWatermarkMoved(highWatermark: number, enoughReplicas: boolean): void {
    for (const waiter of this.#waiters) {
      if (waiter.requiredOffset > highWatermark) break;
      this.#finish(waiter, enoughReplicas ? null : 'SLUICE_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND');
    }
  }

  /** Leadership lost (or the partition went away): every waiter answers NOT_LEADER_OR_FOLLOWER. */
  failAll(outcome: Exclude<DelayedProduceOutcome, null> = 'SLUICE_ERR_NOT_LEADER_OR_FOLLOWER'): void {
    for (const waiter of [...this.#waiters]) this.#finish(waiter, outcome);
  }
}
