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
 */
import { SluiceError } from '../../proto/errors.js';

export interface SyncJob {
  /** Every offset below this is durable once `done` resolves. */
  offset: number;
  done: Promise<void>;
}

interface Waiter {
  offset: number;
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
  #again = false;
  #timer: NodeJS.Timeout | undefined;
  #waiters: Waiter[] = [];
  #closed = false;

  constructor(options: {
    startSync: () => SyncJob;
    logEndOffset: () => number;
    flushMessages: number;
    flushMs: number;
    syncedOffset: number;
  }) {
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
    const target = this.#logEndOffset();
    if (target <= this.#syncedOffset) return Promise.resolve();
    const waiting = this.waitFor(target - 1);
    this.#request();
    return waiting;
  }

  /** Resolves once `offset` is durable, by whatever sync covers it. */
  waitFor(offset: number): Promise<void> {
    if (offset < this.#syncedOffset) return Promise.resolve();
    if (this.#closed) return Promise.reject(new SluiceError('SLUICE_ERR_LOG_CLOSED', 'the log closed before the sync'));
    return new Promise((resolve, reject) => this.#waiters.push({ offset, resolve, reject }));
  }

  /** The log was truncated: offsets past its new end are no longer durable. */
  truncatedTo(offset: number): void {
    this.#syncedOffset = Math.min(this.#syncedOffset, offset);
  }

  /** A sync done outside this scheduler (clean close) covered everything below `offset`. */
  synced(offset: number): void {
    this.#settle(offset, undefined);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const error = new SluiceError('SLUICE_ERR_LOG_CLOSED', 'the log closed before the sync');
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
  }

  #request(): void {
    if (this.#closed) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#unsyncedMessages = 0;
    this.#running = true;
    let job: SyncJob;
    try {
      job = this.#startSync();
    } catch (error) {
      this.#running = false;
      this.#settle(this.#logEndOffset(), error);
      return;
    }
    job.done.then(
      () => this.#settle(job.offset, undefined),
      (error: unknown) => this.#settle(job.offset, error),
    ).finally(() => {
      this.#running = false;
      if (this.#again) {
        this.#again = false;
        this.#request();
      }
    });
  }

  #settle(offset: number, error: unknown): void {
    if (error === undefined) this.#syncedOffset = Math.max(this.#syncedOffset, offset);
    const remaining: Waiter[] = [];
    for (const waiter of this.#waiters) {
      if (waiter.offset >= offset) remaining.push(waiter);
      else if (error === undefined) waiter.resolve();
      else waiter.reject(new SluiceError('SLUICE_ERR_STORAGE', 'syncing the log to disk failed', { cause: error }));
    }
    this.#waiters = remaining;
  }
}
