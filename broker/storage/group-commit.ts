/**
 * Flush policy with group commit. Appends land in the page cache at once (a process crash
 * keeps them); this decides when they are also synced to the device (a power loss keeps them):
 *
 * - `flush.messages = N`: a sync starts once N records are unsynced.
 * - `flush.ms = T`: a sync starts at most T ms after the first unsynced append.
 * - both Infinity (the default, as in Kafka): only rolls and clean shutdown sync; durability
 *   against power loss comes from replication.
 *
 * One sync runs at a time and covers everything appended before it started; appends that
 * arrive while it runs are covered by the next one, which starts as soon as it ends. So one
 * msync serves every append that was waiting, however many there were.
 *
 * A failed sync is final ("fsyncgate"): the kernel may already have dropped the dirty pages it
 * could not write and cleared the error, so a later sync that succeeds proves nothing about
 * them. The scheduler then fails every waiter, starts no more syncs, never moves
 * `syncedOffset` again, and tells its owner, which must take the log offline.
 */
import { SluiceError } from '../../proto/errors.js';

export interface SyncJob {
  /** Every offset below this is durable once `done` resolves. */
  offset: number;
  done: Promise<void>;
}

interface Waiter {
  offset: number;
  /** A flush: it waits for the log's end, wherever truncation moves that. */
  flush?: boolean;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class GroupCommit {
  #startSync: () => SyncJob;
  #logEndOffset: () => number;
  #flushMessages: number;
  #flushMs: number;
  #syncedOffset: number;
  #unsyncedMessages = 0;
  #running = false;
  /** Truncation during the running sync: it vouches for no offset at or past this. */
  #runningCap = Infinity;
  #again = false;
  #timer: NodeJS.Timeout | undefined;
  #waiters: Waiter[] = [];
  #closed = false;
  #failure: SluiceError | undefined;
  #onSyncFailed: (error: unknown) => void;

  constructor(options: {
    startSync: () => SyncJob;
    logEndOffset: () => number;
    flushMessages: number;
    flushMs: number;
    syncedOffset: number;
    /** A sync failed; called before the waiters are failed, so the owner can call `fail()` with its own error. */
    onSyncFailed?: (error: unknown) => void;
  }) {
    this.#onSyncFailed = options.onSyncFailed ?? (() => {});
    this.#startSync = options.startSync;
    this.#logEndOffset = options.logEndOffset;
    this.#flushMessages = options.flushMessages;
    this.#flushMs = options.flushMs;
    this.#syncedOffset = options.syncedOffset;
  }

  /** Every offset below this has been synced to the device. */
  get syncedOffset(): number {
    return this.#syncedOffset;
  }

  /** True when the policy syncs on its own (a producer waiting on durability will be served). */
  get syncsOnItsOwn(): boolean {
    return Number.isFinite(this.#flushMessages) || Number.isFinite(this.#flushMs);
  }

  onAppend(records: number): void {
    this.#unsyncedMessages += records;
    if (this.#unsyncedMessages >= this.#flushMessages) {
      this.#request();
    } else if (this.#timer === undefined && Number.isFinite(this.#flushMs)) {
      this.#timer = setTimeout(() => this.#request(), this.#flushMs);
      this.#timer.unref();
    }
  }

  /** Syncs everything appended so far; resolves when it is durable. */
  flush(): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const target = this.#logEndOffset();
    if (target <= this.#syncedOffset) return Promise.resolve();
    const waiting = this.waitFor(target - 1, true);
    this.#request();
    return waiting;
  }

  /** Resolves once `offset` is durable, by whatever sync covers it. */
  waitFor(offset: number, flush = false): Promise<void> {
    if (offset < this.#syncedOffset) return Promise.resolve();
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#closed) return Promise.reject(new SluiceError('SLUICE_ERR_LOG_CLOSED', 'the log closed before the sync'));
    return new Promise((resolve, reject) => this.#waiters.push({ offset, flush, resolve, reject }));
  }

  /**
   * The log was truncated to `offset` (and, when it restarted empty, every record from
   * `droppedFrom` on is gone too): offsets past its new end are no longer durable, and
   * whoever waits for one of them waits for a record that is gone (the follower's log diverged
   * from a new leader's), so it is told so instead of waiting for offsets written again later.
   * A flush only waits for what is left.
   */
  truncatedTo(offset: number, droppedFrom = offset): void {
    this.#syncedOffset = Math.min(this.#syncedOffset, offset);
    // Offsets written again after the cut are not what the running sync is writing out.
    this.#runningCap = Math.min(this.#runningCap, offset);
    for (const waiter of this.#waiters) {
      if (waiter.flush === true && waiter.offset >= droppedFrom) waiter.offset = droppedFrom - 1;
    }
    this.#settle(this.#syncedOffset);
    const gone = this.#waiters.filter((waiter) => waiter.offset >= droppedFrom);
    if (gone.length === 0) return;
    this.#waiters = this.#waiters.filter((waiter) => waiter.offset < droppedFrom);
    const error = new SluiceError('SLUICE_ERR_NOT_LEADER_OR_FOLLOWER',
      `offsets ${droppedFrom} and later were truncated from this replica because its log diverged from a new leader's; those records are not committed here, so send them again to the current leader`);
    for (const waiter of gone) waiter.reject(error);
  }

  /** A sync done outside this scheduler (clean close) covered everything below `offset`. */
  synced(offset: number): void {
    this.#settle(offset);
  }

  /** Stops for good: every waiter, now and later, gets `error`; no sync starts again. */
  fail(error: SluiceError): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const error = new SluiceError('SLUICE_ERR_LOG_CLOSED', 'the log closed before the sync');
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
  }

  #request(): void {
    if (this.#closed || this.#failure !== undefined) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#unsyncedMessages = 0;
    this.#running = true;
    this.#runningCap = Infinity;
    let job: SyncJob;
    try {
      job = this.#startSync();
    } catch (error) {
      this.#running = false;
      this.#syncFailed(error);
      return;
    }
    job.done.then(
      () => this.#settle(Math.min(job.offset, this.#runningCap)),
      (error: unknown) => this.#syncFailed(error),
    ).finally(() => {
      this.#running = false;
      if (this.#again) {
        this.#again = false;
        this.#request();
      }
    });
  }

  #syncFailed(error: unknown): void {
    this.#onSyncFailed(error);
    this.fail(new SluiceError('SLUICE_ERR_STORAGE', 'syncing the log to disk failed; restart the broker to recover it', { cause: error }));
  }

  #settle(offset: number): void {
    if (this.#failure !== undefined) return;
    this.#syncedOffset = Math.max(this.#syncedOffset, offset);
    const remaining: Waiter[] = [];
    for (const waiter of this.#waiters) {
      if (waiter.offset >= offset) remaining.push(waiter);
      else waiter.resolve();
    }
    this.#waiters = remaining;
  }
}
